/**
 * Tests that need a particular /proc/sys/kernel/core_pattern set it through here: the previous
 * value is restored in a finally, and a lock directory keeps two test files (or two developers'
 * runs) from changing the global setting at once. Tests whose file name ends in `.pattern.test.ts`
 * run in a separate, serial vitest pass (see Makefile), so no crash test runs while a pattern is
 * changed.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const PATTERN = "/proc/sys/kernel/core_pattern";
const USES_PID = "/proc/sys/kernel/core_uses_pid";
const LOCK = "/tmp/hotdump-core-pattern.lock";

/** Why the pattern cannot be changed here, or null when it can. */
export function cannotSetPattern(): string | null {
  try {
    const cur = readFileSync(PATTERN, "utf8");
    writeFileSync(PATTERN, cur.trimEnd());
    return null;
  } catch (e) {
    return `cannot write ${PATTERN}: ${(e as Error).message}`;
  }
}

/**
 * The lock directory appears with its pid file already inside (made aside, then renamed into
 * place): with mkdir-then-write, another process could find the directory without a pid in
 * between, take the holder for dead and remove its lock, and two tests then changed and restored
 * the global pattern over each other (one left a deleted handler's pattern behind).
 */
async function lock(): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const mine = `${LOCK}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    mkdirSync(mine);
    writeFileSync(`${mine}/pid`, String(process.pid));
    try {
      renameSync(mine, LOCK);
      return;
    } catch {
      rmSync(mine, { recursive: true, force: true });
      let holder: number | null = null;
      try {
        holder = Number(readFileSync(`${LOCK}/pid`, "utf8"));
      } catch {
        // An older helper between its mkdir and its write, or a lock just released: ask again.
        holder = null;
      }
      if (holder !== null && !alive(holder)) {
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
