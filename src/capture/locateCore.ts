/**
 * The one call the bundle maker (capture.ts) needs: find the core of a child that just died,
 * from the few facts it keeps, as a small value.
 */
import { hostname } from "node:os";
import type { CoreLimit } from "./coreLimit.js";
import { type CorePathFacts, commFromExecPath } from "./coreLocation.js";
import { type FindCoreResult, findCore } from "./findCore.js";
import { factsFromSnapshot, type ProcessSnapshot } from "./processFacts.js";

export interface CoreSearch {
  found: boolean;
  path?: string;
  /** hotdump may delete `path` once stored: a file the kernel wrote or our own copy from coredumpctl. */
  removable: boolean;
  /** Already compressed (hotdump's core handler stores zstd): moved into the bundle as it is. */
  compressed?: "zstd";
  reason?: string;
  code?: string;
  /** Bytes, and whether the size reached RLIMIT_CORE (the ELF reader gives the final word). */
  size?: number;
  possiblyTruncated?: boolean;
  result?: FindCoreResult;
}

export interface LocateInput {
  pid: number;
  cwd: string;
  /** Path the program was started from (its comm is derived from it). */
  exe: string;
  signal: NodeJS.Signals;
  startedAt: Date;
  endedAt: Date;
  /** Taken with snapshotAfterExec() while the child ran: exact comm, uid, NSpid, RLIMIT_CORE. */
  snapshot?: ProcessSnapshot;
  /** When no snapshot: the RLIMIT_CORE the child was started with, if known. */
  coreLimit?: CoreLimit;
  waitMs?: number;
}

export async function locateCore(i: LocateInput): Promise<CoreSearch> {
  const window = { startedAt: i.startedAt.getTime(), endedAt: i.endedAt.getTime() };
  const limit = i.coreLimit?.soft;
  const facts: CorePathFacts = i.snapshot
    ? factsFromSnapshot(i.snapshot, window)
    : {
        pid: i.pid,
        uid: process.getuid?.() ?? 0,
        gid: process.getgid?.() ?? 0,
        exe: i.exe,
        comm: commFromExecPath(i.exe),
        cwd: i.cwd,
        hostname: hostname(),
        ...(limit === undefined ? {} : { coreLimit: limit }),
        ...window,
      };
  const r = await findCore({
    exit: { exitCode: null, signal: i.signal },
    facts,
    ...(i.waitMs === undefined ? {} : { waitMs: i.waitMs }),
  });
  if (r.found)
    return {
      found: true,
      path: r.path,
      removable: r.via !== "apport",
      size: r.size,
      possiblyTruncated: r.possiblyTruncated,
      result: r,
    };
  return { found: false, removable: false, reason: r.reason, code: r.code, result: r };
}
