/**
 * Where a file pattern puts the core of one crash, from what hotdump knows about the process.
 * Some values exist only inside the kernel at dump time (%t, the crashing thread's %i, %C), so the
 * answer is either an exact path or a search: a literal root directory and one regular expression
 * per remaining path component, with the %t captures to check against the run's time window.
 */
import { isAbsolute, join, resolve } from "node:path";
import { escapeComponent, type ParsedCorePattern, type Specifier, type Token } from "./corePattern.js";

/** What hotdump knows about the process that died. */
export interface CorePathFacts {
  /** pid as hotdump sees it (child.pid): the kernel's %p when hotdump and the child share a pid namespace. */
  pid: number;
  /** The process's own NSpid (last field of NSpid in /proc/PID/status) when it differs from `pid`. */
  nsPid?: number;
  /** pid in the initial namespace (first NSpid field): %P. Equal to `pid` outside containers. */
  initPid?: number;
  uid?: number;
  gid?: number;
  /** Signal number that killed it (%s). */
  signal?: number;
  /** Absolute path of the executable as /proc/PID/exe named it. */
  exe?: string;
  /** Task name (%e); by default the first 15 bytes of the basename of the exec'd path. */
  comm?: string;
  /** Working directory of the process: relative patterns land there. */
  cwd: string;
  hostname?: string;
  /** RLIMIT_CORE soft limit of the process ("unlimited" or bytes), for %c. */
  coreLimit?: bigint | "unlimited";
  /** Dumpable mode (%d); 1 for ordinary processes. */
  dumpable?: number;
  /** Milliseconds since the epoch: the dump happened between these two (%t). */
  startedAt: number;
  endedAt: number;
}

interface ComponentMatcher {
  regex: RegExp;
  /** For each capture group, in order, the specifier it stands for. */
  groups: Specifier[];
}

export type CoreLocation =
  | { kind: "exact"; path: string }
  | {
      kind: "search";
      /** Deepest directory with a fully known path. */
      root: string;
      /** One matcher per path component below root. */
      components: ComponentMatcher[];
      /** Human-readable shape, e.g. "/tmp/x/capcrash-1234-<t>-6.core". */
      display: string;
    };

/** comm of a freshly exec'd program: the kernel copies the basename of the execve() path, 15 bytes at most (TASK_COMM_LEN 16). */
export function commFromExecPath(path: string): string {
  const base = path.split("/").pop() ?? path;
  return Buffer.from(base).subarray(0, 15).toString("utf8");
}

const UNLIMITED = 18446744073709551615n;

type Piece = { literal: string } | { regex: string; spec: Specifier };

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The known value of one specifier, or a regex for the unknown ones. */
function expandSpec(spec: Specifier, f: CorePathFacts): Piece {
  const num = (v: number | bigint | undefined, re = "\\d+"): Piece =>
    v === undefined ? { regex: re, spec } : { literal: String(v) };
  switch (spec) {
    case "p":
      return num(f.nsPid ?? f.pid);
    case "P":
      return num(f.initPid ?? (f.nsPid === undefined ? f.pid : undefined));
    case "i":
    case "I":
      // The crashing thread's tid: any of a Go program's threads can take the fatal signal.
      return { regex: "\\d+", spec };
    case "u":
      return num(f.uid);
    case "g":
      return num(f.gid);
    case "d":
      return num(f.dumpable, "\\d");
    case "s":
      return num(f.signal);
    case "c":
      return f.coreLimit === undefined
        ? { regex: "\\d+", spec }
        : { literal: String(f.coreLimit === "unlimited" ? UNLIMITED : f.coreLimit) };
    case "t":
      return { regex: "(\\d+)", spec };
    case "C":
      return { regex: "\\d+", spec };
    case "F":
      // Only meaningful for a pipe helper; in a file name it is either empty or a number.
      return { regex: "\\d*", spec };
    case "h":
      return f.hostname === undefined ? { regex: "[^/]+", spec } : { literal: escapeComponent(f.hostname) };
    case "e":
      return f.comm === undefined ? { regex: "[^/]+", spec } : { literal: escapeComponent(f.comm) };
    case "f":
      return f.exe === undefined
        ? { regex: "[^/]+", spec }
        : { literal: escapeComponent(f.exe.split("/").pop() ?? "") };
    case "E":
      // d_path() of the executable: when the file was deleted or replaced by rename (what a
      // hot reload does to the previous binary) the kernel names it "PATH (deleted)".
      return f.exe === undefined
        ? { regex: "[^/]+", spec }
        : { regex: `${reEscape(escapeComponent(f.exe))}(?: \\(deleted\\))?`, spec };
  }
}

/** Expand a file template for these facts. Relative templates resolve against `facts.cwd`. */
export function expectedCorePath(
  parsed: ParsedCorePattern & { kind: "file" },
  facts: CorePathFacts,
): CoreLocation {
  const pieces: Piece[] = parsed.template.map((t: Token) =>
    t.kind === "literal" ? { literal: t.text } : expandSpec(t.spec, facts),
  );
  // Split into path components on the literal slashes (expansions never contain '/').
  const comps: Piece[][] = [[]];
  for (const p of pieces) {
    if ("literal" in p) {
      const parts = p.literal.split("/");
      parts.forEach((part, i) => {
        if (i > 0) comps.push([]);
        if (part !== "") comps[comps.length - 1]!.push({ literal: part });
      });
    } else comps[comps.length - 1]!.push(p);
  }
  const base = parsed.relative ? facts.cwd : "/";
  const known = (c: Piece[]) => c.every((p) => "literal" in p);
  const text = (c: Piece[]) => c.map((p) => ("literal" in p ? p.literal : `<${p.spec}>`)).join("");
  const nonEmpty = comps.filter((c) => c.length > 0);
  if (nonEmpty.every(known)) return { kind: "exact", path: resolve(base, ...nonEmpty.map(text)) };
  let rootParts: string[] = [];
  let i = 0;
  while (i < nonEmpty.length && known(nonEmpty[i]!) && i < nonEmpty.length - 1)
    rootParts = [...rootParts, text(nonEmpty[i++]!)];
  const root = resolve(base, ...rootParts);
  const components = nonEmpty.slice(i).map((c): ComponentMatcher => {
    const groups: Specifier[] = [];
    const src = c
      .map((p) => {
        if ("literal" in p) return reEscape(p.literal);
        if (p.regex.startsWith("(")) groups.push(p.spec);
        return p.regex;
      })
      .join("");
    return { regex: new RegExp(`^${src}$`), groups };
  });
  const display = join(root, ...nonEmpty.slice(i).map(text));
  return { kind: "search", root: isAbsolute(root) ? root : resolve(root), components, display };
}

/** Whether the %t values captured for a candidate fall in the run's window (1 s of slack each side: %t is truncated seconds). */
export function timesFit(captured: number[], facts: Pick<CorePathFacts, "startedAt" | "endedAt">): boolean {
  const lo = Math.floor(facts.startedAt / 1000) - 1;
  const hi = Math.ceil(facts.endedAt / 1000) + 1;
  return captured.every((t) => t >= lo && t <= hi);
}
