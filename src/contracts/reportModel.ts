/**
 * The report contract. `hotdump exec --json`, report.json in every bundle and every renderer use
 * these names; scripts depend on them (docs/report.schema.json is the versioned schema).
 * Add fields freely; never rename or remove one.
 */
/**
 * Whose code a frame is (src/analyze/frames.ts classifies): the Go runtime, the standard library,
 * cgo-generated glue, C code, or user code (the main module and its dependencies).
 */
export type FrameClass = "runtime" | "stdlib" | "cgo" | "c" | "user";

export const REPORT_SCHEMA_VERSION = 1;

/**
 * `race`: the race detector reported a data race (and ended the program: no core). `snapshot`: a
 * live process dumped by `hotdump snapshot`, which did not crash at all. `recovered`: a panic the
 * service recovered and logged (net/http, chi, gin, echo, grpc-go's recovery interceptor): it kept
 * running, so there is no core; the stack is the one it printed.
 */
export type CrashKind = "panic" | "fatal" | "signal" | "race" | "snapshot" | "recovered" | "hang" | "unknown";

/** Who recovered a `recovered` panic (src/analyze/traceback/recoveredPanics.ts reads each form). */
export type RecoveredBy = "net/http" | "chi" | "gin" | "echo" | "grpc";

/** Goroutines of a hung process waiting for one reason at one user frame (analyze/hang.ts). */
export interface HangWait {
  /** The runtime's wait reason: `sync.Mutex.Lock`, `chan send`, `select`. */
  state: string;
  /** The longest wait in the group, in whole minutes (the runtime prints it past one minute). */
  minutes: number;
  count: number;
  function: string;
  file: string;
  line: number;
  ids: number[];
}

export interface Variable {
  name: string;
  type: string;
  /**
   * In Go's notation (`main.Fault {Code: 503, Reason: "overload"}`, a time.Time as
   * `2026-03-01 10:30:00 +0100 CET`, a Duration as `1.5s`, strings as %q), or gdb's text.
   */
  value: string;
  /** The fields Go's notation summarised (a time.Time's wall, ext and loc), when they differ from `value`. */
  raw?: string;
  /** Why the value could not be read (optimised away, no location list...). */
  unreadable?: string;
  /** Set when --redact masked the value. */
  redacted?: boolean;
  /**
   * Paths of the nil pointers, maps, slices, channels, funcs and interfaces inside the value
   * (`l.audit`), read to the depth the culprit frame is loaded with: the nil field that is the bug
   * is named even when the one-line value is cut.
   */
  nilFields?: string[];
}

/** What the crashing line did with the nil: read through it, wrote to it (a map), called it. */
export type NilUse = "dereference" | "map write" | "method call" | "call";

/** The nil a nil dereference or nil map write crashed on, named from the crashing line. */
export interface NilCause {
  /** The expression as written on the line (`j.owner`); null when it cannot be decided. */
  expression: string | null;
  use: NilUse;
  /** The fault address of a nil dereference (the field's offset from nil). */
  addr?: string;
  /** The expressions that remain when it cannot be decided. */
  candidates?: string[];
  /** Why it cannot be decided, in words. */
  note?: string;
}

export interface SourceContext {
  /** Line number of lines[0]. */
  startLine: number;
  lines: string[];
  /** The file read, when it is not the frame's own `file` (a -trimpath path mapped to this machine). */
  path?: string;
  /** Why the file on disk may not be what was built (modified after the build). */
  stale?: string;
}

export interface Frame {
  function: string;
  file: string;
  line: number;
  pc?: string;
  /** Raw argument words from the traceback (`0xc000012345, 0x3`), when that is all there is. */
  rawArgs?: string;
  args: Variable[];
  locals: Variable[];
  /** runtime.* / internal frames: folded in presentation, skipped when naming the culprit. */
  runtime: boolean;
  /** Whose code this is (src/analyze/frames.ts): only `user` frames are ever the culprit. */
  class: FrameClass;
  source?: SourceContext;
}

export interface Location {
  function: string;
  file: string;
  line: number;
  /** `file` on this machine, when the build's path (-trimpath: `example.com/tp/main.go`) is not. */
  localFile?: string;
  /** Index of this frame in `goroutine.frames` (what `hotdump debug` and `eval` open on). */
  frame?: number;
}

export interface GoroutineGroup {
  count: number;
  state: string;
  function: string;
  file: string;
  line: number;
  /** Whose code names the group (a runtime goroutine's start function, or user code). */
  class?: FrameClass;
  /** A few member ids. */
  ids?: number[];
}

/** One side of a data race, as the race detector printed it. */
export interface RaceAccess {
  op: "read" | "write";
  atomic: boolean;
  /** The earlier access ("Previous write at ..."). */
  previous: boolean;
  addr: string;
  /** The race detector's goroutine number; null for "main goroutine". */
  goroutine: number | null;
  /** Locks held, as printed (`write M1`). */
  mutexes?: string;
  frames: Frame[];
}

/** Where a goroutine of the race was started (`Goroutine 8 (running) created at:`). */
export interface RaceGoroutine {
  goroutine: number;
  /** running / finished */
  state: string;
  frames: Frame[];
}

