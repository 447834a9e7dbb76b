/**
 * .gitignore support: a small matcher for the rules of gitignore(5) (negation, directory-only
 * patterns, anchoring, `**`), reading each directory's .gitignore lazily as the watcher meets it,
 * plus .git/info/exclude. Behind the IgnoreSource interface so a library (the `ignore` npm
 * package) can replace it without touching the watcher.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { globToRegExp } from "./glob.js";

export interface IgnoreSource {
  /** `rel` is a posix path relative to the root; `isDir` tells directory-only rules apart. */
  ignores(rel: string, isDir: boolean): boolean;
}

interface Rule {
  re: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

export function parseGitignore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (let line of text.split(/\r?\n/)) {
    // Trailing spaces are ignored unless escaped with a backslash.
    line = line.replace(/(?<!\\)\s+$/, "");
    if (line === "" || line.startsWith("#")) continue;
    let negate = false;
    if (line.startsWith("!")) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith("\\!") || line.startsWith("\\#")) line = line.slice(1);
    const dirOnly = line.endsWith("/");
    rules.push({ re: globToRegExp(line), negate, dirOnly });
  }
  return rules;
}

/** Decision of one rule list for a path relative to the list's directory: true/false, or undefined if no rule matched. */
function decide(rules: Rule[], rel: string, isDir: boolean): boolean | undefined {
  let result: boolean | undefined;
  for (const r of rules) {
    if (r.dirOnly && !isDir) continue;
    if (r.re.test(rel)) result = !r.negate;
  }
  return result;
}

export function createGitignore(root: string): IgnoreSource {
  const cache = new Map<string, Rule[]>();
  const rulesFor = (dirRel: string): Rule[] => {
    let rules = cache.get(dirRel);
    if (!rules) {
      rules = [];
      try {
        rules = parseGitignore(readFileSync(join(root, dirRel, ".gitignore"), "utf8"));
      } catch {
        // no .gitignore here
      }
      if (dirRel === "") {
        try {
          rules = [...parseGitignore(readFileSync(join(root, ".git", "info", "exclude"), "utf8")), ...rules];
        } catch {
          // no exclude file
        }
      }
      cache.set(dirRel, rules);
    }
    return rules;
  };

  const self = (rel: string, isDir: boolean): boolean => {
    const parts = rel.split("/");
    let ignored = false;
    // Deeper .gitignore files override shallower ones (gitignore(5) precedence).
    for (let d = 0; d < parts.length; d++) {
      const dirRel = parts.slice(0, d).join("/");
      const sub = parts.slice(d).join("/");
      const v = decide(rulesFor(dirRel), sub, isDir);
      if (v !== undefined) ignored = v;
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
