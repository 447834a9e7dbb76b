/**
 * .gitignore support through the `ignore` package (gitignore(5) rules: negation, directory-only
 * patterns, anchoring, `**`, escapes; no braces, as in git), one rule set per directory read
 * lazily as the watcher meets it, plus .git/info/exclude at the root.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ignore, { type Ignore } from "ignore";

export interface IgnoreSource {
  /** `rel` is a posix path relative to the root; `isDir` tells directory-only rules apart. */
  ignores(rel: string, isDir: boolean): boolean;
}

const readOr = (path: string): string => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

export function createGitignore(root: string): IgnoreSource {
  const cache = new Map<string, Ignore>();
  const rulesFor = (dirRel: string): Ignore => {
    let rules = cache.get(dirRel);
    if (!rules) {
      rules = ignore();
      if (dirRel === "") rules.add(readOr(join(root, ".git", "info", "exclude")));
      rules.add(readOr(join(root, dirRel, ".gitignore")));
      cache.set(dirRel, rules);
    }
    return rules;
  };

  const self = (rel: string, isDir: boolean): boolean => {
    const parts = rel.split("/");
    let ignored = false;
    // Deeper .gitignore files override shallower ones (gitignore(5) precedence).
    for (let d = 0; d < parts.length; d++) {
      const sub = parts.slice(d).join("/");
      // `ignore` applies directory-only rules (`build/`) to paths given with a trailing slash.
      const t = rulesFor(parts.slice(0, d).join("/")).test(isDir ? `${sub}/` : sub);
      if (t.ignored) ignored = true;
      else if (t.unignored) ignored = false;
    }
    return ignored;
  };

  return {
    ignores(rel, isDir) {
      // git cannot re-include a file whose parent directory is excluded.
      const parts = rel.split("/");
      for (let i = 1; i < parts.length; i++) if (self(parts.slice(0, i).join("/"), true)) return true;
      return self(rel, isDir);
    },
  };
}

/** For callers that only have a path: stat to learn if it is a directory (false if it is gone). */
export function isDirectory(abs: string): boolean {
  try {
    return statSync(abs).isDirectory();
  } catch {
    return false;
  }
}
