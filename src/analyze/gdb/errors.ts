/** Typed errors of the gdb fallback: written once here so every caller shows the same remedy. */
import { HotdumpError } from "../../errors.js";

export const gdbNotFound = (gdbPath: string, cause?: unknown) =>
  new HotdumpError(
    "analyze",
    "E_GDB_NOT_FOUND",
    `gdb not found (${gdbPath}): install it (apt-get install gdb) or pass its path`,
    { cause },
  );

export const gdbFailed = (exit: string, stderrTail: string) =>
  new HotdumpError("analyze", "E_GDB_FAILED", `gdb could not read the core (${exit}); see --verbose`, {
    details: stderrTail,
  });

export const gdbTimeout = (timeoutMs: number, stderrTail: string) =>
  new HotdumpError(
    "analyze",
    "E_GDB_TIMEOUT",
    `gdb did not finish within ${timeoutMs} ms; raise the timeout or use Delve`,
    { details: stderrTail },
  );
