/**
 * What is left of the running test's own limit (its vitest timeout), so that no wait outlasts the
 * test: every helper's wait (runCli, produceCore, a supervisor's waitFor, until) is cut to what the
 * test has left, less a margin for its afterEach to stop what it started. On a loaded machine a
 * test whose waits would add up to more than its limit then fails at the wait that ran out, named,
 * with the child killed, instead of as vitest's bare "Test timed out" with a child still running.
 * test/helpers/testLimitSetup.ts (a setupFiles entry of both vitest configs) sets the deadline.
 */
const MARGIN_MS = 3_000;

let deadline = Number.POSITIVE_INFINITY;

/** Called before each test with its timeout; after it, waits are unbounded again (hooks). */
export function setTestDeadline(at: number): void {
  deadline = at;
}

/** `ms`, or less when the running test has less left (at least 1 ms: the wait then fails at once). */
export function withinTest(ms: number): number {
  return Math.max(1, Math.min(ms, deadline - MARGIN_MS - Date.now()));
}
