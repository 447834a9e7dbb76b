/**
 * `hotdump exec`: run a program once under crash capture, forward its output live, and turn its
 * end into an outcome (and, for a crash, a bundle and a report).
 */
import { tmpdir } from "node:os";
import type { Writable } from "node:stream";
import type { AnalyzeOptions } from "../analyze/index.js";
import { signatureOf } from "../analyze/signature.js";
import type { RecoveredPanic } from "../analyze/traceback/index.js";
import {
  type Captured,
  type CrashFacts,
  captureCrash,
  createRecoveredRecorder,
  fileOrphanedCores,
  prepareCapture,
  type RecoveredContext,
  snapshotAfterExec,
  watchFirstReport,
} from "../capture/index.js";
import type { CaptureModeRequest, ResolvedCapture } from "../capture/mode.js";
import type { Report } from "../contracts/index.js";
import { type BinaryIdentity, readBinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import { archiveBinary, ensureStore, programName, type StoreLayout } from "../store/index.js";
import type { Child } from "../util/child.js";
import { LineSplitter } from "../util/lineSplitter.js";
import type { Logger } from "../util/log.js";
import { attributeEnd, type CrashedSummary } from "./attribute.js";
import type { Ended } from "./classifyEnd.js";
import type { DescendantTracker } from "./descendants.js";
import { type ProcessHost, systemHost } from "./host.js";
import type { PinnedProgram } from "./pinnedProgram.js";
import { createRaceWatcher } from "./race.js";
import { createRecoveredPanicWatcher } from "./recoveredWatcher.js";
import { resolveCommand } from "./resolveCommand.js";

export interface RunOnceOptions {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  storeDir: string;
  stdout: Writable;
  stderr: Writable;
  logger: Logger;
  analyze?: Omit<AnalyzeOptions, "binary" | "core" | "stderr">;
  tailBytes?: number;
  /** Run Delve/gdb on the core (default true); the core is kept either way. */
  runAnalysis?: boolean;
  /** Processes, timers and /proc (default: this machine). */
  host?: ProcessHost;
  /** How the core reaches hotdump (capture/mode.ts); default auto. */
  capture?: CaptureModeRequest;
}

export interface RunOnceResult {
  ended: Ended;
  pid: number | undefined;
  crash: Captured | null;
  stderrTail: string;
  /** For exits and kills: the traceback-only report (empty when nothing was printed). */
  report: Report | null;
  storeProblem?: HotdumpError;
  /** The process that crashed: the child itself, or a descendant (go run, sh -c, a script, make). */
  crashed?: CrashedSummary;
  /** How the core was to reach hotdump, and why (capture/mode.ts). */
  capture: ResolvedCapture;
  /** Panics it recovered and went on from (one record per signature, with how many times). */
  recovered: { crashId: string | null; by: string; message: string; fingerprint: string | null }[];
}

export type { CrashedSummary };

export async function runOnce(o: RunOnceOptions): Promise<RunOnceResult> {
  const program = resolveCommand(o.command, o.cwd, o.env.PATH);

  const { layout, storeProblem } = openStoreOrSay(o);
  // What starts is the file that was hashed (pinnedProgram.ts), and the store's copy is read from
  // it: replacing the program's path after the check, or while it runs, changes nothing. A program
  // only you or root can change or replace starts from its own path (go finds GOROOT from it).
  let identity: BinaryIdentity | null = null;
  try {
    identity = await readBinaryIdentity(program);
  } catch {
    identity = null; // a script or another non-ELF program: still runs, no build-ID proof
  }
  const pinned = identity?.isElf
    ? await (o.host ?? systemHost).pin(program, {
        under: [...(layout ? [layout.tmp] : []), tmpdir()],
        inPlaceIfTrusted: true,
      })
    : null;
  try {
    return await runPinned(o, program, pinned, identity, layout, storeProblem);
  } finally {
    pinned?.release();
  }
}

async function runPinned(
  o: RunOnceOptions,
  program: string,
  pinned: PinnedProgram | null,
  identity: BinaryIdentity | null,
  layout: StoreLayout | null,
  storeProblem: HotdumpError | undefined,
): Promise<RunOnceResult> {
  const startedBinary = await startedBinaryOf(o, program, pinned, identity, layout);
  const started = pinned?.path ?? program;

  const cap = prepareCapture(o.capture ?? "auto", layout);
  if (cap.capture.mode === "handler" && layout)
    for (const c of await fileOrphanedCores(layout, { logger: o.logger }))
      o.logger.warn(`filed an earlier crash the core handler kept: ${c.bundle?.id ?? "(not stored)"}`);
  const startedAt = new Date();
  const races = createRaceWatcher();
  const recovered = recoveredPanicsOf(o, layout);
  const onRecovered = (p: RecoveredPanic, text: string) =>
    recovered.record(p, text, {
      generation: null,
      pid: child.pid ?? 0,
      startedAt,
      cmdline: [program, ...o.args],
      cwd: o.cwd,
      envNames: Object.keys(o.env).sort(),
      binary: startedBinary,
      stdoutTail: child.stdoutTail.toString(),
    });
  const recoveredOut = createRecoveredPanicWatcher(onRecovered);
  const recoveredErr = createRecoveredPanicWatcher(onRecovered);
  const stdoutLines = new LineSplitter((l) => recoveredOut.line(l));
  // A crash's report from the traceback while the kernel still writes the core (capture/firstReport.ts).
  const firstReport = watchFirstReport({
    layout,
    ...(o.analyze ? { analyze: o.analyze } : {}),
    facts: () => ({
      pid: child.pid ?? 0,
      startedAt,
      cmdline: [o.command, ...o.args],
      cwd: o.cwd,
      envNames: Object.keys(o.env).sort(),
      binary: startedBinary,
      stdoutTail: child.stdoutTail.toString(),
      stderrTail: child.stderrTail.toString(),
    }),
    onWritten: (e) =>
      o.logger.info(
        `first report from the traceback (the core is still being written): ${e.bundle.dir}/report.json`,
      ),
  });
  const stderrLines = new LineSplitter((l) => {
    races.line(l);
    recoveredErr.line(l);
    firstReport.line(l);
  });
  const host = o.host ?? systemHost;
  const child = host.launch({
    command: started,
    args: o.args,
    cwd: o.cwd,
    env: o.env,
    stdin: "inherit",
    // SIGKILL of hotdump exec left its program running (ppid 1): PR_SET_PDEATHSIG ends it too.
    dieWithParent: true,
    wrap: cap.wrap,
    deathSignal: cap.deathSignal,
    tailBytes: o.tailBytes ?? 256 * 1024,
    onStdout: (c) => {
      o.stdout.write(c);
      stdoutLines.push(c);
    },
    onStderr: (c) => {
      o.stderr.write(c);
      stderrLines.push(c);
    },
  });
  // The child shares our process group, so a terminal's Ctrl-C reaches it directly; a signal sent
  // to hotdump alone (kill PID) is passed on. Either way hotdump stays to record how it ended.
  // Facts about the running process (its exact comm, pid namespace, core limit) for finding the core.
  const snapshot =
    child.pid !== undefined
      ? snapshotAfterExec(child.pid, started, undefined, {
          argv: [started, ...o.args],
          raisesCoreLimit: true,
        }).catch(() => undefined)
      : undefined;
  // The Go program may be a descendant (go run, sh -c, a wrapper script, make): follow the tree.
  const tracker: DescendantTracker | null =
    child.pid !== undefined ? host.track(child.pid, { idleIntervalMs: 250 }) : null;
  const unforward = forwardSignals(child);
  const end = await child.stopped;
  stdoutLines.flush();
  stderrLines.flush();
  recoveredOut.flush();
  recoveredErr.flush();
  unforward();
  if (end.error && child.pid === undefined) {
    cap.dispose();
    throw new HotdumpError("exec", "E_EXEC_SPAWN", `could not start ${o.command}: ${end.error.message}`, {
      cause: end.error,
    });
  }

  const attributed = await attributeEnd(
    child,
    end,
    tracker,
    {
      argv: [o.command, ...o.args],
      cwd: o.cwd,
      envNames: Object.keys(o.env).sort(),
      binary: startedBinary,
      startedAt,
      ...(snapshot ? { rootSnapshot: snapshot } : {}),
      firstReport,
    },
    { races: races.races, layout, logger: o.logger, held: cap, wrapped: cap.wrap.length > 0 },
  );
  const { ended, stderrTail } = attributed;
  let crash: Captured | null = null;
  const summary = attributed.crash?.summary;
  if (attributed.crash) {
    try {
      crash = await captureCrash(attributed.crash.facts, {
        layout,
        ...(storeProblem ? { storeError: storeProblem } : {}),
        ...(o.analyze ? { analyze: o.analyze } : {}),
        ...(o.runAnalysis === false ? { runAnalysis: false } : {}),
        logger: o.logger,
      });
    } finally {
      tracker?.release();
    }
  }
  await recovered.recorder?.flush();
  cap.dispose();
  return {
    ended,
    recovered: recovered.list,
    ...(summary ? { crashed: summary } : {}),
    capture: cap.capture,
    pid: child.pid,
    crash,
    stderrTail,
    report: crash?.report ?? null,
    ...(storeProblem ? { storeProblem } : {}),
  };
}

/** The store, or why crashes will be reported but not kept. */
function openStoreOrSay(o: RunOnceOptions): { layout: StoreLayout | null; storeProblem?: HotdumpError } {
  try {
    return { layout: ensureStore(o.storeDir) };
  } catch (e) {
    const storeProblem = e as HotdumpError;
    o.logger.warn(`${storeProblem.shortMessage}; crashes will be reported but not kept`);
    return { layout: null, storeProblem };
  }
}

/**
 * The bytes that ran, even if the file is replaced meanwhile: the store's copy (read from the
 * pinned file), else (no store) the pinned file itself, kept until the crash is analysed.
 */
async function startedBinaryOf(
  o: RunOnceOptions,
  program: string,
  pinned: PinnedProgram | null,
  identity: BinaryIdentity | null,
  layout: StoreLayout | null,
): Promise<NonNullable<CrashFacts["binary"]>> {
  let archived: { path: string; sha256: string } | undefined;
  if (layout && pinned) {
    try {
      archived = await archiveBinary(layout, pinned.path, programName(program));
    } catch (e) {
      o.logger.warn((e as HotdumpError).shortMessage ?? String(e));
    }
  }
  return {
    path: program,
    ...(archived
      ? { archived: archived.path, sha256: archived.sha256 }
      : pinned
        ? { archived: pinned.path, sha256: pinned.sha256 }
        : {}),
    identity,
  };
}

/**
 * A panic the program recovered (an HTTP handler's) is a record even when the program then exits
 * 0: a bundle without core, counted when it repeats. Without a store it is said once.
 */
function recoveredPanicsOf(o: RunOnceOptions, layout: StoreLayout | null) {
  const list: RunOnceResult["recovered"] = [];
  const recorder = layout
    ? createRecoveredRecorder({
        layout,
        capture: (facts) => captureCrash(facts, { layout, logger: o.logger }),
        emit: (e) => {
          list.push({
            crashId: e.crashId ?? null,
            by: String(e.by),
            message: String(e.message ?? ""),
            fingerprint: typeof e.fingerprint === "string" ? e.fingerprint : null,
          });
        },
        logger: o.logger,
        fingerprint: (r) => signatureOf(r).fingerprint,
      })
    : null;
  let unrecorded = false;
  return {
    list,
    recorder,
    record(p: RecoveredPanic, text: string, ctx: RecoveredContext): void {
      if (recorder) {
        recorder.record(p, text, ctx);
        return;
      }
      if (!unrecorded)
        o.logger.warn(
          `the program recovered a panic (${p.form}): ${p.message}; not recorded, the store cannot be written`,
        );
      unrecorded = true;
    },
  };
}

/**
 * The child shares our process group, so a terminal's Ctrl-C reaches it directly; a signal sent
 * to hotdump alone (kill PID) is passed on. Either way hotdump stays to record how it ended.
 * Returns the undo.
 */
function forwardSignals(child: Child): () => void {
  const forward = (sig: NodeJS.Signals) => () => child.signal(sig);
  const handlers: [NodeJS.Signals, () => void][] = (["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const).map(
    (s) => [s, s === "SIGINT" ? () => {} : forward(s)],
  );
  for (const [s, h] of handlers) process.on(s, h);
  return () => {
    for (const [s, h] of handlers) process.off(s, h);
  };
}
