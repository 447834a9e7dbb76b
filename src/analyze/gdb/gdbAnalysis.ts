/**
 * The gdb fallback: one `gdb -nx -batch` run over BINARY + CORE, used when Delve is missing or
 * fails. Each wanted command is preceded by an `echo` mark so its output can be cut out of one
 * stdout; errors of single commands (gdb keeps going in batch mode) just leave a section empty.
 */
import { existsSync } from "node:fs";
import type { Frame, FrameClass, GoroutineGroup, Location, Register } from "../../contracts/index.js";
import { runCapture, withParentDeathSignal } from "../../util/child.js";
import { type ClassifyContext, culpritIndex, detectGorootSrc, siteIndex } from "../frames.js";
import { groupGoroutines } from "../goroutineGroups.js";
import { goroutineState } from "../goroutineState.js";
import { gdbFailed, gdbNotFound, gdbTimeout } from "./errors.js";
import { applyGoValues, GO_VALUES_PY } from "./goValues.js";
import { runtimeGdbScript } from "./interactive.js";
import {
  type GdbFrame,
  type GdbGoroutine,
  type GdbThread,
  type MemoryRow,
  parseBacktrace,
  parseExamine,
  parseFrameHeader,
  parseGoroutines,
  parseGoVersion,
  parseInfoLine,
  parseRegisters,
  parseTerminatingSignal,
  parseThreads,
  parseWaitReasons,
  SECTION_MARK,
  splitSections,
} from "./parseGdb.js";

export interface GdbOptions {
  binary: string;
  core: string;
  /** Default "gdb" from PATH. */
  gdbPath?: string;
  /** Default 30 s. */
  timeoutMs?: number;
  /**
   * Go's runtime-gdb.py (adds `info goroutines`). Default: the one the binary's .debug_gdb_scripts
   * names, else $(go env GOROOT)/src/runtime/runtime-gdb.py, when it exists; null to skip goroutines.
   */
  runtimeScript?: string | null;
  /** The main module's path from the binary's build info (src/elf/buildinfo.ts). */
  modulePath?: string | null;
  /** Mask secret-looking args, locals and struct fields (as the Delve path does). */
  redact?: boolean;
}

export interface GdbAnalysis {
  /** Signal the process died of (`SIGABRT` under GOTRACEBACK=crash). */
  signal: string | null;
  /** Stack of the goroutine on the crashing thread, innermost first (signal-handler frames dropped). */
  frames: Frame[];
  culprit: Location | null;
  /** The C function or library method where it happened, when that is not the culprit. */
  site: (Location & { class: FrameClass }) | null;
  registers: Register[];
  /** `x/20gx $rsp` of the crashing thread. */
  stack: MemoryRow[];
  threads: GdbThread[];
  /** From runtime-gdb.py; null when the script was not loaded. */
  goroutines: GdbGoroutine[] | null;
  /** Goroutines grouped by state and function at their saved pc (gdb knows no user location). */
  goroutineGroups: GoroutineGroup[];
  currentGoroutine: number | null;
  goVersion: string | null;
  warnings: string[];
  elapsedMs: number;
}

let cachedGoroot: Promise<string | null> | undefined;
/** `go env GOROOT` on this machine, once. */
export async function goroot(): Promise<string | null> {
  cachedGoroot ??= runCapture("go", ["env", "GOROOT"], { timeoutMs: 10_000 })
    .then((r) => (r.end.exitCode === 0 ? r.stdout.trim() || null : null))
    .catch(() => null);
  return cachedGoroot;
}

/**
 * The runtime-gdb.py of the binary's own GOROOT (its .debug_gdb_scripts names it: the script must
 * match that runtime's structures) when this machine has it, else the local Go's.
 */
async function resolveRuntimeScript(opt: string | null | undefined, binary: string): Promise<string | null> {
  if (opt === null) return null;
  if (opt !== undefined) return existsSync(opt) ? opt : null;
  return (await runtimeGdbScript(binary, await goroot()))?.path ?? null;
}

