/**
 * Only the nil that mattered: the expressions of the crashing line that could have been the nil
 * (`j.owner` in `j.owner.email`, `s.counts` in `s.counts[word]++`, `s.notifier` in
 * `s.notifier.Notify(...)`, `s.onDone` in `s.onDone(...)`), for the debugger to evaluate, and the
 * decision once it has: one nil names the culprit, several are said to be undecidable.
 */
import type { NilCause, NilUse } from "../contracts/index.js";

export interface NilCandidate {
  expression: string;
  /** What the line does with it. */
  use: NilUse;
}

/** Which nil crash this is, from the panic or fault message; null for any other crash. */
export function nilCrashKind(message: string, signalAddr?: string): "dereference" | "map write" | null {
  if (/assignment to entry in nil map/.test(message)) return "map write";
  if (/nil pointer dereference/.test(message)) return "dereference";
  // A SIGSEGV in the first page (runtime/signal_unix.go sigpanic: addr < 0x1000) is a nil
  // dereference even when the message was not read.
  if (/SIGSEGV/.test(message) && signalAddr !== undefined && BigInt(signalAddr) < 0x1000n)
    return "dereference";
  return null;
}

/** The line without string, rune and raw-string literals (spaces kept) and without a trailing comment. */
function codeOnly(line: string): string {
  let out = "";
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === "/" && line[i + 1] === "/") break;
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < line.length && line[j] !== c) j += c !== "`" && line[j] === "\\" ? 2 : 1;
      out += `${c}${" ".repeat(Math.max(0, Math.min(j, line.length) - i - 1))}${c}`;
      i = j + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

const GO_KEYWORDS = new Set([
  "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for",
  "func", "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select",
  "struct", "switch", "type", "var", "nil", "true", "false", "len", "cap", "append", "make", "new",
  "panic", "recover", "delete", "copy", "close", "print", "println", "min", "max", "clear",
]); // biome-ignore format: one keyword list

/**
 * Every expression of the line a nil would crash: each prefix of a selector chain followed by `.`
 * (dereferenced or its method called), a chain followed by `(` (called), a chain indexed by `[`
 * and assigned (a map write), a chain after a unary `*`.
 */
export function nilCandidates(line: string): NilCandidate[] {
  const code = codeOnly(line);
  const out: NilCandidate[] = [];
  const seen = new Set<string>();
  const add = (expression: string, use: NilUse) => {
    const key = `${expression}\u0000${use}`;
    if (seen.has(key) || GO_KEYWORDS.has(expression)) return;
    seen.add(key);
    out.push({ expression, use });
  };
  const chain = /(?<![\w.])([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)/g;
  for (const m of code.matchAll(chain)) {
    const parts = (m[1] as string).split(/\s*\.\s*/);
    const end = (m.index ?? 0) + (m[0] as string).length;
    const after = code.slice(end).trimStart();
    const before = code.slice(0, m.index).trimEnd();
    // Each prefix followed by a selector is read through: a nil pointer there faults, a nil
    // interface whose method is called faults.
    for (let k = 1; k < parts.length; k++) {
      const prefix = parts.slice(0, k).join(".");
      const isCall = k === parts.length - 1 && after.startsWith("(");
      add(prefix, isCall ? "method call" : "dereference");
    }
    const whole = parts.join(".");
    if (after.startsWith("(")) add(whole, "call");
    if (after.startsWith("[") && /^\[[^\]]*\]\s*(=[^=]|[-+*/%&|^]=|<<=|>>=|\+\+|--)/.test(after))
      add(whole, "map write");
    // `*p` after an operator or a keyword (`return *p`), not `a * p`.
    const operand = /(\w+|[)\]])\s*\*$/.exec(before)?.[1];
    if (before.endsWith("*") && (operand === undefined || GO_KEYWORDS.has(operand)))
      add(whole, "dereference");
  }
  return out;
}

/**
 * The names the file's imports bind (`fmt`, `url` for net/url, an alias): `fmt.Println` is a
 * package's function, not a value that could be nil.
 */
export function importedNames(source: readonly string[]): Set<string> {
  const out = new Set<string>();
  let inBlock = false;
  for (const raw of source) {
    const line = raw.trim();
    if (/^import\s*\($/.test(line)) {
      inBlock = true;
      continue;
    }
    if (inBlock && line === ")") {
      inBlock = false;
      continue;
    }
    const spec = inBlock ? line : /^import\s+(.*)$/.exec(line)?.[1];
    const m = spec ? /^(?:([A-Za-z_]\w*|\.)\s+)?"([^"]+)"/.exec(spec) : null;
    if (!m) continue;
    const name =
      m[1] ??
      (m[2] as string)
        .split("/")
        .pop()
        ?.replace(/^go-|\.v\d+$|-go$/g, "");
    if (name && name !== "_" && name !== ".") out.add(name);
  }
  return out;
}

/** What the debugger found for one candidate. */
export interface EvaluatedCandidate extends NilCandidate {
  /** Whether it was nil; null when it could not be read (with `why`). */
  nil: boolean | null;
  /** `pointer`, `map`, `interface`, `func`... */
  kind?: string;
  why?: string;
}

/**
 * The nil that crashed, from the evaluated candidates: those that were nil and used in a way a nil
 * of their kind crashes (a nil pointer read through, a nil map written, a nil interface's method
 * or a nil func called). One names the culprit; several, or none with some unreadable, say why
 * it cannot be decided.
 */
export function decideNil(
  crash: "dereference" | "map write",
  candidates: EvaluatedCandidate[],
  addr: string | undefined,
  lineKnown: boolean,
): NilCause {
  const at = addr !== undefined ? { addr } : {};
  if (!lineKnown)
    return {
      expression: null,
      use: crash,
      ...at,
      note: "the crashing line's source is not on this machine: the nil expression cannot be named",
    };
  const crashes = (c: EvaluatedCandidate) =>
    crash === "map write"
      ? c.use === "map write" && c.kind === "map"
      : (c.use === "dereference" && c.kind === "pointer") ||
        (c.use === "method call" && (c.kind === "interface" || c.kind === "pointer")) ||
        (c.use === "call" && c.kind === "func");
  const found = candidates.filter((c) => c.nil === true && crashes(c));
  const names = [...new Set(found.map((c) => c.expression))];
  if (names.length === 1) {
    const c = found[0] as EvaluatedCandidate;
    return { expression: c.expression, use: c.use, ...at };
  }
  if (names.length > 1)
    return {
      expression: null,
      use: crash,
      ...at,
      candidates: names,
      note: `cannot be decided from the core: ${names.join(" and ")} were all nil on the crashing line`,
    };
  const unread = [...new Set(candidates.filter((c) => c.nil === null).map((c) => c.expression))];
  return {
    expression: null,
    use: crash,
    ...at,
    ...(unread.length ? { candidates: unread } : {}),
    note: unread.length
      ? `cannot be decided: ${unread.join(", ")} could not be read (${candidates.find((c) => c.nil === null)?.why ?? "unreadable"})`
      : "no expression on the crashing line was nil when the core was written (the nil was in a callee inlined here, or a value changed since)",
  };
}
