/**
 * What Delve can tell about a core: the goroutine that panicked or threw, its frames with args
 * and locals, the panic value decoded from memory (the traceback only prints `(main.Fault)
 * 0xc000084000`), nested panics, the throw text, the fault address, the crashing thread's
 * registers and every goroutine grouped by user location.
 *
 * Cost follows what is shown (frames, groups), not the core's size: Delve reads the core lazily.
 * The one exception is counting goroutines, which walks runtime.allgs.
 */
import { readFile } from "node:fs/promises";
import type {
  CrashFindings,
  Frame,
  GoroutineGroup,
  Location,
  Register,
  Report,
  SourceContext,
  Variable,
} from "../../contracts/index.js";
import { isHotdumpError } from "../../errors.js";
import { isSecretName, isSecretType } from "../../util/secretNames.js";
import { type ClassifyContext, classifyFrame, culpritIndex, type FrameLike, siteIndex } from "../frames.js";
import {
  decideNil,
  type EvaluatedCandidate,
  importedNames,
  nilCandidates,
  nilCrashKind,
} from "../nilCause.js";
import { createDelveSession, type DelveSession } from "./client.js";
import {
  type DebuggerState,
  type Variable as DlvVariable,
  type EvalScope,
  Kind,
  type ListGoroutinesOut,
  type LoadConfig,
  type Stackframe,
} from "./delveProtocol.js";
import { dlvBinaryMismatch, dlvNoDebugInfo } from "./errors.js";
import { formatVariable, quoteGo, REDACTED } from "./formatVariable.js";
import { errorText } from "./goNotation.js";
import { listGoroutineGroups, targetGoVersion } from "./goroutines.js";

export interface AnalyzeCoreOptions {
  binary: string;
  core: string;
  /** Mask values of args/locals (and struct fields) whose names or types look secret. */
  redact?: boolean;
  /** Source lines before and after each user frame's line (default 3; 0 for none). */
  sourceLines?: number;
  dlvPath?: string;
  /** Per-call timeout (ms). */
  timeoutMs?: number;
  /** Frames of the crashing goroutine to read (default 64). */
  maxFrames?: number;
  /** Goroutine groups to keep, largest first (default 50; the total still counts all). */
  maxGroups?: number;
  /** The main module's path from the binary's build info (src/elf/buildinfo.ts). */
  modulePath?: string | null;
  /**
   * A session on this binary and core started earlier (`hotdump analyze` starts dlv before it loads
   * the rest of the analysis, so Delve reads the core meanwhile); closed here like one made here.
   */
  session?: Promise<DelveSession>;
}

/** The part of the Report Delve fills, plus how long it took. */
export interface DelveAnalysis
  extends CrashFindings,
    Pick<Report, "value" | "goVersion" | "next" | "warnings"> {
  delveVersion: string;
  timings: { startMs: number; totalMs: number };
}

/** Value loading for frames and the panic value: enough to read a request, not a whole cache. */
const FRAME_LOAD_CONFIG: LoadConfig = {
  FollowPointers: true,
  MaxVariableRecurse: 2,
  MaxStringLen: 256,
  MaxArrayValues: 32,
  MaxStructFields: 32,
};

/**
 * The culprit frame's own args and locals, read again deeper than the rest: the nil field that is
 * the bug is often three levels down (receiver → config → client), and MaxStructFields -1 keeps
 * every field of the receiver instead of the first 32.
 */
const CULPRIT_LOAD_CONFIG: LoadConfig = {
  FollowPointers: true,
  MaxVariableRecurse: 4,
  MaxStringLen: 256,
  MaxArrayValues: 16,
  MaxStructFields: -1,
};

/** Frames that mean "this goroutine is the one that died" (runtime/panic.go, signal_unix.go). */
const CRASH_FUNCTIONS = new Set([
  "runtime.gopanic",
  "runtime.fatalpanic",
  "runtime.throw",
  "runtime.fatalthrow",
  "runtime.fatal",
  "runtime.sigpanic",
]);
const THROW_FUNCTIONS = new Set(["runtime.throw", "runtime.fatal"]);

const fnName = (f: Stackframe) => f.function?.name ?? "?";
const isCrashStack = (frames: Stackframe[]) => frames.some((f) => CRASH_FUNCTIONS.has(fnName(f)));

interface CrashStack {
  /** Goroutine id; 0 when the crash ran on a system stack (a deadlock's checkdead). */
  gid: number;
  threadId: number | undefined;
  frames: Stackframe[];
}

