/**
 * What every renderer shows, decided once: which frames fold, how a variable reads, which
 * goroutine groups make the cut. Renderers only choose the markup.
 */
import type {
  Frame,
  GoroutineGroup,
  Location,
  Mapping,
  NilCause,
  NilUse,
  Race,
  RaceAccess,
  Report,
  SourceUse,
  Variable,
} from "../contracts/index.js";
import { headline as messageLine } from "../contracts/index.js";

const TOP_GROUPS = 10;
const MAX_VALUE_CHARS = 160;

/**
 * `index` is the frame's number: its place in goroutine.frames, which is Delve's own frame number
 * when Delve read the stack, and what `eval --frame`, `debug` and the dashboard count with.
 */
export type StackItem =
  | { kind: "frame"; frame: Frame; index: number }
  | { kind: "folded"; count: number; first: number };

/** Runs of runtime frames become one `... N runtime frames` item. */
export function foldFrames(frames: readonly Frame[]): StackItem[] {
  const out: StackItem[] = [];
  frames.forEach((frame, index) => {
    const last = out.at(-1);
    if (!frame.runtime) out.push({ kind: "frame", frame, index });
    else if (last?.kind === "folded") last.count++;
    else out.push({ kind: "folded", count: 1, first: index });
  });
  return out;
}

/** `#9`: a frame's number as every renderer and the dashboard print it. */
export const frameNumber = (i: number) => `#${i}`;

/** `#0-#8 ... 9 runtime frames` */
export const foldedLabel = (n: number, first = 0) =>
  `${n === 1 ? frameNumber(first) : `${frameNumber(first)}-${frameNumber(first + n - 1)}`} ... ${n} runtime frame${n === 1 ? "" : "s"}`;

export const clip = (s: string, max = MAX_VALUE_CHARS) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/**
 * `name=value`. Every nil field is not called out (a CLI library's app object has a dozen): the
 * one that crashed is the report's `nil` (nilText), the full list stays in JSON's nilFields.
 */
export function variableText(v: Variable): string {
  if (v.redacted) return `${v.name}=<redacted>`;
  if (v.unreadable) return `${v.name}=<unreadable: ${v.unreadable}>`;
  return `${v.name}=${clip(v.value)}`;
}

/** `j.owner is nil (dereferenced; fault address 0x0)`, or why the nil cannot be named. */
export function nilText(n: NilCause): string {
  const addr = n.addr ? `fault address ${n.addr}` : "";
  if (n.expression === null)
    return `${n.note ?? "the nil expression cannot be decided"}${addr ? ` (${addr})` : ""}`;
  const what: Record<NilUse, string> = {
    dereference: "dereferenced",
    "map write": "a nil map written to",
    "method call": "a nil interface whose method was called",
    call: "a nil func called",
  };
  return `${n.expression} is nil: ${what[n.use]}${addr ? `; ${addr}` : ""}`;
}

const CLASS_TEXT: Record<string, string> = {
  c: "C code",
  stdlib: "the standard library",
  cgo: "cgo-generated code",
  runtime: "the Go runtime",
  // A site of class user is never the main module's own frame (that would be the culprit): it is a
  // dependency's (src/analyze/frames.ts culpritIndex).
  user: "a dependency",
};

/** How a crash site of this frame class is named, in every renderer and on the dashboard. */
export const siteClassText = (cls: string): string => CLASS_TEXT[cls] ?? cls;

/**
 * What follows the culprit line: where it happened when that is elsewhere (the C function that
 * faulted, the sync method that threw), the local file of a -trimpath path, and a stale source.
 */
export function culpritNotes(r: Report): string[] {
  const out: string[] = [];
  if (r.culprit?.frame !== undefined && r.goroutine)
    out.push(
      `frame ${frameNumber(r.culprit.frame)} of goroutine ${r.goroutine.id} (eval --frame ${r.culprit.frame})`,
    );
  if (r.site) out.push(`happened in ${siteClassText(r.site.class)}: ${locationText(r.site)}`);
  if (r.culprit?.localFile) out.push(`source on this machine: ${r.culprit.localFile}`);
  const stale = culpritFrame(r)?.source?.stale;
  if (stale) out.push(`source ${stale}`);
  return out;
}

export const where = (l: { file: string; line: number }) =>
  l.line > 0 ? `${l.file}:${l.line}` : l.file || "?";

export const locationText = (l: Location) => `${l.function} at ${where(l)}`;

