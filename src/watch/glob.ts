/**
 * A small glob → RegExp compiler for include/exclude patterns and .gitignore lines: `*`, `?`,
 * `**`, `[abc]`/`[!abc]` and `{a,b}`. Node 20's path.matchesGlob exists but prints an
 * ExperimentalWarning on first use (checked on v20.20), which a CLI must not show its users.
 */

/** Compile `pattern` for posix relative paths. A pattern without "/" matches a name at any depth. */
export function globToRegExp(pattern: string, opts: { anyDepth?: boolean } = {}): RegExp {
  let p = pattern;
  const anchored = p.startsWith("/") || p.replace(/\/$/, "").includes("/");
  p = p.replace(/^\//, "").replace(/\/$/, "");
  let re = "";
  let braces = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === "*") {
      if (p[i + 1] === "*") {
        const atStart = i === 0 || p[i - 1] === "/";
        const atEnd = i + 2 === p.length || p[i + 2] === "/";
        if (atStart && atEnd) {
          if (i + 2 === p.length) re += ".*";
          else {
            re += "(?:.*/)?";
            i++; // the slash after **
          }
          i++;
          continue;
        }
      }
      re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = p.indexOf("]", i + 2);
      if (close < 0) re += "\\[";
      else {
        let body = p.slice(i + 1, close);
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = close;
      }
    } else if (c === "{") {
      braces++;
      re += "(?:";
    } else if (c === "}" && braces > 0) {
      braces--;
      re += ")";
    } else if (c === "," && braces > 0) re += "|";
    else if (c === "\\" && i + 1 < p.length) re += escapeChar(p[++i] as string);
    else re += escapeChar(c);
  }
  const prefix = anchored || opts.anyDepth === false ? "^" : "^(?:.*/)?";
  return new RegExp(`${prefix}${re}$`);
}

const escapeChar = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
