/**
 * Facts about a running child taken from /proc while it lives: after it dies its /proc entry is
 * gone, and the kernel names the core with values (comm, NSpid, RLIMIT_CORE) only /proc shows.
 */
import { readFileSync, readlinkSync, realpathSync } from "node:fs";
import { hostname } from "node:os";
import { type CoreLimit, parseCoreLimit } from "./coreLimit.js";
import type { CrashFacts } from "./coreLocation.js";
import { processGone } from "./errors.js";

export interface ProcessSnapshot {
  pid: number;
  /** NSpid fields: first = the outermost namespace this /proc shows (the initial one unless hotdump
   * itself runs in a container, where %P is then unknowable), last = the process's own namespace. */
  nsPids: number[];
  uid: number;
  gid: number;
  comm: string;
  exe: string;
  cwd: string;
  hostname: string;
  coreLimit: CoreLimit | undefined;
}

export function snapshotProcess(pid: number): ProcessSnapshot {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1]?.trim() ?? "";
    const nsPids = field("NSpid").split(/\s+/).filter(Boolean).map(Number);
    return {
      pid,
      nsPids: nsPids.length ? nsPids : [pid],
      uid: Number(field("Uid").split(/\s+/)[0]),
      gid: Number(field("Gid").split(/\s+/)[0]),
      comm: readFileSync(`/proc/${pid}/comm`, "utf8").replace(/\n$/, ""),
      exe: readlinkSync(`/proc/${pid}/exe`),
      cwd: readlinkSync(`/proc/${pid}/cwd`),
      // %h is the nodename of the child's UTS namespace; a child of hotdump shares hotdump's.
      hostname: hostname(),
      coreLimit: parseCoreLimit(readFileSync(`/proc/${pid}/limits`, "utf8")),
    };
  } catch (e) {
    throw processGone(pid, e);
  }
}

/**
 * Snapshot once the child has exec'd `exePath` (a wrapper `sh -c ... exec` shows as sh at first).
 * Polls every 5 ms up to `timeoutMs`; returns the last snapshot seen (or undefined if it died).
 */
export async function snapshotAfterExec(
  pid: number,
  exePath: string,
  timeoutMs = 2000,
): Promise<ProcessSnapshot | undefined> {
  const deadline = Date.now() + timeoutMs;
  let want = exePath;
  try {
    want = realpathSync(exePath);
  } catch {
    // compare with the name as given
  }
  let last: ProcessSnapshot | undefined;
  for (;;) {
    try {
      last = snapshotProcess(pid);
      if (last.exe === want || last.exe === `${want} (deleted)`) return last;
    } catch {
      return last;
    }
    if (Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The facts findCore needs, from a snapshot and the run's time window (ms since the epoch). */
export function factsFromSnapshot(
  s: ProcessSnapshot,
  window: { startedAt: number; endedAt: number },
): CrashFacts {
  const own = s.nsPids[s.nsPids.length - 1] ?? s.pid;
  return {
    pid: s.pid,
    ...(own === s.pid ? {} : { nsPid: own }),
    initPid: s.nsPids[0] ?? s.pid,
    uid: s.uid,
    gid: s.gid,
    exe: s.exe,
    comm: s.comm,
    cwd: s.cwd,
    hostname: s.hostname,
    ...(s.coreLimit ? { coreLimit: s.coreLimit.soft } : {}),
    startedAt: window.startedAt,
    endedAt: window.endedAt,
  };
}
