/**
 * The directory crawl both watcher backends share: directories the filter prunes are never read,
 * files are handed over only when wanted. A few readdirs run at once (the libuv pool has four
 * threads, one of them holds the inotify read).
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { WatchFilter } from "./filter.js";

export interface WalkOptions {
  filter: WatchFilter;
  followSymlinks: boolean;
  /** Before a directory is read (a watch goes on first, so nothing created meanwhile is missed); false skips it. Throwing ends the walk. */
  enterDir(abs: string): boolean;
  /** Each wanted file (the filter's `accepts`). */
  onFile?(abs: string): void;
}

const CONCURRENCY = 3;

export async function walk(rootAbs: string, o: WalkOptions): Promise<void> {
  let failed = false;
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = async (): Promise<void> => {
    if (active < CONCURRENCY) {
      active++;
      return;
    }
    await new Promise<void>((r) => waiting.push(r));
  };
  // The slot passes straight to the next waiter.
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  const isDir = async (abs: string, e: Dirent): Promise<boolean> => {
    if (e.isDirectory()) return true;
    if (!o.followSymlinks || !e.isSymbolicLink()) return false;
    return stat(abs).then(
      (s) => s.isDirectory(),
      () => false,
    );
  };
  const visit = async (dir: string): Promise<void> => {
    if (failed) return;
    try {
      if (!o.enterDir(dir)) return;
    } catch (e) {
      failed = true;
      throw e;
    }
    await acquire();
    let entries: Dirent[];
    try {
      // Gone, unreadable or not a directory any more: nothing to watch below it.
      entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    } finally {
      release();
    }
    const subdirs: string[] = [];
    for (const e of entries) {
      const abs = join(dir, e.name);
      if (await isDir(abs, e)) {
        if (!o.filter.ignored(abs, true)) subdirs.push(abs);
      } else if (o.onFile && o.filter.accepts(abs)) o.onFile(abs);
    }
    await Promise.all(subdirs.map(visit));
  };
  await visit(rootAbs);
}
