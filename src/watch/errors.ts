/** Watcher error factories. */
import { HotdumpError } from "../errors.js";

/**
 * inotify(7): each watched directory takes one watch from fs.inotify.max_user_watches; past it
 * inotify_add_watch fails with ENOSPC (src/watch/inotify.ts names it so).
 */
const inotifyLimit = (path: string | undefined, cause: unknown) =>
  new HotdumpError(
    "usage",
    "E_WATCH_LIMIT",
    `the inotify watch limit is reached${path ? ` (at ${path})` : ""}: raise it with \`sudo sysctl fs.inotify.max_user_watches=524288\`, exclude big directories in [watch] exclude_dir, or set [watch] poll = true`,
    { cause, exitCode: 1 },
  );

/** EMFILE: inotify_init1 past fs.inotify.max_user_instances, or past `ulimit -n`. */
const watchTooManyFiles = (cause: unknown) =>
  new HotdumpError(
    "usage",
    "E_WATCH_FILES",
    "too many open files while watching: raise `ulimit -n`, exclude big directories in [watch] exclude_dir, or set [watch] poll = true",
    { cause, exitCode: 1 },
  );

const watchFailed = (cause: unknown) =>
  new HotdumpError(
    "usage",
    "E_WATCH_FAILED",
    `watching files failed: ${(cause as Error)?.message ?? String(cause)}`,
    {
      cause,
      exitCode: 1,
    },
  );

/**
 * The watched root itself cannot be watched (EACCES, gone at start) or went away (removed,
 * unmounted: inotify's IN_IGNORED on its watch): nothing would ever rebuild, so dev stops.
 */
export const watchRootLost = (root: string, why: string, cause?: unknown) =>
  new HotdumpError(
    "usage",
    "E_WATCH_ROOT",
    `cannot watch ${root}: ${why}; fix it (or [watch] root in hotdump.toml) and start dev again`,
    { ...(cause ? { cause } : {}), exitCode: 1 },
  );

/** The typed error for a raw watcher error. */
export function watchError(err: unknown): HotdumpError {
  if (err instanceof HotdumpError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "ENOSPC") return inotifyLimit(e.path ?? /watch '([^']*)'/.exec(e.message ?? "")?.[1], err);
  if (e?.code === "EMFILE") return watchTooManyFiles(err);
  return watchFailed(err);
}
