/**
 * The file watcher: inotify with one watch per directory the filter keeps (src/watch/inotify.ts),
 * or polling for network file systems and where the FFI is missing (src/watch/poll.ts), with our
 * own filter and trailing debounce.
 */
import { basename, dirname, join } from "node:path";
import type { ResolvedWatchConfig } from "../config/index.js";
import type { HotdumpError } from "../errors.js";
import { createBatcher } from "./debounce.js";
import { watchError, watchRootLost } from "./errors.js";
import { createWatchFilter, type WatchFilterOptions } from "./filter.js";
import {
  IN_ATTRIB,
  IN_CLOSE_WRITE,
  IN_CREATE,
  IN_DELETE,
  IN_IGNORED,
  IN_ISDIR,
  IN_MOVED_FROM,
  IN_MOVED_TO,
  IN_ONLYDIR,
  IN_Q_OVERFLOW,
  type Inotify,
  type InotifyEvent,
  openInotify,
} from "./inotify.js";
import { createPoller } from "./poll.js";
import { walk } from "./walk.js";

export interface WatcherOptions {
  root: string;
  config: ResolvedWatchConfig;
  /** Absolute directories never watched (the store, build output). */
  alwaysIgnore?: string[];
  gitignore?: WatchFilterOptions["gitignore"];
  /** One call per quiet period: root-relative posix paths, sorted, each once ("." after lost events). */
  onBatch(changedFiles: string[]): void;
  /** Errors after `ready` (before it, `ready` rejects). Typed: E_WATCH_LIMIT carries the sysctl fix. */
  onError?(err: HotdumpError): void;
}

export interface Watcher {
  /** Resolves when the initial crawl is done and changes are being seen. */
  readonly ready: Promise<void>;
  /** "inotify" or "poll". */
  readonly backend: string;
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
  let rejectReady: (e: HotdumpError) => void = () => {};
  const fail = (raw: unknown) => {
    if (closed) return;
    const err = watchError(raw);
    if (!isReady) rejectReady(err);
    else opts.onError?.(err);
  };
  const changed = (abs: string, complete = false) => {
    const rel = filter.relative(abs);
    if (rel !== null) batcher.add(rel || ".", complete);
  };

  const pollOpts = { root, filter, config, onChange: changed };
  let backend: { ready: Promise<void>; close(): Promise<void> };
  let kind = "poll";
  if (!config.poll) {
    try {
      const tree = createInotifyTree(root, filter, config.followSymlinks, changed, fail);
      if (tree) {
        backend = tree;
        kind = "inotify";
      }
    } catch (e) {
      backend = { ready: Promise.reject(e), close: async () => {} };
      kind = "inotify";
    }
  }
  backend ??= createPoller(pollOpts);

  const ready = new Promise<void>((resolve, reject) => {
    rejectReady = reject;
    backend.ready.then(() => {
      isReady = true;
      resolve();
    }, fail);
  });
  // A rejection nobody awaited must not crash the process: callers see it through ready or onError.
  ready.catch(() => {});

  return {
    ready,
    backend: kind,
    async close() {
      if (closed) return;
      closed = true;
      batcher.cancel();
      await backend.close();
    },
  };
}

/**
 * Directories by watch descriptor, kept in step with the tree: a new directory is crawled (and its
 * wanted files reported: they may have been written before its watch was on), a directory moved
 * or deleted loses the watches of its whole subtree (a watch follows the inode, so a moved
 * directory's descriptors would name the old path; if it moved inside the root, its new name
 * arrives as IN_MOVED_TO and is crawled afresh).
 */
/** Events after which a file is complete: closed after writing, renamed in or out, deleted, touched. */
const DONE = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB;

