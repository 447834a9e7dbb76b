/**
 * <store>/running.json: the service processes a supervisor has running, one record each. The
 * supervisor writes it (supervise/leftovers.ts) so that the next start finds what a killed hotdump
 * left behind; `snapshot` and `profile` read it to find a generation's pid.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HotdumpError } from "../errors.js";

export interface RunningRecord {
  pid: number;
  generation: number;
  /** /proc/PID/exe when it started: a reused pid runs something else. */
  binary: string;
  /** The hotdump process supervising it. */
  supervisor: number;
  /** Its process group (the service runs in its own) and the leader's start time (clock ticks since boot, /proc/PID/stat field 22). */
  pgid?: number;
  startTime?: number;
}

const file = (root: string) => join(root, "running.json");

/** Every record; none when no supervisor has run with this store (or the file is unreadable). */
export function readRunning(root: string): RunningRecord[] {
  try {
    return JSON.parse(readFileSync(file(root), "utf8")) as RunningRecord[];
  } catch {
    return [];
  }
}

/** Replaced whole (temp file + rename), so a reader never sees half a list. */
export function writeRunning(root: string, records: RunningRecord[]): void {
  const tmp = `${file(root)}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(records), { mode: 0o600 });
    renameSync(tmp, file(root));
  } catch (e) {
    // A full disk leaves no half-written temp file behind.
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * The service a command acts on: --pid (with its generation when running.json knows it), or a
 * generation from running.json, the newest by default. `unknown` names the command in the error.
 */
export function resolveRunningTarget(
  root: string,
  sel: { pid?: number; generation?: number },
  unknown: (what: string) => HotdumpError,
): { pid: number; generation: number | null } {
  const running = readRunning(root);
  if (sel.pid !== undefined)
    return { pid: sel.pid, generation: running.find((e) => e.pid === sel.pid)?.generation ?? null };
  const hit =
    sel.generation !== undefined
      ? running.find((e) => e.generation === sel.generation)
      : [...running].sort((a, b) => b.generation - a.generation)[0];
  if (!hit)
    throw unknown(
      sel.generation !== undefined
        ? `generation ${sel.generation} is not in ${root}/running.json (is hotdump run supervising it?)`
        : `${root}/running.json lists none; pass --pid PID`,
    );
  return { pid: hit.pid, generation: hit.generation };
}
