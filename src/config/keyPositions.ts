/**
 * Maps a key path (["build", "gcflags"]) back to its line and column in the TOML text, so schema
 * mistakes are reported as `hotdump.toml:12:5: ...` like syntax errors are. smol-toml returns plain
 * objects without positions, hence this small scanner: it understands table headers, dotted and
 * quoted keys and skips multi-line strings; anything deeper (array items, inline-table members)
 * falls back to the nearest located ancestor.
 */

interface SourcePosition {
  line: number;
  column: number;
}

const KEY = String.raw`(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')`;
const HEADER_RE = new RegExp(String.raw`^\s*\[\[?\s*(${KEY}(?:\s*\.\s*${KEY})*)\s*\]\]?`);
const ASSIGN_RE = new RegExp(String.raw`^(\s*)(${KEY}(?:\s*\.\s*${KEY})*)\s*=`);
const PART_RE = new RegExp(KEY, "g");

function splitKey(dotted: string): string[] {
  return (dotted.match(PART_RE) ?? []).map((p) =>
    p.startsWith('"') ? (JSON.parse(p) as string) : p.startsWith("'") ? p.slice(1, -1) : p,
  );
}

/** Every key and table header in the text, by joined path ("build.gcflags" → position). */
export function indexKeys(text: string): Map<string, SourcePosition> {
  const index = new Map<string, SourcePosition>();
  const lines = text.split(/\r?\n/);
  let table: string[] = [];
  let inMultiline: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (inMultiline) {
      if (line.includes(inMultiline)) inMultiline = null;
      continue;
    }
    const header = HEADER_RE.exec(line);
    if (header) {
      table = splitKey(header[1] as string);
      const key = table.join(".");
      if (!index.has(key)) index.set(key, { line: i + 1, column: line.indexOf("[") + 1 });
      continue;
    }
    const assign = ASSIGN_RE.exec(line);
    if (assign) {
      const parts = [...table, ...splitKey(assign[2] as string)];
      const key = parts.join(".");
      if (!index.has(key)) index.set(key, { line: i + 1, column: (assign[1] as string).length + 1 });
      const rest = line.slice(assign[0].length);
      for (const q of ['"""', "'''"]) {
        const first = rest.indexOf(q);
        if (first >= 0 && rest.indexOf(q, first + 3) < 0) inMultiline = q;
      }
    }
  }
  return index;
}

/**
 * Position of `path` (or of its nearest ancestor that is written in the text). For a member of an
 * inline table (`env = { PORT = 8080 }`) the member's name is searched for on the ancestor's line.
 */
export function locateKey(
  text: string,
  path: readonly PropertyKey[],
  index = indexKeys(text),
): SourcePosition | null {
  const parts = path.map(String);
  for (let n = parts.length; n > 0; n--) {
    const pos = index.get(parts.slice(0, n).join("."));
    if (!pos) continue;
    const next = path[n];
    if (typeof next === "string") {
      const line = text.split(/\r?\n/)[pos.line - 1] ?? "";
      const at = line
        .slice(pos.column - 1)
        .search(new RegExp(String.raw`(^|[\s{,"'])${escapeRe(next)}["']?\s*=`));
      if (at >= 0) {
        const col = pos.column + at + (/[\s{,"']/.test(line[pos.column - 1 + at] ?? "") ? 1 : 0);
        return { line: pos.line, column: col };
      }
    }
    return pos;
  }
  return null;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
