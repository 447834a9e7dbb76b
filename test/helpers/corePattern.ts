/**
 * Tests that need a particular /proc/sys/kernel/core_pattern set it through here: the previous
 * value is restored in a finally, and a lock directory keeps two test files (or two developers'
 * runs) from changing the global setting at once. Tests whose file name ends in `.pattern.test.ts`
 * run in a separate, serial vitest pass (see Makefile), so no crash test runs while a pattern is
 * changed.
 */
import { accessSync, constants, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const PATTERN = "/proc/sys/kernel/core_pattern";
const USES_PID = "/proc/sys/kernel/core_uses_pid";
const LOCK = "/tmp/hotdump-core-pattern.lock";

/**
 * Why the pattern cannot be changed here, or null when it can. Asked with access(2), never by
 * writing the value back: such a write, outside the lock and at every pattern test file's load,
 * put back a pattern read just before another test changed it (a test saw its handler's pattern
 * turn into `core` mid-run, and a handler's pattern outlived its test).
 */
export function cannotSetPattern(): string | null {
  try {
    accessSync(PATTERN, constants.R_OK | constants.W_OK);
    return null;
  } catch (e) {
    return `cannot write ${PATTERN}: ${(e as Error).message}`;
  }
}

/**
 * mkdir is the lock (atomic, and what every copy of this helper does); its pid file follows at
 * once. A lock found without a pid file is being taken, not abandoned: it is waited for, and
 * removed only when it stays without one for 10 s. (Taking such a lock for a dead one's let two
 * tests change and restore the global pattern over each other, leaving a deleted handler's pattern
 * behind; so did renaming a prepared directory into place, which replaces an empty one.)
 */
async function lock(): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(`${LOCK}/pid`, String(process.pid));
      return;
    } catch {
      let holder: number | null = null;
      try {
        holder = Number(readFileSync(`${LOCK}/pid`, "utf8"));
      } catch {
        holder = null;
      }
      const stale =
        holder === null
          ? Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 10_000
          : !alive(holder);
      if (stale) {
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error("core_pattern lock held for over 2 minutes");
      await sleep(50);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function withCorePattern<T>(
  pattern: string,
  fn: () => Promise<T>,
  opts: { usesPid?: boolean } = {},
): Promise<T> {
  await lock();
  const prev = readFileSync(PATTERN, "utf8").trimEnd();
  const prevPid = readFileSync(USES_PID, "utf8").trim();
  try {
    writeFileSync(PATTERN, pattern);
    if (opts.usesPid !== undefined) writeFileSync(USES_PID, opts.usesPid ? "1" : "0");
    return await fn();
  } finally {
    writeFileSync(PATTERN, prev);
    writeFileSync(USES_PID, prevPid);
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Hold the pattern lock without changing the pattern: for a test that crashes a program and
 * needs the machine's pattern to stay put while the kernel writes the core. */
export async function withPatternLock<T>(fn: () => Promise<T>): Promise<T> {
  await lock();
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