// One line per goroutine: goid, atomicstatus, waitreason and the function it was started on
// (g.startpc), which names the runtime's own goroutines (runtime.forcegchelper) as the traceback
// and Delve groups do. exec() because `python` on the command line takes one line.
const WAIT_REASONS_PY = `exec(${JSON.stringify(
  [
    "def _hd_fn(pc):",
    "  try:",
    "    return gdb.block_for_pc(pc).function.print_name",
    "  except Exception:",
    "    return '?'",
    "a = gdb.parse_and_eval(\"'runtime.allgs'\")",
    "for i in range(int(a['len'])):",
    "  g = a['array'][i]",
    "  gdb.write('%d %d %d %s\\n' % (int(g['goid']), int(g['atomicstatus']['value']), int(g['waitreason']), _hd_fn(int(g['startpc']))))",
  ].join("\n"),
)})`;

function gdbArgs(binary: string, core: string, script: string | null): string[] {
  const ex: string[] = [];
  const section = (name: string, ...cmds: string[]) => ex.push(`echo ${SECTION_MARK}${name}\\n`, ...cmds);
  // frame-arguments all: the frame header shows every argument's value, not `...`;
  // entry-values no: no `sig@entry=` duplicates.
  ex.push(
    "set print frame-arguments all",
    "set print entry-values no",
    "set print pretty off",
    "set print elements 200",
  );
  // Sourced explicitly rather than auto-loaded: auto-loading needs `set auto-load safe-path /`,
  // which would also run any other script a foreign binary names in .debug_gdb_scripts.
  // Checked on Go 1.26.8 + gdb 13.1: `info goroutines` works on a core; `goroutine N bt` does not
  // ("You can't do that without a process to debug": it writes registers), so it is not used.
  if (script) ex.push(`source ${script}`);
  section("bt", "bt full");
  section("values", GO_VALUES_PY);
  section("registers", "info registers");
  section("stack", "x/20gx $rsp");
  section("threads", "info threads");
  if (script) {
    section("goroutines", "info goroutines");
    // runtime-gdb.py prints only "waiting": the wait reason is g.waitreason, read here from
    // runtime.allgs (the same slice the script walks) so gdb names states as Delve and the
    // traceback do. Checked on Go 1.26.8 + gdb 13.1.
    section("waitreasons", `python ${WAIT_REASONS_PY}`);
  }
  section("version", "p 'runtime.buildVersion'");
  // Last, because it moves the selected frame. See fixSigpanicLine for why.
  section("sigpanic", "frame function runtime.sigpanic", "up", "info line *$pc");
  return [
    "-nx",
    "-batch",
    "-iex",
    "set auto-load python-scripts off",
    "-iex",
    "set width 0",
    "-iex",
    "set height 0",
    "-iex",
    "set pagination off",
    ...ex.flatMap((c) => ["-ex", c]),
    binary,
    core,
  ];
}

/**
 * Go's sigpanic frame is injected by the signal handler with the faulting pc as its "return
 * address", so the caller's pc is the faulting instruction itself. gdb assumes a return address and
 * looks up pc-1, which lands on the previous line (measured: main.go:17 for a fault on line 19,
 * Go 1.26.8, gdb 13.1). `info line *$pc` in that frame gives the line Go's own traceback prints.
 */
function fixSigpanicLine(frames: GdbFrame[], section: string | undefined): void {
  if (!section) return;
  const headers = section.split("\n").filter((l) => l.startsWith("#"));
  const sig = headers[0] ? parseFrameHeader(headers[0]) : null;
  const caller = headers[1] ? parseFrameHeader(headers[1]) : null;
  if (sig?.function !== "runtime.sigpanic" || !caller) return;
  const at = parseInfoLine(section);
  const f = frames.find((x) => x.level === caller.level);
  if (at && f) {
    f.file = at.file;
    f.line = at.line;
  }
}

/**
 * runtime-gdb.py knows each goroutine's state and the function at its saved pc, not its stack
 * (`goroutine N bt` cannot run on a core): the one grouping (../goroutineGroups.ts) gets that one frame,
 * so groups keep wait reasons apart but are named by where the goroutine parked.
 */
function groupGdbGoroutines(gs: GdbGoroutine[], ctx: ClassifyContext): GoroutineGroup[] {
  return groupGoroutines(
    gs.map((g) => ({
      id: g.id,
      state: g.state,
      frames: [
        { function: g.function, file: "", line: 0 },
        ...(g.startFunction ? [{ function: g.startFunction, file: "", line: 0 }] : []),
      ],
    })),
    ctx,
  );
}

