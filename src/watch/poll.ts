/**
 * Polling, for file systems where inotify sees nothing (NFS, SMB, some container mounts: changes
 * made by another machine raise no event) and where the inotify FFI is missing: every interval the
 * same pruned crawl, one stat per wanted file, compared with the last pass. One pass runs at a
 * time; the next starts an interval after the last ended.
 */
import { stat } from "node:fs/promises";
import type { ResolvedWatchConfig } from "../config/index.js";
import type { WatchFilter } from "./filter.js";
import { walk } from "./walk.js";

export interface PollerOptions {
  root: string;
  filter: WatchFilter;
  config: ResolvedWatchConfig;
  onChange(abs: string): void;
}

export function createPoller(o: PollerOptions): { ready: Promise<void>; close(): Promise<void> } {
  let seen = new Map<string, string>();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const pass = async (report: boolean): Promise<void> => {
    const now = new Map<string, string>();
    const stats: Promise<void>[] = [];
    await walk(o.root, {
      filter: o.filter,
      followSymlinks: o.config.followSymlinks,
      enterDir: () => !closed,
      onFile(abs) {
        stats.push(
          stat(abs).then(
            (s) => void now.set(abs, `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`),
            () => {},
          ),
        );
      },
    });
    await Promise.all(stats);
    if (closed) return;
    if (report) {
      for (const [abs, sig] of now) if (seen.get(abs) !== sig) o.onChange(abs);
      for (const abs of seen.keys()) if (!now.has(abs)) o.onChange(abs);
    }
    seen = now;
  };

  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      running = pass(true).then(schedule, schedule);
    }, o.config.pollIntervalMs);
  };

  const ready = pass(false);
  running = ready.then(schedule, () => {});
  return {
    ready,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
