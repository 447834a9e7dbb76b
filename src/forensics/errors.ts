/** The forensics commands' errors, written once. */
import { HotdumpError } from "../errors.js";

export const noStoredCore = (id: string, reason?: string) =>
  new HotdumpError("usage", "E_NO_CORE", `capture ${id} has no core: ${reason ?? "none was captured"}`);

export const noStoredBinary = (id: string) =>
  new HotdumpError(
    "store",
    "E_NO_BINARY",
    `capture ${id} has no stored binary (it was not an ELF program, or was evicted): eval, mem and region names need it`,
  );

export const buildIdMismatch = (id: string, reason?: string) =>
  new HotdumpError(
    "usage",
    "E_BUILD_ID_MISMATCH",
    `the core of ${id} does not match its binary (${reason ?? "build IDs differ"}); --force to use it anyway`,
  );

export const badPattern = (why: string) =>
  new HotdumpError("usage", "E_BAD_PATTERN", `bad scan pattern: ${why}`);

export const badAddress = (text: string) =>
  new HotdumpError(
    "usage",
    "E_BAD_ADDRESS",
    `not an address: ${JSON.stringify(text)} (use hex like 0xc000012000)`,
  );

export const snapshotTargetUnknown = (what: string) =>
  new HotdumpError("usage", "E_SNAPSHOT_TARGET", `no running service to snapshot: ${what}`);

export const snapshotFailed = (pid: number, why: string, details?: string, cause?: unknown) =>
  new HotdumpError(
    "capture",
    "E_SNAPSHOT_FAILED",
    `could not snapshot pid ${pid}: ${why} (is ptrace allowed? see /proc/sys/kernel/yama/ptrace_scope)`,
    { ...(details ? { details } : {}), ...(cause ? { cause } : {}) },
  );

export const evalFailed = (expr: string, why: string, cause?: unknown) =>
  new HotdumpError("analyze", "E_EVAL", `could not evaluate ${JSON.stringify(expr)}: ${why}`, {
    ...(cause ? { cause } : {}),
  });

export const memUnreadable = (addr: bigint, why: string, cause?: unknown) =>
  new HotdumpError(
    "analyze",
    "E_MEM_UNREADABLE",
    `memory at 0x${addr.toString(16)} is not in the core: ${why}`,
    {
      ...(cause ? { cause } : {}),
    },
  );

export const snapshotNotGo = (pid: number, exe: string) =>
  new HotdumpError(
    "usage",
    "E_SNAPSHOT_NOT_GO",
    `pid ${pid} runs ${exe}, not a Go program (no Go build info): give the Go service's own pid (hotdump snapshot --generation N finds it)`,
  );
