/**
 * Include/exclude globs of the watch config (hotdump.toml and imported .air.toml), compiled by
 * picomatch: `*`, `?`, `**`, `[abc]`/`[!abc]` and `{a,b}`. .gitignore lines are not globs of this
 * kind (git has no braces) and go through gitignore.ts instead.
 */
import picomatch from "picomatch";

/** True when a root-relative posix path matches. */
type PathMatcher = (rel: string) => boolean;

/**
 * A pattern with a "/" (other than a trailing one) is anchored at the root; one without matches a
 * name at any depth, as in .air.toml and .gitignore.
 */
export function compileGlob(pattern: string): PathMatcher {
  const anchored = pattern.startsWith("/") || pattern.replace(/\/$/, "").includes("/");
  const p = pattern.replace(/^\//, "").replace(/\/$/, "");
  // posix: without it picomatch 4.0.7 reads the shell's `[!a]` wrongly (`x[!a].go` matched
  // xa.go and not xb.go when tried); with it, `[!a]` is "not a" as in sh and .air.toml.
  return picomatch(anchored ? p : `**/${p}`, { dot: true, posix: true });
}
