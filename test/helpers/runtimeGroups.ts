/** The Go runtime's own goroutines among a report's (or a capture diff's) goroutine groups. */
import { expect } from "vitest";

/** [the wait reason of an idle helper, the function its goroutine runs]. */
export const FORCE_GC = ["force gc (idle)", "runtime.forcegchelper"] as const;
export const SWEEPER = ["GC sweep wait", "runtime.gcenable.gowrap1"] as const;
export const SCAVENGER = ["GC scavenge wait", "runtime.gcenable.gowrap2"] as const;
export const FINALIZER = ["finalizer wait", "runtime.runFinalizers"] as const;

/** A helper doing its work when the program died or was dumped. */
const AT_WORK = ["sleep", "runnable", "running", "syscall"];

/**
 * Each helper is a group of its own, of one goroutine, named by its function. Idle, it waits under
 * its own reason; one at work when the program died is running, runnable (preempted, or the
 * sweeper's Gosched) or asleep (the scavenger paces itself with a timed park, `sleep`). Once in CI
 * a report had no `GC scavenge wait` group at all; 12 crashes of the same program at load 7 had
 * the scavenger parked each time. A failure prints every group, to show the state next time.
 */
export function expectRuntimeHelpers(
  groups: readonly { function: string; state: string; count: number; class?: string }[],
  helpers: readonly (readonly [string, string])[],
): void {
  for (const [idle, fn] of helpers) {
    const own = groups.filter((g) => g.function === fn);
    expect(
      own,
      `${fn} in ${groups.map((g) => `${g.count} ${g.state} ${g.function}`).join("; ")}`,
    ).toHaveLength(1);
    expect(own[0], fn).toMatchObject({ count: 1, class: "runtime" });
    expect([idle, ...AT_WORK], fn).toContain(own[0]?.state);
  }
}
