/** The Delve client's failures, written once: each with a stable code and the remedy. */
import { HotdumpError } from "../../errors.js";
import { DELVE_INSTALL_COMMAND } from "./install.js";

export const DLV_INSTALL_REMEDY = `install it with \`hotdump doctor --fix\` (runs \`${DELVE_INSTALL_COMMAND}\`)`;

export const dlvNotFound = (dlvPath: string, cause?: unknown) =>
  new HotdumpError("analyze", "E_DLV_NOT_FOUND", `Delve (${dlvPath}) was not found: ${DLV_INSTALL_REMEDY}`, {
    cause,
  });

/** Delve started but could not open the core with this binary; `reason` is Delve's own words. */
export const dlvOpenFailed = (
  binary: string,
  core: string,
  reason: string,
  stderrTail: string,
  cause?: unknown,
) =>
  new HotdumpError(
    "analyze",
    "E_DLV_OPEN_CORE",
    `Delve could not open core ${core} with binary ${binary}: ${reason} (is this the binary that produced the core?)`,
    { cause, details: stderrTail },
  );

/** Delve started but could not attach to a live process (ptrace refused, not Go, gone). */
export const dlvAttachFailed = (pid: number, reason: string, stderrTail: string, cause?: unknown) =>
  new HotdumpError("analyze", "E_DLV_ATTACH", `Delve could not attach to pid ${pid}: ${reason}`, {
    cause,
    details: stderrTail,
  });

/** Delve answered a call with an error string. */
export const dlvRpcError = (method: string, message: string, site: Error) =>
  new HotdumpError("analyze", "E_DLV_RPC", `Delve ${method} failed: ${message}`, { cause: site });

export const dlvTimeout = (what: string, ms: number, site: Error, stderrTail = "") =>
  new HotdumpError(
    "analyze",
    "E_DLV_TIMEOUT",
    `Delve did not answer ${what} within ${ms} ms (a huge core or a stuck dlv; retry with a longer timeout)`,
    { cause: site, ...(stderrTail ? { details: stderrTail } : {}) },
  );

/** The connection or the dlv process ended while calls were pending. */
export const dlvClosed = (method: string, why: string, site: Error, stderrTail = "") =>
  new HotdumpError("analyze", "E_DLV_CLOSED", `Delve connection ended during ${method}: ${why}`, {
    cause: site,
    ...(stderrTail ? { details: stderrTail } : {}),
  });

/** A reply that is not JSON-RPC: a Delve bug or something else listening on the port. */
export const dlvProtocolError = (message: string, line: string) =>
  new HotdumpError("analyze", "E_DLV_PROTOCOL", `Delve sent a reply hotdump cannot read: ${message}`, {
    details: line.slice(0, 2000),
  });

/**
 * Delve opened the pair but found no goroutines: it does not check that the binary produced the
 * core (a different build of the same program opens "fine" and yields an empty goroutine list),
 * so this is the sign of a mismatched binary.
 */
export const dlvBinaryMismatch = (binary: string, core: string, delveSays: string) =>
  new HotdumpError(
    "analyze",
    "E_DLV_BINARY_MISMATCH",
    `Delve found no goroutines in core ${core} with binary ${binary} (${delveSays}): use the exact binary that crashed (hotdump keeps it in the bundle)`,
  );

/** The binary has no DWARF (built with -ldflags=-s -w, or not a Go binary): Delve can walk nothing. */
export const dlvNoDebugInfo = (binary: string) =>
  new HotdumpError(
    "analyze",
    "E_DLV_NO_DEBUG_INFO",
    `binary ${binary} has no debug info, so Delve cannot read goroutines or values: build without -ldflags="-s -w" (go run always links that way: use go build or hotdump dev; the traceback and gdb still apply)`,
  );