export function groupWhere(g: GoroutineGroup): string {
  return g.line > 0 || g.file ? `${g.function} (${where(g)})` : g.function;
}

export function topGroups(groups: readonly GoroutineGroup[]): { shown: GoroutineGroup[]; more: number } {
  return { shown: groups.slice(0, TOP_GROUPS), more: Math.max(0, groups.length - TOP_GROUPS) };
}

export const moreGroupsLabel = (n: number) => `${n} more group${n === 1 ? "" : "s"}`;

/** The frame the culprit points at, when the stack has it (it carries args, locals, source). */
export function culpritFrame(r: Report): Frame | undefined {
  const c = r.culprit;
  if (!c) return undefined;
  const at = (f: Frame) => f.function === c.function && f.file === c.file && f.line === c.line;
  const indexed = c.frame !== undefined ? r.goroutine?.frames[c.frame] : undefined;
  if (indexed && indexed.function === c.function && indexed.line === c.line) return indexed;
  // A race has no crashing goroutine: the culprit is the racing write's frame.
  return (
    r.goroutine?.frames.find(at) ??
    (r.races ?? []).flatMap((x) => x.accesses.flatMap((a) => a.frames)).find((f) => at(f) && f.source)
  );
}

export interface SourceLine {
  number: number;
  text: string;
  culprit: boolean;
}

export function sourceLines(frame: Frame | undefined): SourceLine[] {
  if (!frame?.source) return [];
  return frame.source.lines.map((text, i) => {
    const number = frame.source!.startLine + i;
    return { number, text, culprit: number === frame.line };
  });
}

/** `panic: <message>`; a struct value the traceback printed as an address shows decoded instead. */
export function headline(r: Report): string {
  const kind = r.kind === "unknown" ? "crash" : r.kind;
  const m = messageLine(r);
  // A signal's message already names it (`SIGSEGV: segmentation violation`).
  if (m && r.kind === "signal" && /^SIG[A-Z]+/.test(m)) return m;
  return m ? `${kind}: ${m}` : kind;
}

/**
 * The report's `next` commands less `hotdump report ID`: whoever reads a rendered report is
 * already reading it (report.json keeps the full list for scripts).
 */
export const nextSteps = (r: Pick<Report, "next">): string[] =>
  r.next.filter((n) => !/^hotdump report \S+(\s+--store\s+\S+)?$/.test(n));

/**
 * Whether the decoded value says more than the headline already does: a string or an error whose
 * text is the message (`"boom"`, `"disk full" (*errors.errorString)`) does not.
 */
export function showValue(r: Report): r is Report & { value: string } {
  if (r.value === null || r.value === messageLine(r)) return false;
  const quoted = /^"((?:[^"\\]|\\.)*)"(?: \([^)]*\))?$/.exec(r.value)?.[1];
  return quoted === undefined || unquote(quoted) !== r.message;
}

