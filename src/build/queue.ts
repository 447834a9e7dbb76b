/**
 * The build coalescer: one build at a time; batches arriving while it runs merge into exactly one
 * pending build (the union of their files), started when the current one ends. A running build is
 * never cancelled: its result is still worth having, and the next build follows at once.
 */
export interface BuildQueueOptions<R> {
  run(changedFiles: string[]): Promise<R>;
  onResult?(result: R): void;
  /** `run` threw (a compile error is a result, not a throw: this is for broken environments). */
  onError?(err: unknown): void;
}

export interface BuildQueue {
  push(changedFiles: readonly string[]): void;
  /** A build is running. */
  readonly busy: boolean;
  /** Files waiting for the next build. */
  readonly pending: readonly string[];
  /** Resolves once nothing is running or pending. */
  idle(): Promise<void>;
  /** Forget pending work; the running build finishes but nothing follows it. */
  clear(): void;
}

export function createBuildQueue<R>(opts: BuildQueueOptions<R>): BuildQueue {
  let running: Promise<void> | null = null;
  let pending: Set<string> | null = null;
  let idleWaiters: (() => void)[] = [];

  const start = (files: string[]) => {
    running = (async () => {
      try {
        // Not `onResult?.(await run())`: an optional call skips evaluating its arguments.
        const result = await opts.run(files);
        opts.onResult?.(result);
      } catch (e) {
        opts.onError?.(e);
      }
    })().finally(() => {
      running = null;
      if (pending) {
        const next = [...pending].sort();
        pending = null;
        start(next);
      } else {
        const w = idleWaiters;
        idleWaiters = [];
        for (const f of w) f();
      }
    });
  };

  return {
    push(files) {
      if (running) {
        pending ??= new Set();
        for (const f of files) pending.add(f);
      } else start([...files]);
    },
    get busy() {
      return running !== null;
    },
    get pending() {
      return pending ? [...pending].sort() : [];
    },
    idle() {
      if (!running && !pending) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    clear() {
      pending = null;
    },
  };
}
