/**
 * Which service processes a supervisor has running, kept in <store>/running.json so that a
 * hotdump that died without cleaning up (SIGKILL, power loss of the terminal) has its leftover
 * process groups found and stopped by the next start. The service also dies with hotdump through
 * PR_SET_PDEATHSIG (launch.ts); this file is the second line, for what the first cannot catch.
 */
import { readlinkSync } from "node:fs";
import type { StoreLayout } from "../store/index.js";
import { type RunningRecord, readRunning, writeRunning } from "../store/running.js";

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
  return save(layout, [...load(layout).filter((x) => x.pid !== e.pid), { ...e, supervisor: process.pid }]);
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
    // The pid may have been reused: only a process still running the stored binary is ours.
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
