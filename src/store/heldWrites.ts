/**
 * A supervisor's journal writes on a disk that may refuse them (SQLITE_FULL, SQLITE_IOERR): a
 * refused write is held in memory, in order, and the held ones are retried before the next
 * write, so nothing that keeps the service running ever gets the error. Each held write is a
 * closure over its values: a retry writes exactly what would have been written.
 */
/** At most this many writes are held; beyond, the oldest are dropped and counted. */
const MAX_HELD = 10_000;

export class HeldWrites {
  /** Held writes, oldest first. */
  private readonly held: (() => void)[] = [];
  private failing: Error | null = null;
  private dropped = 0;

  constructor(
    private readonly opts: {
      /** Without it a refused write throws (a one-shot command reports it). */
      holdOnFailure?: boolean;
      /** Called when writes start failing (error) and when held writes reached the disk (null). */
      onWriteState?: (error: Error | null, held: number) => void;
    },
  ) {}

  get count(): number {
    return this.held.length;
  }

  get error(): Error | null {
    return this.failing;
  }

  /** Write `fn` now, after the held ones; held itself if the disk refuses (with holdOnFailure). */
  write(fn: () => void): void {
    if (!this.opts.holdOnFailure) {
      fn();
      return;
    }
    if (!this.flush()) {
      this.hold(fn);
      return;
    }
    try {
      fn();
    } catch (e) {
      this.hold(fn, e);
    }
  }

  /** Retry the held writes in order; true once none is left. */
  flush(): boolean {
    while (this.held.length > 0) {
      try {
        this.held[0]!();
      } catch (e) {
        this.failing = e as Error;
        return false;
      }
      this.held.shift();
    }
    if (this.failing) {
      this.failing = null;
      this.opts.onWriteState?.(null, this.dropped);
      this.dropped = 0;
    }
    return true;
  }

  /** Keep `fn` for later; `error` is why (absent: it waits behind writes already failing). */
  hold(fn: () => void, error?: unknown): void {
    if (error !== undefined) {
      const first = this.failing === null;
      this.failing = error as Error;
      if (first) this.opts.onWriteState?.(this.failing, this.held.length + 1);
    }
    this.held.push(fn);
    if (this.held.length > MAX_HELD) {
      this.held.shift();
      this.dropped++;
    }
  }
}