/** The text of a %q body, as far as the message can hold it (\xNN bytes stay as written). */
const unquote = (s: string) =>
  s.replace(/\\(["\\nt])/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c));

function useText(name: string, u: SourceUse): string {
  return `${name}: ${u.used ? "used" : "not used"}${u.note ? ` (${u.note})` : ""}`;
}

export function sourcesText(r: Report): string[] {
  return [
    useText("delve", r.sources.delve),
    useText("gdb", r.sources.gdb),
    useText("traceback", r.sources.traceback),
  ];
}

/** Facts about the crash's provenance, as label/value pairs. */
export function facts(r: Report): [string, string][] {
  const out: [string, string][] = [];
  if (r.signal) {
    const s = r.signal;
    const extra = [s.code && `code=${s.code}`, s.addr && `addr=${s.addr}`, s.pc && `pc=${s.pc}`].filter(
      Boolean,
    );
    out.push(["Signal", [s.name, ...extra].join(" ")]);
  }
  if (r.hang) {
    // A hang: why it was judged hung, then what waited, longest first (analyze/hang.ts).
    out.push(["Hung", r.hang.reason]);
    for (const w of r.hang.waits.slice(0, 5))
      out.push([
        "Waiting",
        `${w.count} in ${w.state}${w.minutes ? `, ${w.minutes} min` : ""}, at ${w.function} ${w.file}:${w.line}`,
      ]);
  }
  const p = r.process;
  if (p?.time)
    out.push([
      r.kind === "snapshot"
        ? "Taken"
        : r.kind === "recovered"
          ? "Recovered"
          : r.kind === "hang"
            ? "Dumped"
            : "Crashed",
      p.time,
    ]);
  if (r.recovered)
    out.push([
      "Recovered by",
      `${r.recovered.by}${r.recovered.remoteAddr ? ` (request from ${r.recovered.remoteAddr})` : ""}; the service kept running, so there is no core`,
    ]);
  if (r.fingerprint) out.push(["Signature", r.fingerprint]);
  if (p?.generation !== null && p?.generation !== undefined) out.push(["Generation", String(p.generation)]);
  if (p?.pid !== null && p?.pid !== undefined) out.push(["PID", String(p.pid)]);
  if (p && p.command.length > 0) out.push(["Command", p.command.map(shellWord).join(" ")]);
  if (r.goVersion) out.push(["Go", r.goVersion]);
  if (r.binary?.path) out.push(["Binary", r.binary.path]);
  if (r.binary?.goBuildId) out.push(["Go build ID", r.binary.goBuildId]);
  if (r.core?.path) out.push(["Core", r.core.path]);
  if (r.core?.buildIdMatch === false) out.push(["Build ID", "core does NOT match the binary"]);
  if (r.core?.truncated) out.push(["Core", "truncated"]);
  return out;
}

/** Registers in a fixed, familiar order first (rip, rsp, rbp...), then the rest as given. */
export function orderedRegisters(r: Report): { name: string; value: string }[] {
  const first = ["rip", "rsp", "rbp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi"];
  const rank = (n: string) => (first.includes(n) ? first.indexOf(n) : first.length);
  return [...r.registers].sort((a, b) => rank(a.name) - rank(b.name));
}

/** Memory-map lines shown in the terminal before the rest is summarised. */
export const MAP_LINES = 12;

/** `0x400000-0x47b000 r-x /srv/orders +0x0`, like /proc/PID/maps. */
export function mappingLine(m: Mapping, text: (s: string) => string = (s) => s): string {
  return `${m.start}-${m.end} ${m.perms ?? "---"} ${m.file ? `${text(m.file)}${m.offset ? ` +${m.offset}` : ""}` : "(anonymous)"}`;
}

/** A word as a shell would need it: plain when safe, else single-quoted. */
function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`;
}

/** `Previous write at 0xc0000b0008 by goroutine 7 (mutexes: write M1)` */
function accessTitle(a: RaceAccess): string {
  const op = `${a.atomic ? "atomic " : ""}${a.op}`;
  const what = a.previous ? `Previous ${op}` : `${op[0]!.toUpperCase()}${op.slice(1)}`;
  const who = a.goroutine === null ? "main goroutine" : `goroutine ${a.goroutine}`;
  return `${what} at ${a.addr} by ${who}${a.mutexes ? ` (mutexes: ${a.mutexes})` : ""}`;
}

/** `Data race 2 of 3` */
export const raceTitle = (i: number, n: number) => (n === 1 ? "Data race" : `Data race ${i + 1} of ${n}`);

/** The stacks of one race, in the order the race detector printed them, each with its title. */
export function raceStacks(r: Race): { title: string; frames: Frame[] }[] {
  return [
    ...r.accesses.map((a) => ({ title: accessTitle(a), frames: a.frames })),
    ...r.created.map((c) => ({
      title: `Goroutine ${c.goroutine} (${c.state}) created at`,
      frames: c.frames,
    })),
  ];
}

/** What the Culprit section says when there is none. */
export const noCulpritText = (r: Report) =>
  r.kind === "snapshot"
    ? "None: a snapshot of a running process, not a crash."
    : isNotGo(r)
      ? "None: not a Go program (its binary has no Go build info); the stack below is the crashing thread's."
      : "Not found (no frame outside the Go runtime).";

/**
 * A crash of a program that is not Go (`exec -- /bin/sleep` killed by SIGSEGV): no Go version, and
 * nothing a Go runtime prints (kind `signal`/`unknown`, no goroutine numbered by Go).
 */
const isNotGo = (r: Report) =>
  !r.goVersion && (r.kind === "signal" || r.kind === "unknown") && !(r.goroutine && r.goroutine.id > 0);

/**
 * `Goroutine 1`; for a snapshot (nothing crashed) `Where goroutine 1 was`; for a program that is
 * not Go (gdb's thread, which the report files as goroutine 0) `Crashing thread`.
 */
export const goroutineTitle = (r: Report, id: number) =>
  r.kind === "snapshot"
    ? `Where goroutine ${id} was`
    : isNotGo(r) && id === 0
      ? "Crashing thread"
      : `Goroutine ${id}`;
