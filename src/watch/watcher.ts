/**
 * The file watcher: chokidar v4 (inotify through fs.watch, or polling for network file systems)
 * with our own filter and trailing debounce. chokidar's awaitWriteFinish stays off: it polls each
 * file's size, which the debounce makes unnecessary, and adds its own 2 s delay by default.
 */
import { type FSWatcher, watch } from "chokidar";
import type { ResolvedWatchConfig } from "../config/types.js";
import type { HotdumpError } from "../errors.js";
import { createBatcher } from "./debounce.js";
import { watchError } from "./errors.js";
import { createWatchFilter, type WatchFilterOptions } from "./filter.js";

export interface WatcherOptions {
  root: string;
  config: ResolvedWatchConfig;
  /** Absolute directories never watched (the store, build output). */
  alwaysIgnore?: string[];
  gitignore?: WatchFilterOptions["gitignore"];
  /** One call per quiet period: root-relative posix paths, sorted, each once. */
  onBatch(changedFiles: string[]): void;
  /** Errors after `ready` (before it, `ready` rejects). Typed: E_WATCH_LIMIT carries the sysctl fix. */
  onError?(err: HotdumpError): void;
}

export interface Watcher {
  /** Resolves when the initial scan is done and changes are being seen. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export function createWatcher(opts: WatcherOptions): Watcher {
  const { root, config } = opts;
  const filter = createWatchFilter({
    root,
    config,
    ...(opts.alwaysIgnore ? { alwaysIgnore: opts.alwaysIgnore } : {}),
    ...(opts.gitignore ? { gitignore: opts.gitignore } : {}),
  });
  const batcher = createBatcher({ delayMs: config.debounceMs, onFlush: (files) => opts.onBatch(files) });
  let closed = false;
  let isReady = false;

  const fsw: FSWatcher = watch(root, {
    ignoreInitial: true,
    ignored: (path, stats) => filter.ignored(path, stats),
    usePolling: config.poll,
    interval: config.pollIntervalMs,
    binaryInterval: config.pollIntervalMs,
    followSymlinks: config.followSymlinks,
    awaitWriteFinish: false,
    // Deleted-then-recreated files (editors' atomic save) arrive as change events.
    atomic: !config.poll,
  });

  const onChange = (path: string) => {
    if (closed || !filter.accepts(path)) return;
    const rel = filter.relative(path);
    if (rel) batcher.add(rel);
  };
  fsw.on("add", onChange).on("change", onChange).on("unlink", onChange);

  let rejectReady: (e: HotdumpError) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    rejectReady = reject;
    fsw.once("ready", () => {
      isReady = true;
      resolve();
    });
  });
  // A rejection nobody awaited must not crash the process: callers see it through ready or onError.
  ready.catch(() => {});
  fsw.on("error", (raw: unknown) => {
    if (closed) return;
    const err = watchError(raw);
    if (!isReady) rejectReady(err);
    else opts.onError?.(err);
  });

  return {
    ready,
    async close() {
      if (closed) return;
      closed = true;
      batcher.cancel();
      await fsw.close();
    },
  };
}