const stripLevel = ({ level: _level, ...f }: GdbFrame): Frame => f;

export async function analyzeCoreWithGdb(opts: GdbOptions): Promise<GdbAnalysis> {
  const gdbPath = opts.gdbPath ?? "gdb";
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const script = await resolveRuntimeScript(opts.runtimeScript, opts.binary);
  const warnings: string[] = [];
  if (!script && opts.runtimeScript !== null)
    warnings.push("gdb: Go's runtime-gdb.py not found; goroutines not listed");
  const t0 = performance.now();
  // Dies with hotdump (a SIGKILLed hotdump must not leave gdb behind).
  const [cmd, ...args] = withParentDeathSignal([gdbPath, ...gdbArgs(opts.binary, opts.core, script)]);
  const { stdout, stderr, end } = await runCapture(cmd!, args, {
    timeoutMs,
    env: { ...process.env, LC_ALL: "C" },
  });
  const elapsedMs = Math.round(performance.now() - t0);
  const tail = stderr.slice(-4000);
  if (end.error) {
    if (end.error.code === "ENOENT") throw gdbNotFound(gdbPath, end.error);
    throw gdbFailed(end.error.message, tail);
  }
  if (end.killed) throw gdbTimeout(timeoutMs, tail);

  const sections = splitSections(stdout);
  const bt = parseBacktrace(sections.get("bt") ?? "");
  if (bt.frames.length === 0)
    throw gdbFailed(
      end.signal ? `signal ${end.signal}` : `exit ${end.exitCode}, no backtrace`,
      tail || stdout,
    );

  // Under GOTRACEBACK=crash the runtime re-raises SIGABRT on the crashing thread, so the stack is
  // raise ← sigtramp... ← <signal handler called> ← raise ← dieFromSignal ← crash ← fatalpanic ←
  // gopanic ← ... ← user code. What precedes the handler mark is the handler's own runtime frames.
  let frames = bt.frames.filter((f) => f.level > bt.signalFrameLevel);
  if (frames.length === 0 || bt.frames.some((f) => f.level < bt.signalFrameLevel && !f.runtime))
    frames = bt.frames;
  while (frames.length > 0 && frames.at(-1)!.function === "??") frames = frames.slice(0, -1);
  fixSigpanicLine(frames, sections.get("sigpanic"));
  applyGoValues(frames, sections.get("values"), opts.redact);

  const ctx: ClassifyContext = {
    modulePath: opts.modulePath ?? null,
    gorootSrc: detectGorootSrc(frames.map((f) => f.file)),
  };
  const ci = culpritIndex(frames, ctx);
  const culpritFrame = frames[ci];
  const si = siteIndex(frames, ctx);
  const siteFrame = frames[si];
  const goroutines = script ? parseGoroutines(sections.get("goroutines") ?? "") : null;
  const goVersion = parseGoVersion(sections.get("version") ?? "");
  const reasons = parseWaitReasons(sections.get("waitreasons") ?? "");
  for (const g of goroutines ?? []) {
    const r = reasons.get(g.id);
    if (r && g.state === "waiting") g.state = goroutineState(r, goVersion);
    if (r?.startFunction) g.startFunction = r.startFunction;
  }
  if (script && goroutines?.length === 0)
    warnings.push(
      `gdb: info goroutines printed nothing (${stderr.match(/Python Exception.*$/m)?.[0] ?? "no error"})`,
    );
  return {
    signal: parseTerminatingSignal(stdout) ?? parseTerminatingSignal(stderr),
    frames: frames.map(stripLevel),
    culprit: culpritFrame
      ? { function: culpritFrame.function, file: culpritFrame.file, line: culpritFrame.line }
      : null,
    site: siteFrame
      ? { function: siteFrame.function, file: siteFrame.file, line: siteFrame.line, class: siteFrame.class }
      : null,
    registers: parseRegisters(sections.get("registers") ?? ""),
    stack: parseExamine(sections.get("stack") ?? ""),
    threads: parseThreads(sections.get("threads") ?? ""),
    goroutines,
    goroutineGroups: goroutines ? groupGdbGoroutines(goroutines, ctx) : [],
    currentGoroutine: goroutines?.find((g) => g.current)?.id ?? null,
    goVersion,
    warnings,
    elapsedMs,
  };
}