export interface Race {
  /** The current access first, then the previous one. */
  accesses: RaceAccess[];
  created: RaceGoroutine[];
  /** The user's frame of the racing write (of the first access when neither writes). */
  culprit: Location | null;
}

/** Which process this was: for reports read long after, and next to other generations' reports. */
export interface ProcessInfo {
  pid: number | null;
  /** The hotdump dev/run generation; null under exec or for a process hotdump did not start. */
  generation: number | null;
  command: string[];
  startedAt: string | null;
  /** When it crashed (or, for a snapshot, when the core was taken). */
  time: string | null;
}

export interface Register {
  name: string;
  value: string;
}

export interface Mapping {
  start: string;
  end: string;
  perms?: string;
  file?: string;
  offset?: string;
}

export interface SourceUse {
  used: boolean;
  /** Why it was not used or what failed. */
  note?: string;
}

export interface Report {
  schemaVersion: number;
  kind: CrashKind;
  /** The panic message / throw text / fault description, first line. */
  message: string;
  /** The decoded panic value as Delve prints it; null when unknown. */
  value: string | null;
  /** Earlier panics when panics nested (outermost first), `[recovered]` flag kept. */
  nested: { message: string; recovered: boolean }[];
  signal: { name: string; code?: string; addr?: string; pc?: string } | null;
  /**
   * On a nil dereference or nil map write: the nil expression of the crashing line. Absent for
   * other crashes and where no debugger read the core (every nil field stays in `nilFields`).
   */
  nil?: NilCause | null;
  culprit: Location | null;
  /**
   * Where the crash happened when that is not the culprit's own line: the C function that faulted
   * under a cgo call, the standard-library method that threw. Absent when the culprit is the site.
   */
  site?: (Location & { class: FrameClass }) | null;
  goroutine: { id: number; state?: string; frames: Frame[] } | null;
  goroutines: { total: number; groups: GoroutineGroup[] };
  /** kind `hang`: why it was judged hung, and what waited. */
  hang?: { reason: string; waits: HangWait[] };
  registers: Register[];
  memoryMap: Mapping[];
  goVersion: string | null;
  binary: { path?: string; sha256?: string; goBuildId?: string | null; gnuBuildId?: string | null } | null;
  core: {
    path?: string;
    buildIdMatch?: boolean | null;
    truncated?: boolean;
  } | null;
  sources: { delve: SourceUse; gdb: SourceUse; traceback: SourceUse };
  /** Data races the race detector reported in the program's output, in order; every one kept. */
  races: Race[];
  process: ProcessInfo | null;
  /** Shell commands to go further (`hotdump debug ID`, `dlv core ...`). */
  next: string[];
  warnings: string[];
  /**
   * The crash signature (src/analyze/signature.ts): the same bug gives the same fingerprint in
   * every generation, on every host. Absent in reports written before signatures existed.
   */
  fingerprint?: string;
  /** For kind `recovered`: who recovered it and, for net/http, the client's address. */
  recovered?: { by: RecoveredBy; remoteAddr?: string };
}

/** What every analyser (the traceback, Delve, gdb) says about a crash, in the report's names. */
export type CrashFindings = Pick<
  Report,
  | "kind"
  | "message"
  | "nested"
  | "signal"
  | "nil"
  | "culprit"
  | "site"
  | "goroutine"
  | "goroutines"
  | "registers"
>;

export function emptyReport(): Report {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: "unknown",
    message: "",
    value: null,
    nested: [],
    signal: null,
    culprit: null,
    goroutine: null,
    goroutines: { total: 0, groups: [] },
    registers: [],
    memoryMap: [],
    goVersion: null,
    binary: null,
    core: null,
    sources: { delve: { used: false }, gdb: { used: false }, traceback: { used: false } },
    races: [],
    process: null,
    next: [],
    warnings: [],
  };
}

/**
 * One line for lists and summaries. Go prints a struct panic value only as its type and address,
 * `panic: (main.Fault) 0xc000084000` (runtime/error.go printpanicval: non-basic types print as
 * `(T) addr`): when the core gave the value, the value is the better line.
 */
export function headline(r: Pick<Report, "message" | "value">): string {
  if (r.value && /^\([^)]+\) 0x[0-9a-f]+$/.test(r.message)) return r.value;
  return r.message;
}

/**
 * Where a debugger should open: the crashing goroutine and the culprit's index in its stack. The
 * index is Delve's own only when Delve read the stack (the traceback hides the signal frames, gdb
 * numbers its own); otherwise only the goroutine.
 */
export function culpritScope(
  r: Pick<Report, "kind" | "culprit" | "goroutine" | "sources">,
): { goroutine: number; frame?: number } | null {
  // A snapshot is no crash (its goroutine is whichever Delve picked) and a race has no core.
  if (r.kind !== "panic" && r.kind !== "fatal" && r.kind !== "signal") return null;
  const id = r.goroutine?.id;
  if (typeof id !== "number" || id <= 0) return null;
  const k = r.culprit?.frame;
  if (r.sources?.delve?.used && typeof k === "number" && k >= 0) return { goroutine: id, frame: k };
  return { goroutine: id };
}
