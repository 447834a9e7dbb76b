/**
 * Crash-loop backoff: a generation that dies soon after starting is restarted after 0.5 s, 1 s,
 * 2 s ... up to a cap; one that ran longer than `stableMs` resets the delay, and so does a new
 * build (reset()).
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  stableMs?: number;
}

export class Backoff {
  private failures = 0;
  readonly initialMs: number;
  readonly maxMs: number;
  readonly stableMs: number;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = o.initialMs ?? 500;
    this.maxMs = o.maxMs ?? 30_000;
    this.stableMs = o.stableMs ?? 10_000;
  }

  /** The delay before the next restart, given how long the last run lasted. */
  next(ranMs: number): number {
    if (ranMs >= this.stableMs) this.failures = 0;
    const d = Math.min(this.maxMs, this.initialMs * 2 ** this.failures);
    this.failures++;
    return d;
  }

  get consecutive(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}
