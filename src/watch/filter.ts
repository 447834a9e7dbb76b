/**
 * Which paths the watcher looks at and which changes trigger a build. Directories are pruned
 * before they are watched (the crawl asks `ignored` of each directory it meets), so excluded trees
 * cost no inotify watch and no readdir; files are kept only when their extension or an include glob
 * says so.
 */
import { extname, isAbsolute, relative, sep } from "node:path";
import type { ResolvedWatchConfig } from "../config/index.js";
import { createGitignore, type IgnoreSource, isDirectory } from "./gitignore.js";
import { compileGlob } from "./glob.js";

export interface WatchFilterOptions {
  root: string;
  config: ResolvedWatchConfig;
  /** Absolute directories never watched whatever the config says: the store, build output. */
  alwaysIgnore?: string[];
  /** Replaces the .gitignore matcher (tests). */
  gitignore?: IgnoreSource;
}

export interface WatchFilter {
  /** True skips the path (a directory with everything below it). `isDir` unknown: stat it. */
  ignored(absPath: string, isDir?: boolean): boolean;
  /** A change to this file should trigger a build. */
  accepts(absPath: string): boolean;
  /** Root-relative posix path, or null when outside the root. */
  relative(absPath: string): string | null;
}

export function createWatchFilter(opts: WatchFilterOptions): WatchFilter {
  const { root, config } = opts;
  const always = (opts.alwaysIgnore ?? [])
    .map((d) => relative(root, d))
    .filter((r) => r && !r.startsWith(".."));
  const dirNames = new Set([".git", ...config.excludeDir.filter((d) => !d.includes("/"))]);
  const dirPaths = [
    ...always.map(toPosix),
    ...config.excludeDir.filter((d) => d.includes("/")).map(trimSlashes),
  ];
  const exclude = config.exclude.map(compileGlob);
  const excludeRe = config.excludeRegex.map((r) => new RegExp(r));
  const include = config.include.map(compileGlob);
  const exts = new Set(config.includeExt.map((e) => e.toLowerCase()));
  const gitignore = config.gitignore ? (opts.gitignore ?? createGitignore(root)) : undefined;

  const rel = (abs: string): string | null => {
    const r = relative(root, abs);
    if (r.startsWith("..") || isAbsolute(r)) return null;
    return toPosix(r);
  };

  const dirExcluded = (r: string): boolean => {
    const parts = r.split("/");
    if (parts.some((p) => dirNames.has(p))) return true;
    return dirPaths.some((d) => r === d || r.startsWith(`${d}/`));
  };

  const pathExcluded = (r: string, isDir: boolean): boolean =>
    exclude.some((m) => m(r)) ||
    excludeRe.some((re) => re.test(r)) ||
    (gitignore?.ignores(r, isDir) ?? false);

  const fileWanted = (r: string): boolean =>
    exts.has(extname(r).slice(1).toLowerCase()) || include.some((m) => m(r));

  return {
    relative: rel,
    ignored(abs, isDir) {
      const r = rel(abs);
      if (r === null) return true;
      if (r === "") return false;
      if (isDir === false) {
        const parent = r.includes("/") ? r.slice(0, r.lastIndexOf("/")) : "";
        return (parent !== "" && dirExcluded(parent)) || pathExcluded(r, false) || !fileWanted(r);
      }
      // A directory, or unknown: prune only what is excluded either way.
      if (dirExcluded(r)) return true;
      return pathExcluded(r, isDir ?? isDirectory(abs));
    },
    accepts(abs) {
      const r = rel(abs);
      if (r === null || r === "") return false;
      const parent = r.includes("/") ? r.slice(0, r.lastIndexOf("/")) : "";
      if (parent !== "" && dirExcluded(parent)) return false;
      return fileWanted(r) && !pathExcluded(r, false);
    },
  };
}

const toPosix = (p: string) => (sep === "/" ? p : p.split(sep).join("/"));
const trimSlashes = (p: string) => p.replace(/^\.\//, "").replace(/^\/+|\/+$/g, "");