export async function analyzeCoreWithDelve(opts: AnalyzeCoreOptions): Promise<DelveAnalysis> {
  const t0 = performance.now();
  const session = await (opts.session ??
    createDelveSession({
      binary: opts.binary,
      core: opts.core,
      ...(opts.dlvPath ? { dlvPath: opts.dlvPath } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    }));
  const startMs = performance.now() - t0;
  try {
    const a = await analyzeSession(session, opts);
    return { ...a, timings: { startMs, totalMs: performance.now() - t0 } };
  } finally {
    await session.close();
  }
}

/** The analysis on an open session (callers that keep a session for `hotdump debug` use this). */
async function analyzeSession(
  s: DelveSession,
  opts: AnalyzeCoreOptions,
): Promise<Omit<DelveAnalysis, "timings">> {
  const warnings = [...s.warnings];
  const goVersion = targetGoVersion(s.version);
  const maxFrames = opts.maxFrames ?? 64;
  const ctx: FrameContext = {
    redact: opts.redact ?? false,
    sourceLines: opts.sourceLines ?? 3,
    files: new Map(),
    classify: { modulePath: opts.modulePath ?? null },
  };

  // Every read below is sent as soon as what it depends on is known, not one after the other:
  // Delve answers them in turn on its side, so the session costs Delve's own work without a round
  // trip and a Node turn between reads (on an 85 MB core, 120 ms of reads spread over ten
  // sequential steps became four).
  const { state, candidates, stacksRead, listedGroups } = await startReads(s, opts, goVersion, ctx);

  // Stacks are read without variables (cheap: 1 ms each), all candidates at once; variables are
  // loaded below for the frames that show them (a Full read of a -N -l stack loads every runtime
  // frame's locals: 200 ms of a 350 ms analysis, measured on a 85 MB core, for values never shown).
  let stacks: Stackframe[][];
  try {
    stacks = await stacksRead;
  } catch (e) {
    await listedGroups; // its error, when it has one, says more (no DWARF, another binary)
    throw e;
  }
  let crash = crashStackAmong(stacks, candidates, state);
  // What died and why, and the registers, need only the crashing stack: read while Delve lists
  // the goroutines and Node groups them. Each keeps its own warnings, joined below in the order a
  // reader expects.
  const crashWarnings: string[] = [];
  const registerWarnings: string[] = [];
  const readsOf = (c: CrashStack | null) => {
    const reads = {
      crash: c ? readCrash(s, c, crashWarnings) : Promise.resolve(NO_CRASH),
      registers: threadRegisters(s, c?.threadId ?? state.currentThread?.id, registerWarnings),
    };
    reads.crash.catch(() => undefined);
    reads.registers.catch(() => undefined);
    return reads;
  };
  let reads = crash ? readsOf(crash) : undefined;

  const goroutines = await listedGroups;
  ctx.classify.gorootSrc = goroutines.gorootSrc;
  if (goroutines.total === 0)
    throw dlvBinaryMismatch(opts.binary, opts.core, firstLine(s.stderrTail()) || "empty goroutine list");
  if (!crash && !state.currentGoroutine) {
    // Id -1 with no selected goroutine is the current thread's own stack (proc.FindGoroutine).
    const frames = await stack(s, -1, maxFrames);
    if (isCrashStack(frames)) crash = { gid: 0, threadId: state.currentThread?.id, frames };
  }
  reads ??= readsOf(crash);

  const place = await placeCulprit(s, crash, goroutines, ctx, maxFrames);
  const { frames, gid, culpritFrame, culpritAt } = place;

  // The frames' variables load while the crash and the registers are still being read.
  const framesRead = readReportFrames(s, place, ctx);
  framesRead.catch(() => undefined);
  const { kind, message, value, nested, signal } = await reads.crash;
  // The nil's candidates are read while the frames' variables still load.
  const nilKind = culpritFrame && gid !== 0 ? nilCrashKind(message, signal?.addr) : null;
  const nilRead =
    nilKind && culpritFrame
      ? nilCause(
          s,
          { GoroutineID: gid, Frame: culpritAt, DeferredCall: 0 },
          nilKind,
          culpritFrame,
          signal,
          ctx,
        )
      : Promise.resolve(null);
  nilRead.catch(() => undefined);
  const reportFrames = await framesRead;
  const culpritReport = culpritFrame ? reportFrames[culpritAt] : undefined;
  const nil = culpritReport ? await nilRead : null;
  const registers = await reads.registers;
  warnings.push(...crashWarnings, ...place.warnings);
  if (culpritReport && [...culpritReport.args, ...culpritReport.locals].some((v) => v.unreadable))
    warnings.push(
      culpritFrame?.function?.optimized
        ? "some locals of the culprit frame are unreadable (an optimised build): build with -gcflags=all=-N -l to read them"
        : "some locals of the culprit frame are unreadable although it was built with -N -l: they are not live at the crashing instruction",
    );
  warnings.push(...registerWarnings);
  const gState =
    gid === 0
      ? "system stack"
      : crash && gid === crash.gid
        ? "running"
        : groupStateOf(goroutines.groups, gid);
  const goroutine: Report["goroutine"] =
    frames.length > 0 ? { id: gid, state: gState, frames: reportFrames } : null;

  const delveVersion = /\d+\.\d+\.\d+/.exec(s.version.DelveVersion)?.[0] ?? s.version.DelveVersion;

  return {
    kind,
    message,
    value,
    nested,
    signal,
    ...(nil ? { nil } : {}),
    culprit: place.culprit,
    site: place.site,
    goroutine,
    goroutines: { total: goroutines.total, groups: goroutines.groups },
    registers,
    goVersion,
    next: [`dlv core ${shellQuote(opts.binary)} ${shellQuote(opts.core)}`],
    warnings,
    delveVersion,
  };
}

/**
 * The first reads, sent together: Delve's state, the goroutine listing, and then the stacks of the
 * goroutines that may have died (read while Delve still lists).
 */
async function startReads(
  s: DelveSession,
  opts: AnalyzeCoreOptions,
  goVersion: string | null,
  ctx: FrameContext,
) {
  const stateRead = s.call("State", { NonBlocking: true });
  const listing = listGoroutineGroups(s, {
    goVersion,
    classify: ctx.classify,
    maxGroups: opts.maxGroups ?? 50,
  });
  listing.catch(() => undefined);
  const { State: state } = await stateRead;
  // The thread that raised SIGABRT (State's choice) is not always the goroutine that died: with
  // GOTRACEBACK=crash the runtime signals every M, and a deadlock dies on a system stack.
  const candidates = [state.currentGoroutine?.id, ...(state.Threads ?? []).map((t) => t.goroutineID)].filter(
    (id, i, all): id is number => typeof id === "number" && id > 0 && all.indexOf(id) === i,
  );
  const stacksRead = Promise.all(candidates.map((gid) => stack(s, gid, opts.maxFrames ?? 64)));
  stacksRead.catch(() => undefined);
  const listedGroups = listing.catch((e: unknown) => {
    // "could not find goroutine array": no Go runtime symbols where the core has them.
    // Delve warns "no debug info found" on stderr when the binary has no DWARF.
    if (/no debug info/i.test(s.stderrTail())) throw dlvNoDebugInfo(opts.binary);
    if (isHotdumpError(e) && e.code === "E_DLV_RPC")
      throw dlvBinaryMismatch(opts.binary, opts.core, e.shortMessage);
    throw e;
  });
  listedGroups.catch(() => undefined);
  return { state, candidates, stacksRead, listedGroups };
}

/** The first candidate whose stack is in a panic or a throw. */
function crashStackAmong(
  stacks: Stackframe[][],
  candidates: number[],
  state: DebuggerState,
): CrashStack | null {
  const hit = stacks.findIndex(isCrashStack);
  if (hit < 0) return null;
  const gid = candidates[hit] as number;
  return {
    gid,
    threadId: (state.Threads ?? []).find((t) => t.goroutineID === gid)?.id,
    frames: stacks[hit] as Stackframe[],
  };
}

interface CulpritPlace {
  /** The stack the report shows and its goroutine (0: a system stack). */
  frames: Stackframe[];
  gid: number;
  culpritFrame: Stackframe | undefined;
  culpritAt: number;
  culprit: Location | null;
  site: Report["site"];
  warnings: string[];
}

/**
 * The culprit: the first frame of the service's own code on the crashing stack; when the crash ran
 * only runtime code (a deadlock's checkdead), where the user goroutines were blocked.
 */
async function placeCulprit(
  s: DelveSession,
  crash: CrashStack | null,
  goroutines: Awaited<ReturnType<typeof listGoroutineGroups>>,
  ctx: FrameContext,
  maxFrames: number,
): Promise<CulpritPlace> {
  const warnings: string[] = [];
  if (!crash)
    warnings.push("Delve found no goroutine in a panic or throw: the report shows where goroutines were");
  let frames = crash?.frames ?? [];
  let gid = crash?.gid ?? 0;
  let culpritFrame = frames[culpritIndex(frames.map(frameLike), ctx.classify)];
  if (!culpritFrame) {
    const blocked = pickBlockedGoroutine(goroutines.listed, goroutines.groups, ctx.classify);
    if (blocked !== undefined) {
      const other = await stack(s, blocked, maxFrames);
      const f = other[culpritIndex(other.map(frameLike), ctx.classify)];
      if (f) {
        if (crash)
          warnings.push(`the crash ran on a system stack; goroutine ${blocked} shows where the program was`);
        frames = other;
        gid = blocked;
        culpritFrame = f;
      }
    }
  }
  const culpritAt = culpritFrame ? frames.indexOf(culpritFrame) : -1;
  const culprit: Location | null = culpritFrame
    ? { function: fnName(culpritFrame), file: culpritFrame.file, line: culpritFrame.line, frame: culpritAt }
    : null;
  const siteAt = culpritFrame ? siteIndex(frames.map(frameLike), ctx.classify) : -1;
  const siteFrame = frames[siteAt];
  const site: Report["site"] = siteFrame
    ? {
        function: fnName(siteFrame),
        file: siteFrame.file,
        line: siteFrame.line,
        frame: siteAt,
        class: classifyFrame(frameLike(siteFrame), ctx.classify),
      }
    : null;
  return { frames, gid, culpritFrame, culpritAt, culprit, site, warnings };
}

/** The shown frames with their variables, the culprit's read in full. */
async function readReportFrames(s: DelveSession, place: CulpritPlace, ctx: FrameContext) {
  const { frames, gid, culpritFrame, culpritAt } = place;
  await loadFrameVariables(s, gid, frames, ctx, gid !== 0 ? culpritAt : -1);
  const out = await Promise.all(frames.map((f) => toFrame(f, ctx)));
  const culpritReport = culpritFrame ? out[culpritAt] : undefined;
  if (culpritReport && gid !== 0)
    await loadCulpritVariables(
      s,
      { GoroutineID: gid, Frame: culpritAt, DeferredCall: 0 },
      culpritReport,
      ctx,
      culpritFrame?.function?.optimized,
    );
  return out;
}

interface CrashReading {
  kind: Report["kind"];
  message: string;
  value: string | null;
  nested: Report["nested"];
  signal: Report["signal"];
}

const NO_CRASH: CrashReading = { kind: "unknown", message: "", value: null, nested: [], signal: null };

/** What died and why: the panic value (and the panics before it) or the throw's text, and the signal. */
async function readCrash(s: DelveSession, crash: CrashStack, warnings: string[]): Promise<CrashReading> {
  const names = crash.frames.map(fnName);
  const scope: EvalScope = { GoroutineID: crash.gid || -1, Frame: 0, DeferredCall: 0 };
  const signalRead =
    names.includes("runtime.sigpanic") && crash.gid ? signalInfo(s, scope) : Promise.resolve(null);
  signalRead.catch(() => undefined);
  const out: CrashReading = { ...NO_CRASH };
  if (names.includes("runtime.gopanic")) {
    out.kind = "panic";
    const chain = crash.gid ? await panicChain(s, scope, warnings) : [];
    const latest = chain[0];
    let arg = latest?.arg;
    if (!arg) arg = await gopanicArg(s, crash, warnings);
    if (arg) {
      out.value = formatVariable(arg);
      out.message = panicMessage(arg);
    }
    out.nested = chain
      .slice(1)
      .reverse()
      .map((p) => ({ message: panicMessage(p.arg), recovered: p.recovered }));
  } else {
    const i = names.findIndex((n) => THROW_FUNCTIONS.has(n));
    if (i >= 0) {
      out.kind = "fatal";
      out.message = (await throwText(s, crash, i, warnings)) ?? "";
    }
  }
  out.signal = await signalRead;
  if (out.signal && out.kind === "fatal" && (out.message === "fault" || out.message === "")) {
    // sigpanic throws "fault" for a bad address that is not a nil dereference
    // (runtime/signal_unix.go: addr >= 0x1000 or not SEGV_MAPERR).
    out.kind = "signal";
    out.message = `unexpected fault address ${out.signal.addr ?? "?"}`;
  }
  return out;
}

/** Enough to tell nil from not: no pointer followed, one element to tell an empty map from nil. */
const NIL_LOAD_CONFIG: LoadConfig = {
  FollowPointers: false,
  MaxVariableRecurse: 0,
  MaxStringLen: 0,
  MaxArrayValues: 1,
  MaxStructFields: 0,
};

const NIL_KINDS: Record<number, string> = {
  [Kind.Ptr]: "pointer",
  [Kind.Map]: "map",
  [Kind.Interface]: "interface",
  [Kind.Func]: "func",
  [Kind.Chan]: "chan",
  [Kind.Slice]: "slice",
};

/**
 * The nil of a nil dereference or nil map write: each expression of the crashing line that a nil
 * would crash, evaluated in the culprit's frame (nilCause.ts decides).
 */
async function nilCause(
  s: DelveSession,
  scope: EvalScope,
  crash: "dereference" | "map write",
  frame: Stackframe,
  signal: Report["signal"],
  ctx: FrameContext,
): Promise<Report["nil"]> {
  const addr = crash === "dereference" ? signal?.addr : undefined;
  const text = await sourceContext(frame.file, frame.line, { ...ctx, sourceLines: 0 });
  const line = text?.lines[0];
  if (line === undefined) return decideNil(crash, [], addr, false);
  const packages = importedNames((await ctx.files.get(frame.file)) ?? []);
  const optimized = frame.function?.optimized === true;
  type Read = Pick<EvaluatedCandidate, "nil" | "kind" | "why">;
  const reads = new Map<string, Promise<Read | null>>();
  const read = (expr: string) =>
    s.call("Eval", { Scope: scope, Expr: expr, Cfg: NIL_LOAD_CONFIG }).then(
      ({ Variable: v }): Read => {
        const kind = NIL_KINDS[v.kind] ?? "value";
        return v.unreadable
          ? { nil: null, kind, why: unreadableText(v.unreadable, frame.function?.optimized) }
          : { nil: isNil(v), kind };
      },
      // A type or a method value is no variable: no candidate. In an optimised function a
      // variable the compiler dropped is not found either: that one could not be read.
      (e: unknown): Read | null =>
        optimized &&
        /could not find symbol/.test((e as Error).message) &&
        /^[a-z_]\w*$/i.test(expr.split(".")[0] ?? "")
          ? { nil: null, kind: "value", why: unreadableText("optimized away", true) }
          : null,
    );
  const candidates = nilCandidates(line).filter((c) => !packages.has(c.expression.split(".")[0] ?? ""));
  for (const c of candidates) if (!reads.has(c.expression)) reads.set(c.expression, read(c.expression));
  const evaluated: EvaluatedCandidate[] = [];
  for (const c of candidates) {
    const r = await reads.get(c.expression);
    if (r) evaluated.push({ ...c, ...r });
  }
  return decideNil(crash, evaluated, addr, true);
}

async function stack(s: DelveSession, id: number, depth: number): Promise<Stackframe[]> {
  const out = await s.call("Stacktrace", { Id: id, Depth: depth, Full: false, Defers: false });
  return out.Locations ?? [];
}

/**
 * Args and locals of the frames whose variables the report shows (not the runtime's, which
 * toFrame drops), all requests in flight at once; `skip` is the culprit, read deeper afterwards.
 */
async function loadFrameVariables(
  s: DelveSession,
  gid: number,
  frames: Stackframe[],
  ctx: FrameContext,
  skip: number,
): Promise<void> {
  await Promise.all(
    frames.map(async (f, i) => {
      if (i === skip || classifyFrame(frameLike(f), ctx.classify) === "runtime") return;
      const Scope: EvalScope = { GoroutineID: gid || -1, Frame: i, DeferredCall: 0 };
      try {
        const [args, locals] = await Promise.all([
          s.call("ListFunctionArgs", { Scope, Cfg: FRAME_LOAD_CONFIG }),
          s.call("ListLocalVars", { Scope, Cfg: FRAME_LOAD_CONFIG }),
        ]);
        f.Arguments = args.Args;
        f.Locals = locals.Variables;
      } catch {
        // A frame Delve cannot read variables of shows without them.
      }
    }),
  );
}

interface PanicRecord {
  arg: DlvVariable;
  recovered: boolean;
}

/**
 * The goroutine's `_panic` list, newest first: g._panic → _panic.link (runtime2.go, Go 1.26:
 * fields arg, link, recovered, goexit). Delve evaluates `runtime.curg` as the scope's g, and
 * reading it from the g needs no location list, so it works in optimised builds too.
 */
async function panicChain(s: DelveSession, scope: EvalScope, warnings: string[]): Promise<PanicRecord[]> {
  const out: PanicRecord[] = [];
  let expr = "runtime.curg._panic";
  for (let depth = 0; depth < 8; depth++) {
    let p: DlvVariable;
    try {
      p = (
        await s.call("Eval", {
          Scope: scope,
          Expr: expr,
          Cfg: { ...FRAME_LOAD_CONFIG, MaxVariableRecurse: 3 },
        })
      ).Variable;
    } catch (e) {
      warnings.push(`could not read the panic chain (${expr}): ${(e as Error).message}`);
      break;
    }
    const body = p.children?.[0];
    if (p.unreadable || p.value === "0" || !body || body.addr === 0) break;
    const field = (n: string) => body.children?.find((c) => c.name === n);
    const arg = field("arg");
    // goexit entries are runtime.Goexit unwinding, not panics (printpanics skips them).
    if (arg && field("goexit")?.value !== "true")
      out.push({ arg, recovered: field("recovered")?.value === "true" });
    expr += ".link";
  }
  return out;
}

/** Fallback for the panic value: the newest runtime.gopanic frame's argument `e`. */
async function gopanicArg(
  s: DelveSession,
  crash: CrashStack,
  warnings: string[],
): Promise<DlvVariable | undefined> {
  const i = crash.frames.findIndex((f) => fnName(f) === "runtime.gopanic");
  if (i < 0) return undefined;
  const e = await s
    .call("ListFunctionArgs", {
      Scope: { GoroutineID: crash.gid || -1, Frame: i, DeferredCall: 0 },
      Cfg: FRAME_LOAD_CONFIG,
    })
    .then((o) => (o.Args ?? []).find((a) => a.name === "e"))
    .catch(() => undefined);
  if (e && !e.unreadable) return e;
  if (e?.unreadable) warnings.push(`the panic value is unreadable: ${e.unreadable}`);
  return undefined;
}

/** runtime.throw(s) / runtime.fatal(s): the text after "fatal error: ". */
async function throwText(
  s: DelveSession,
  crash: CrashStack,
  i: number,
  warnings: string[],
): Promise<string | null> {
  const frame = crash.frames[i] as Stackframe;
  const arg = frame.Arguments?.find((a) => a.name === "s");
  if (arg && !arg.unreadable) return arg.value;
  try {
    const v = await s.call("Eval", {
      Scope: { GoroutineID: crash.gid || -1, Frame: i, DeferredCall: 0 },
      Expr: "s",
      Cfg: FRAME_LOAD_CONFIG,
    });
    if (!v.Variable.unreadable) return v.Variable.value;
  } catch {
    // fall through: the caller still has the frame names
  }
  warnings.push(`the ${fnName(frame)} message is unreadable${arg?.unreadable ? `: ${arg.unreadable}` : ""}`);
  return null;
}

/** g.sig, g.sigcode0, g.sigcode1 (the fault address) and g.sigpc, set by sighandler before sigpanic. */
async function signalInfo(s: DelveSession, scope: EvalScope): Promise<Report["signal"]> {
  const read = async (field: string) => {
    try {
      const v = (
        await s.call("Eval", { Scope: scope, Expr: `runtime.curg.${field}`, Cfg: FRAME_LOAD_CONFIG })
      ).Variable;
      return v.unreadable || v.value === "" ? undefined : BigInt(v.value);
    } catch {
      return undefined;
    }
  };
  const [sig, code, addr, pc] = await Promise.all([
    read("sig"),
    read("sigcode0"),
    read("sigcode1"),
    read("sigpc"),
  ]);
  if (sig === undefined || sig === 0n) return null;
  const hex = (n: bigint | undefined) => (n === undefined ? undefined : `0x${n.toString(16)}`);
  return {
    name: LINUX_SIGNALS[Number(sig)] ?? `signal ${sig}`,
    ...(code !== undefined ? { code: hex(code) as string } : {}),
    ...(addr !== undefined ? { addr: hex(addr) as string } : {}),
    ...(pc !== undefined ? { pc: hex(pc) as string } : {}),
  };
}

/** The signals a Go program turns into sigpanic (Linux numbering, the target's, not the host's). */
const LINUX_SIGNALS: Record<number, string> = {
  4: "SIGILL",
  5: "SIGTRAP",
  7: "SIGBUS",
  8: "SIGFPE",
  11: "SIGSEGV",
};

/** What Go prints after `panic: ` for this value, as far as a core allows (no method calls). */
function panicMessage(arg: DlvVariable): string {
  const data = arg.kind === Kind.Interface ? arg.children?.[0] : arg;
  if (!data || data.unreadable) return formatVariable(arg);
  if (data.kind === Kind.String) {
    // runtime.Error values built from errorString print with their prefix (runtime/error.go).
    if (data.type === "runtime.errorString") return `runtime error: ${data.value}`;
    return data.type === "string" || data.type === "runtime.plainError"
      ? data.value
      : `${data.type}(${quoteGo(data.value)})`;
  }
  // Go prints an error panic value as its Error() text: exact for the types that hold it.
  const text = errorText(data);
  if (text !== null) return text;
  // Other errors are usually a (pointer to a) struct holding their text: without calling
  // Error(), that text is the best guess.
  const body = data.kind === Kind.Ptr ? data.children?.[0] : data;
  if (body?.kind === Kind.Struct) {
    const text = body.children?.find(
      (c) => c.kind === Kind.String && ["s", "msg", "message"].includes(c.name),
    );
    if (text && !text.unreadable) return text.value;
  }
  return formatVariable(data);
}

function pickBlockedGoroutine(
  listed: ListGoroutinesOut,
  groups: GoroutineGroup[],
  cc: ClassifyContext,
): number | undefined {
  const user = (listed.Goroutines ?? []).filter((g) => {
    const fn = g.userCurrentLoc.function?.name;
    return fn !== undefined && classifyFrame({ function: fn, file: g.userCurrentLoc.file }, cc) !== "runtime";
  });
  // main's goroutine first (a deadlock usually leaves it blocked), then the largest user group.
  if (user.some((g) => g.id === 1)) return 1;
  for (const grp of groups) if (grp.class !== "runtime" && grp.ids?.[0] !== undefined) return grp.ids[0];
  return user[0]?.id;
}

function groupStateOf(groups: GoroutineGroup[], gid: number): string {
  return groups.find((g) => g.ids?.includes(gid))?.state ?? "unknown";
}

async function threadRegisters(
  s: DelveSession,
  threadId: number | undefined,
  warnings: string[],
): Promise<Register[]> {
  if (threadId === undefined) return [];
  try {
    const out = await s.call("ListRegisters", { ThreadID: threadId, IncludeFp: false });
    return (out.Regs ?? []).map((r) => ({ name: r.Name, value: r.Value }));
  } catch (e) {
    warnings.push(`could not read the registers of thread ${threadId}: ${(e as Error).message}`);
    return [];
  }
}

interface FrameContext {
  redact: boolean;
  sourceLines: number;
  files: Map<string, Promise<string[] | null>>;
  classify: ClassifyContext;
}

function frameLike(f: Stackframe): FrameLike {
  return { function: fnName(f), file: f.file, line: f.line };
}

async function toFrame(f: Stackframe, ctx: FrameContext): Promise<Frame> {
  const fn = fnName(f);
  const cls = classifyFrame(frameLike(f), ctx.classify);
  const runtime = cls === "runtime";
  // Runtime frames keep no variables: their loclists are mostly gone and people fold them.
  const vars = (list: DlvVariable[] | null) =>
    runtime
      ? []
      : (list ?? [])
          .filter((v) => !v.name.startsWith("~r"))
          .map((v) => toVariable(v, ctx.redact, f.function?.optimized));
  const frame: Frame = {
    function: fn,
    file: f.file,
    line: f.line,
    pc: `0x${f.pc.toString(16)}`,
    args: vars(f.Arguments),
    locals: vars(f.Locals),
    runtime,
    class: cls,
  };
  if ((cls === "user" || cls === "c") && ctx.sourceLines > 0 && f.file) {
    const src = await sourceContext(f.file, f.line, ctx);
    if (src) frame.source = src;
  }
  return frame;
}

export function toVariable(v: DlvVariable, redact = false, optimized?: boolean): Variable {
  if (redact && (isSecretName(v.name) || isSecretType(v.type)))
    return { name: v.name, type: v.type, value: REDACTED, redacted: true };
  if (v.unreadable)
    return { name: v.name, type: v.type, value: "", unreadable: unreadableText(v.unreadable, optimized) };
  const value = formatVariable(v, { redact });
  const raw = formatVariable(v, { redact, raw: true });
  return { name: v.name, type: v.type, value, ...(raw !== value ? { raw } : {}) };
}

// What Delve 1.27.2 says of a variable it has no location for at that PC: a go-httpbin service
// built with plain `go build` gave "empty OP stack" for a local and "could not find loclist entry
// at 0x81b40 for address 0x6c7ea9" for args; with -N -l both read.
const NO_LOCATION = /empty OP stack|could not find loclist entry|optimized away|optimized out/;
const NO_MEMORY = /read out of bounds|input\/output error|invalid address|could not read/;

/**
 * Delve's reason in words a user can act on, true to the binary: an optimised function is told
 * to be rebuilt with -N -l, a -N -l one never is (its variable is simply not live there).
 */
function unreadableText(why: string, optimized: boolean | undefined): string {
  if (NO_LOCATION.test(why))
    return optimized === false
      ? `not live at this instruction (Delve: ${why})`
      : `optimised away here: build with -gcflags=all=-N -l to keep it (Delve: ${why})`;
  if (NO_MEMORY.test(why))
    return `its memory is not in the core (a truncated core, or a bad pointer) (Delve: ${why})`;
  return why;
}

async function sourceContext(
  file: string,
  line: number,
  ctx: FrameContext,
): Promise<SourceContext | undefined> {
  let lines = ctx.files.get(file);
  if (!lines) {
    lines = readFile(file, "utf8").then(
      (t) => t.split("\n"),
      () => null,
    );
    ctx.files.set(file, lines);
  }
  const all = await lines;
  if (!all || line < 1 || line > all.length) return undefined;
  const start = Math.max(1, line - ctx.sourceLines);
  const end = Math.min(all.length, line + ctx.sourceLines);
  return { startLine: start, lines: all.slice(start - 1, end) };
}

function firstLine(s: string): string {
  return (
    s
      .split("\n")
      .find((l) => l.trim())
      ?.trim() ?? ""
  );
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The culprit's args and locals with CULPRIT_LOAD_CONFIG, each with the paths of the nil values
 * inside it. Kept as they were when Delve cannot read them deeper (an optimised frame).
 */
async function loadCulpritVariables(
  s: DelveSession,
  scope: EvalScope,
  frame: Frame,
  ctx: FrameContext,
  optimized: boolean | undefined,
): Promise<void> {
  const keep = (list: DlvVariable[] | null) =>
    (list ?? [])
      .filter((v) => !v.name.startsWith("~r"))
      .map((v) => {
        const out = toVariable(v, ctx.redact, optimized);
        if (!out.redacted && !v.unreadable) {
          const nils = nilPaths(v, v.name);
          if (nils.length) out.nilFields = nils;
        }
        return out;
      });
  try {
    const [args, locals] = await Promise.all([
      s.call("ListFunctionArgs", { Scope: scope, Cfg: CULPRIT_LOAD_CONFIG }),
      s.call("ListLocalVars", { Scope: scope, Cfg: CULPRIT_LOAD_CONFIG }),
    ]);
    frame.args = keep(args.Args);
    frame.locals = keep(locals.Variables);
  } catch {
    // The shallow values from the stack read stay.
  }
}

const NILLABLE = new Set<number>([Kind.Ptr, Kind.Map, Kind.Slice, Kind.Chan, Kind.Func, Kind.Interface]);
const MAX_NIL_PATHS = 16;

/**
 * `l.audit`, `cfg.Store.db`: where a nil sits inside a value, walking through pointers and struct
 * fields as loaded. A nil top-level value is itself a path (`s` for a nil *C.struct_slot).
 */
function nilPaths(v: DlvVariable, path: string, out: string[] = [], depth = 0): string[] {
  if (out.length >= MAX_NIL_PATHS || depth > 6 || v.unreadable) return out;
  if (NILLABLE.has(v.kind) && isNil(v)) {
    out.push(path);
    return out;
  }
  if (v.kind === Kind.Ptr) {
    const target = v.children?.[0];
    if (target && target.kind === Kind.Struct) nilPaths(target, path, out, depth + 1);
  } else if (v.kind === Kind.Struct) {
    for (const c of v.children ?? []) {
      if (c.name === "_" || c.name === "") continue;
      nilPaths(c, `${path}.${c.name}`, out, depth + 1);
    }
  }
  return out;
}

/** The same tests formatVariable.ts uses to print `nil`, so the list and the value agree. */
function isNil(v: DlvVariable): boolean {
  const kids = v.children ?? [];
  switch (v.kind) {
    case Kind.Ptr:
      return !kids[0] || kids[0].addr === 0 || v.value === "0";
    case Kind.Func:
      return v.value === "";
    case Kind.Map:
    case Kind.Slice:
      return v.base === 0 && kids.length === 0;
    case Kind.Chan:
      return v.base === 0 && v.value === "" && !kids[0];
    case Kind.Interface:
      return !kids[0] || (kids[0].kind === Kind.Invalid && kids[0].addr === 0) || v.addr === 0;
    default:
      return false;
  }
}