function createInotifyTree(
  root: string,
  filter: ReturnType<typeof createWatchFilter>,
  followSymlinks: boolean,
  changed: (abs: string, complete?: boolean) => void,
  fail: (e: unknown) => void,
): { ready: Promise<void>; close(): Promise<void> } | null {
  const dirs = new Map<number, string>();
  let closed = false;
  // Assigned below, before anything calls the closures that use it.
  let inotify!: Inotify;

  const crawl = (dir: string, report: boolean): Promise<void> =>
    walk(dir, {
      filter,
      followSymlinks,
      enterDir(abs) {
        if (closed) return false;
        let wd: number;
        try {
          wd = inotify.add(abs);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          // A subdirectory gone or not ours to read is skipped; the root is the whole watch.
          if (abs === root && (code === "ENOENT" || code === "ENOTDIR" || code === "EACCES"))
            throw watchRootLost(
              root,
              code === "EACCES" ? "permission denied (EACCES)" : "it does not exist",
              e,
            );
          if (code === "ENOENT" || code === "ENOTDIR" || code === "EACCES") return false;
          throw e;
        }
        // The same descriptor again: the same directory by another path (a symlink loop).
        const seen = dirs.get(wd);
        if (seen !== undefined && seen !== abs) return false;
        dirs.set(wd, abs);
        return true;
      },
      // Found by the crawl of a new directory: written, maybe still being written.
      ...(report ? { onFile: (abs: string) => changed(abs) } : {}),
    });

  const forget = (abs: string) => {
    const prefix = `${abs}/`;
    for (const [wd, d] of dirs)
      if (d === abs || d.startsWith(prefix)) {
        dirs.delete(wd);
        inotify.remove(wd);
      }
  };

  // The root's removal is seen from its parent: the root's own IN_DELETE_SELF/IN_IGNORED comes only
  // once its inode is freed, never while a process (dev itself, the service) has it as its cwd.
  let parentWd: number | null = null;
  const rootName = basename(root);

  const onEvents = (events: InotifyEvent[], more: boolean) => {
    if (closed) return;
    for (const ev of events) {
      if (ev.wd === parentWd) {
        if (ev.name === rootName && ev.mask & (IN_DELETE | IN_MOVED_FROM))
          fail(watchRootLost(root, ev.mask & IN_DELETE ? "it was removed" : "it was moved away"));
        continue;
      }
      if (ev.mask & IN_Q_OVERFLOW) {
        // The kernel's queue (fs.inotify.max_queued_events) overflowed: some change is lost.
        changed(root, true);
        continue;
      }
      const dir = dirs.get(ev.wd);
      if (dir === undefined) continue;
      if (ev.mask & IN_IGNORED) {
        dirs.delete(ev.wd);
        // The kernel dropped the root's own watch: it was removed or unmounted.
        if (dir === root) fail(watchRootLost(root, "it was removed"));
        continue;
      }
      if (ev.name === "") continue;
      const abs = join(dir, ev.name);
      if (ev.mask & IN_ISDIR) {
        if (filter.ignored(abs, true)) continue;
        if (ev.mask & (IN_CREATE | IN_MOVED_TO)) crawl(abs, true).catch(fail);
        else if (ev.mask & (IN_MOVED_FROM | IN_DELETE)) {
          forget(abs);
          // Its files left the build without an event each.
          if (ev.mask & IN_MOVED_FROM) changed(abs, true);
        }
      } else if (filter.accepts(abs)) {
        // While more of a burst waits in the kernel nothing is complete: the batch would split.
        changed(abs, !more && (ev.mask & DONE) !== 0);
      }
    }
  };

  const opened = openInotify(onEvents, fail);
  if (!opened) return null;
  inotify = opened;
  if (dirname(root) !== root)
    try {
      parentWd = inotify.add(dirname(root), IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
    } catch {
      // An unreadable parent: a removed root then shows only as builds failing.
    }
  return {
    ready: crawl(root, false),
    async close() {
      closed = true;
      for (const wd of dirs.keys()) inotify.remove(wd);
      if (parentWd !== null) inotify.remove(parentWd);
      dirs.clear();
      await inotify.close();
    },
  };
}
