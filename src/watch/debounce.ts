/**
 * Trailing debounce of file changes: paths collect in a set and are flushed as one batch once
 * `delayMs` pass without a new change (an editor's save or `git checkout` is a burst of events).
 * `maxWaitMs` bounds the wait so a file rewritten forever still gets built. When every path in
 * the batch is known to be complete (closed after writing, renamed into place, deleted), the quiet
 * period shrinks to `settledMs`: a save need not wait out a debounce meant for writes in progress.
 */
export interface Batcher {
  /** `complete`: the last event says the file is done (IN_CLOSE_WRITE, a rename, a delete). */
  add(path: string, complete?: boolean): void;
  /** Flush now (if anything is pending). */
  flush(): void;
  /** Drop pending paths and timers. */
  cancel(): void;
  readonly pending: number;
}

export function createBatcher(opts: {
  delayMs: number;
  maxWaitMs?: number;
  /** Quiet period once every path is complete (default 2 ms, never above delayMs). */
  settledMs?: number;
  onFlush(paths: string[]): void;
}): Batcher {
  const maxWait = opts.maxWaitMs ?? Math.max(1000, opts.delayMs * 10);
  const settled = Math.min(opts.settledMs ?? 2, opts.delayMs);
  let paths = new Set<string>();
  /** Paths whose last event was a write in progress. */
  const open = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let firstAt = 0;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (paths.size === 0) return;
    const batch = [...paths].sort();
    paths = new Set();
    open.clear();
    opts.onFlush(batch);
  };
  return {
    add(path, complete = false) {
      const now = Date.now();
      if (paths.size === 0) firstAt = now;
      paths.add(path);
      if (complete) open.delete(path);
      else open.add(path);
      if (timer) clearTimeout(timer);
      const quiet = open.size === 0 ? settled : opts.delayMs;
      const wait = Math.min(quiet, Math.max(0, firstAt + maxWait - now));
      timer = setTimeout(flush, wait);
    },
    flush,
    cancel() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      paths = new Set();
      open.clear();
    },
    get pending() {
      return paths.size;
    },
  };
}
