/**
 * Which service processes a supervisor has running, kept in <store>/running.json so that a
 * hotdump that died without cleaning up (SIGKILL, power loss of the terminal) has its leftover
 * process groups found and stopped by the next start. The service also dies with hotdump through
 * PR_SET_PDEATHSIG (launch.ts); this file is the second line, for what the first cannot catch.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { StoreLayout } from "../store/index.js";
import { type RunningRecord, readRunning, writeRunning } from "../store/index.js";

type Entry = RunningRecord;

const load = (layout: StoreLayout) => readRunning(layout.root);

/**
 * Write the list; on failure (a full disk) keep going: the file is a second line of defence
 * (PR_SET_PDEATHSIG is the first), and a supervisor must never stop supervising over it. The
 * next successful save writes the whole current list, so nothing is lost once space returns.
 */
function save(layout: StoreLayout, entries: Entry[]): Error | null {
  try {
    writeRunning(layout.root, entries);
    return null;
  } catch (e) {
    return e as Error;
  }
}

/** Returns the write error, if any (the caller may say so; it never throws). */
export function rememberRunning(layout: StoreLayout, e: Omit<Entry, "supervisor">): Error | null {
  const stat = procStat(e.pid);
  const group = stat ? { pgid: stat.pgid, startTime: stat.startTime } : {};
  return save(layout, [
    ...load(layout).filter((x) => x.pid !== e.pid),
    { ...e, ...group, supervisor: process.pid },
  ]);
}

/** pgid and start time from /proc/PID/stat (the comm field may hold spaces and parentheses). */
function procStat(pid: number): { pgid: number; startTime: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Fields after the last ")": state(3) ppid(4) pgrp(5) ... starttime(22).
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const pgid = Number(f[2]);
  const startTime = Number(f[19]);
  return Number.isInteger(pgid) && Number.isInteger(startTime) ? { pgid, startTime } : null;
}

/**
 * The processes still in a recorded process group. Its leader may be gone (a start script killed
 * with hotdump) while its children run on (the ./server the script started): the group is found
 * by its id, never by an exe path. A leader that is alive must be the one recorded (same start
 * time), else the pid was reused; members that started before the recorded leader are not ours.
 * Linux does not hand out a pid still used as a process group id, so a group with members but no
 * leader is the recorded one.
 */
function groupMembers(e: Entry): number[] {
  if (e.pgid === undefined || e.startTime === undefined) return [];
  const leader = procStat(e.pgid);
  if (leader && leader.startTime !== e.startTime) return [];
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const s = procStat(Number(n));
    if (s && s.pgid === e.pgid && s.startTime >= e.startTime) out.push(Number(n));
  }
  return out;
}

export function forgetRunning(layout: StoreLayout, pid: number): Error | null {
  return save(
    layout,
    load(layout).filter((x) => x.pid !== pid),
  );
}

/** kill(pid, 0): a process (or a zombie) with this pid exists and we may signal it. */
export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Stop process groups left by a supervisor that is gone. Returns the pids stopped. */
export function stopLeftovers(layout: StoreLayout): number[] {
  const stopped: number[] = [];
  const keep: Entry[] = [];
  for (const e of load(layout)) {
    if (alive(e.supervisor) && e.supervisor !== process.pid) {
      keep.push(e);
      continue;
    }
    const members = groupMembers(e);
    if (members.length > 0) {
      try {
        process.kill(-e.pgid!, "SIGKILL");
        stopped.push(...members);
      } catch {
        // gone meanwhile
      }
      continue;
    }
    if (e.pgid !== undefined) continue;
    // A record from before process groups were kept: only a process still running the stored
    // binary is ours (the pid may have been reused).
    let exe = "";
    try {
      exe = readlinkSync(`/proc/${e.pid}/exe`);
    } catch {
      continue;
    }
    if (exe !== e.binary) continue;
    try {
      process.kill(-e.pid, "SIGKILL");
      stopped.push(e.pid);
    } catch {
      // gone meanwhile
    }
  }
  save(layout, keep);
  return stopped;
}
