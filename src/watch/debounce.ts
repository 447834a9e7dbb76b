/**
 * Trailing debounce of file changes: paths collect in a set and are flushed as one batch once
 * `delayMs` pass without a new change (an editor's save or `git checkout` is a burst of events).
 * `maxWaitMs` bounds the wait so a file rewritten forever still gets built.
 */
export interface Batcher {
  add(path: string): void;
  /** Flush now (if anything is pending). */
  flush(): void;
  /** Drop pending paths and timers. */
  cancel(): void;
  readonly pending: number;
}

export function createBatcher(opts: {
  delayMs: number;
  maxWaitMs?: number;
  onFlush(paths: string[]): void;
}): Batcher {
  const maxWait = opts.maxWaitMs ?? Math.max(1000, opts.delayMs * 10);
  let paths = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let firstAt = 0;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (paths.size === 0) return;
    const batch = [...paths].sort();
    paths = new Set();
    opts.onFlush(batch);
  };
  return {
    add(path) {
      const now = Date.now();
      if (paths.size === 0) firstAt = now;
      paths.add(path);
      if (timer) clearTimeout(timer);
      const wait = Math.min(opts.delayMs, Math.max(0, firstAt + maxWait - now));
      timer = setTimeout(flush, wait);
    },
    flush,
    cancel() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      paths = new Set();
    },
    get pending() {
      return paths.size;
    },
  };
}
