/**
 * Splits a simple shell command line into words (quotes and backslashes honoured) so an
 * .air.toml `cmd`/`full_bin` can be mapped to argv. Anything needing a real shell (pipes, `&&`,
 * redirections, substitutions) yields null: hotdump never runs these through a shell.
 */
export function shellWords(line: string): string[] | null {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) cur += line[++i];
      else if (c === "$" && quote === '"') return null;
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else if ("|&;<>()`$*?".includes(c)) {
      return null;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) return null;
  if (inWord) words.push(cur);
  return words;
}

/** Leading NAME=VALUE words (a shell's per-command environment), split from the rest. */
export function splitEnvPrefix(words: string[]): { env: Record<string, string>; rest: string[] } {
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length; i++) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(words[i] as string);
    if (!m) break;
    env[m[1] as string] = m[2] as string;
  }
  return { env, rest: words.slice(i) };
}
