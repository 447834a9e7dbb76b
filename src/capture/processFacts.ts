/**
 * Facts about a running child taken from /proc while it lives: after it dies its /proc entry is
 * gone, and the kernel names the core with values (comm, NSpid, RLIMIT_CORE) only /proc shows.
 */
import { readFileSync, readlinkSync, realpathSync } from "node:fs";
import { hostname } from "node:os";
import { type CoreLimit, parseCoreLimit } from "./coreLimit.js";
import { type CorePathFacts, commFromExecPath } from "./coreLocation.js";
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
  /** False when the process died before its exec was seen: the facts above are the wrapper's. */
  execSeen?: boolean;
}

interface AfterExecOptions {
  /** The exec'd program's argv ($0 = the program): tells the program from a wrapper that is the
   * same executable (`sh -c 'ulimit...; exec "$0" "$@"' /bin/sh -c ...` is /bin/sh before and after). */
  argv?: readonly string[];
  /** The wrapper raises the soft RLIMIT_CORE to the hard limit before it execs (launch.ts). */
  raisesCoreLimit?: boolean;
}

function cmdlineOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0$/, "").split("\0");
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
 *
 * A program that dies within a poll (`sh -c 'kill -SEGV $$'` lives about a millisecond) leaves
 * only the wrapper's snapshot, whose RLIMIT_CORE is from before the wrapper raised it: 0 on these
 * machines, which made every core of such a program look cut short by the limit. With
 * `raisesCoreLimit` that snapshot gets the limit the program really had (soft = hard) and the
 * program's own exe and comm.
 */
export async function snapshotAfterExec(
  pid: number,
  exePath: string,
  timeoutMs = 2000,
  o: AfterExecOptions = {},
): Promise<ProcessSnapshot | undefined> {
  const deadline = Date.now() + timeoutMs;
  let want = exePath;
  try {
    want = realpathSync(exePath);
  } catch {
    // compare with the name as given
  }
  let last: ProcessSnapshot | undefined;
  const unseen = (s: ProcessSnapshot | undefined): ProcessSnapshot | undefined => {
    if (!s) return s;
    if (!o.raisesCoreLimit) return { ...s, execSeen: false };
    const hard = s.coreLimit?.hard;
    return {
      ...s,
      exe: want,
      comm: commFromExecPath(exePath),
      ...(hard === undefined ? {} : { coreLimit: { soft: hard, hard } }),
      execSeen: false,
    };
  };
  for (;;) {
    try {
      const s = snapshotProcess(pid);
      if (s.exe === want || s.exe === `${want} (deleted)`) {
        const argv = o.argv ? cmdlineOf(pid) : undefined;
        if (!argv || (argv.length === o.argv!.length && argv.every((a, i) => a === o.argv![i])))
          return { ...s, execSeen: true };
      }
      last = s;
    } catch {
      return unseen(last);
    }
    if (Date.now() > deadline) return unseen(last);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The facts findCore needs, from a snapshot and the run's time window (ms since the epoch). */
export function factsFromSnapshot(
  s: ProcessSnapshot,
  window: { startedAt: number; endedAt: number },
): CorePathFacts {
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
