/**
 * One start of a generation's binary: its process (through the host), its output (recovered
 * panics, races, readiness lines), the Go programs it starts, and its end attributed and captured
 * the same way `exec` does it (attribute.ts). The supervisor decides; this only runs.
 */

import { closeSync, openSync } from "node:fs";
import { raceMessage } from "../analyze/race/index.js";
import { signatureOf } from "../analyze/signature.js";
import type { RecoveredPanic } from "../analyze/traceback/index.js";
import type {
  Captured,
  CrashFacts,
  DumpingFacts,
  FirstReport,
  FirstReportBundle,
  RecoveredRecorder,
  ResolvedCapture,
} from "../capture/index.js";
import { prepareCapture } from "../capture/index.js";
import type { BinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import {
  archiveBinary,
  type EventInput,
  type JournalEvent,
  type StoreLayout,
  sha256File,
} from "../store/index.js";
import type { Child, ChildEnd } from "../util/child.js";
import { LineSplitter } from "../util/lineSplitter.js";
import type { Logger } from "../util/log.js";
import { attributeEnd } from "./attribute.js";
import type { Ended } from "./classifyEnd.js";
import { type Descendant, isToolchain } from "./descendants.js";
import type { ProcessHost } from "./host.js";
import { forgetRunning, rememberRunning } from "./leftovers.js";
import type { Build } from "./machine.js";
import { MANAGER_ENV, type NotifySocket } from "./notify.js";
import type { PinnedProgram } from "./pinnedProgram.js";
import { expandPort } from "./probe.js";
import { createRaceWatcher } from "./race.js";
import { createRecoveredPanicWatcher } from "./recoveredWatcher.js";
import { withoutHandoffEnv } from "./sockets.js";
import type { Steering } from "./steering.js";

/** The Go program a launcher started, kept while it ran (its file may be replaced or deleted). */
export interface StartedProgram {
  pid: number;
  argv: string[];
  /** Its path as the kernel names it (/proc/PID/exe). */
  path: string;
  sha256: string;
  /** The copy in the store (binaries/<sha256>/<name>), or null when the store refused it. */
  archived: string | null;
  identity: BinaryIdentity | null;
}

export type GenState = "starting" | "ready" | "stopping" | "ended";

export interface GenerationEnd {
  ended: Ended;
  crash: Captured | null;
  /** Stopped by the supervisor (a switch, a rollback, shutdown). */
  expected: boolean;
}

export interface Running {
  run: number;
  build: Build;
  child: Child;
  port: number;
  state: GenState;
  startedAt: Date;
  /** Stopped by hotdump (set the moment it ended). */
  expected?: boolean;
  /** Why hotdump made it dump itself (liveness, watchdog): its end is a hang, not a stop. */
  hungReason?: string;
  /** How it ended, once it has. */
  outcome?: Ended;
  /** Its NOTIFY_SOCKET, while it runs. */
  notify?: NotifySocket;
  lines: Set<(line: string) => void>;
  /** Settles as soon as the process ended and its core (if any) is set aside: restart may go. */
  ended: Promise<{ ended: Ended; expected: boolean }>;
  /** Settles once the end has been classified (and a crash captured). */
  done: Promise<GenerationEnd>;
}

export interface GenerationContext {
  host: ProcessHost;
  mode: "dev" | "run";
  layout: StoreLayout;
  logger: Logger;
  emit: (e: EventInput) => JournalEvent | undefined;
  cwd: string;
  args: readonly string[];
  command?: readonly string[];
  env: NodeJS.ProcessEnv;
  sockets: readonly number[];
  listenNames?: readonly string[];
  steering: Steering;
  needsPort: boolean;
  /** systemd's notify protocol: a NOTIFY_SOCKET per start in `dir`; WATCHDOG_USEC when set. */
  notify?: { dir: string; watchdogMs?: number };
  /** How many times this generation was started again (0 the first time). */
  restart: number;
  shuttingDown: () => boolean;
  storeWrite: (what: string, err: Error | null) => void;
  /** Set the crash's core aside before anything restarts (run). */
  claim: (facts: CrashFacts) => Promise<CrashFacts["claimed"]>;
  capture: (facts: CrashFacts, generation: number) => Promise<Captured>;
  /** Watches a generation for a core dump, to write its first report before the core is in. */
  firstReport?: (facts: () => DumpingFacts, onWritten?: (e: FirstReportBundle) => void) => FirstReport;
  /** How the core reaches hotdump (capture/mode.ts): the tracer's argv, the cores it holds. */
  captureMode?: ResolvedCapture;
  /** Records the panics it recovers (capture/recoveredRecorder.ts): a bundle each, a count for repeats. */
  recorder?: RecoveredRecorder;
  onOutput?: (generation: number, stream: "stdout" | "stderr", line: string) => void;
  onCrash?: (generation: number, c: Captured) => void;
  onProgram?: (generation: number, p: StartedProgram) => void;
}

export async function startGeneration(build: Build, run: number, o: GenerationContext): Promise<Running> {
  const pinned = await pinStored(build, o);
  const port = o.needsPort ? await o.host.freePort() : 0;
  const env = serviceEnv(o, port);
  const pid = () => child.pid ?? null;
  const notify = o.notify
    ? openNotify(o, o.notify, build, `g${build.generation}.${run}.sock`, env, pid)
    : undefined;
  /** The process as it runs, for a record made before it ends. */
  const running = () => ({
    generation: build.generation,
    pid: child.pid ?? 0,
    startedAt,
    cmdline: argv,
    cwd: o.cwd,
    envNames: Object.keys(env).sort(),
    binary: binaryAsStarted(build),
    stdoutTail: child.stdoutTail.toString(),
  });
  const onRecovered = (p: RecoveredPanic, text: string) => o.recorder?.record(p, text, running());
  // A crash's report from the traceback while the kernel still writes the core (a big heap takes
  // seconds): said in the terminal and the events at once, and completed by the capture.
  const firstReport = o.firstReport?.(
    () => ({ ...running(), stderrTail: child.stderrTail.toString() }),
    (e) => sayFirstReport(o, build.generation, e),
  );
  const output = watchOutput(o, build, pid, onRecovered, (line) => firstReport?.line(line));
  // A wrapper (dev's [run] command) gets the binary where it says {bin}.
  const program = pinned?.path ?? build.binary;
  const argv = o.command?.length
    ? [...o.command.map((w) => w.replaceAll("{bin}", program)), ...o.args]
    : [program, ...o.args];
  const fds = o.steering.open(build.generation);
  const cap = prepareCapture("auto", o.layout, o.captureMode);
  const child = o.host.launch({
    wrap: cap.wrap,
    deathSignal: cap.deathSignal,
    command: argv[0]!,
    args: argv.slice(1),
    cwd: o.cwd,
    env,
    detached: true,
    dieWithParent: true,
    listenFds: o.sockets.length,
    extraFds: fds,
    onStdout: (c) => output.out.push(c),
    onStderr: (c) => output.err.push(c),
  });
  build.onSpawned?.(child.pid);
  const startedAt = new Date();
  // The same descendant tracking as exec: a service that starts Go programs of its own (workers,
  // a wrapper) has their crashes captured with their own pid, binary and core. Every 50 ms while
  // the tree changes, every 500 ms once it has settled, every 2 s once it has stayed put for 30 s
  // (an idle `hotdump dev`: 0.1-0.2 % of one CPU, bench/watch-idle.mjs).
  const once = { found: false };
  const tracker =
    child.pid !== undefined
      ? o.host.track(child.pid, {
          intervalMs: 50,
          idleIntervalMs: 500,
          restIntervalMs: 2000,
          ...(build.launcher ? { onGo: (d: Descendant) => discovered(o, build, d, once) } : {}),
        })
      : null;
  const g: Running = {
    run,
    build,
    child,
    port,
    ...(notify ? { notify } : {}),
    state: "starting",
    startedAt,
    lines: output.lines,
    ended: null as never,
    done: null as never,
  };
  if (child.pid !== undefined) rememberWhileRunning(o, g, child.pid);
  o.emit({
    event: "started",
    generation: build.generation,
    pid: child.pid ?? null,
    ...(o.restart ? { restart: o.restart } : {}),
  });
  const launched: Launched = { o, g, argv, env, cap, tracker, output, pinned, firstReport };
  const ending = child.stopped.then((end) => attributeGenerationEnd(launched, end));
  g.ended = ending.then(({ ended, expected }) => ({ ended, expected }));
  g.done = ending.then((e) => finishGeneration(launched, e));
  return g;
}

/**
 * The generation's binary as known while it runs. It is hashed beside its start (dev), so a panic
 * this early has no SHA-256 yet: none is written rather than a placeholder (a capture waits for it).
 */
function binaryAsStarted(build: Build): NonNullable<CrashFacts["binary"]> {
  return {
    path: build.binary,
    archived: build.binary,
    ...(build.sha256.startsWith("pending-") ? {} : { sha256: build.sha256 }),
    identity: build.identity,
  };
}

/** The first report is written: the crash is told now, its full report when the core is in. */
function sayFirstReport(o: GenerationContext, generation: number, e: FirstReportBundle): void {
  const { report } = e;
  const message = report.message ?? report.kind;
  const c = report.culprit;
  o.emit({
    event: "first-report",
    generation,
    pid: report.process?.pid ?? null,
    crashId: e.bundle.id,
    message,
    culprit: c ?? null,
  });
  const where = c ? ` at ${c.function} ${c.file}:${c.line}` : "";
  o.logger.warn(
    `generation ${generation} crashed: ${message}${where} (crash ${e.bundle.id}, from the traceback; the core is still being written)`,
  );
}

/**
 * The service's environment: {port} is the generation's own free port (for a health endpoint a
 * probe can reach without hitting the old generation on the shared socket). hotdump's own
 * stage-1 -> stage-2 variables (HOTDUMP_LISTEN_*, HOTDUMP_STAGE1_PID) stop here: the service gets
 * the systemd names set below, and a Go program that itself runs hotdump would otherwise take
 * them as its own handoff.
 */
function serviceEnv(o: GenerationContext, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(withoutHandoffEnv(o.env)))
    if (v !== undefined) env[k] = expandPort(v, port);
  // Under systemd, hotdump's NOTIFY_SOCKET is its own manager's: the service's READY=1 must not
  // reach systemd before hotdump's health gate did.
  for (const k of MANAGER_ENV) delete env[k];
  if (o.sockets.length > 0) {
    env.LISTEN_FDS = String(o.sockets.length);
    env.LISTEN_FDNAMES = (o.listenNames ?? []).join(":");
  }
  return env;
}

/** The generation's own NOTIFY_SOCKET (named in `env`); what the service says on it is recorded. */
function openNotify(
  o: GenerationContext,
  spec: NonNullable<GenerationContext["notify"]>,
  build: Build,
  name: string,
  env: NodeJS.ProcessEnv,
  pid: () => number | null,
): NotifySocket {
  const notify = o.host.notifySocket(spec.dir, name);
  env.NOTIFY_SOCKET = notify.path;
  if (spec.watchdogMs) env.WATCHDOG_USEC = String(Math.round(spec.watchdogMs * 1000));
  notify.on((m) => {
    // READY=1 is readiness (the probe), WATCHDOG=1 liveness: the others are said and recorded.
    const said = ["RELOADING", "STOPPING", "STATUS", "ERRNO"].filter((k) => m.has(k));
    if (said.length === 0) return;
    const fields = Object.fromEntries(said.map((k) => [k.toLowerCase(), m.get(k)]));
    o.emit({ event: "notify", generation: build.generation, pid: pid(), ...fields });
    if (m.get("STOPPING") === "1") o.logger.info(`generation ${build.generation} says it is stopping`);
    if (m.get("RELOADING") === "1") o.logger.info(`generation ${build.generation} says it is reloading`);
  });
  return notify;
}

/** The service's output, line by line: to the caller, the readiness probe, and the watchers of
 * recovered panics and races. */
interface OutputWatch {
  out: LineSplitter;
  err: LineSplitter;
  /** Readiness probes listening to each line. */
  lines: Set<(line: string) => void>;
  races: ReturnType<typeof createRaceWatcher>;
  flush(): void;
}

function watchOutput(
  o: GenerationContext,
  build: Build,
  pid: () => number | null,
  onRecovered: (p: RecoveredPanic, text: string) => void,
  onErrLine: (line: string) => void,
): OutputWatch {
  const lines = new Set<(line: string) => void>();
  // echo logs through its logger on stdout, the others on stderr: one watcher per stream.
  const recovered = {
    stdout: createRecoveredPanicWatcher(onRecovered),
    stderr: createRecoveredPanicWatcher(onRecovered),
  };
  // A race the detector survived (GORACE halt_on_error=0, the default) is recorded as it is
  // printed; the generation may run on for hours, or exit 66 later and become a crash.
  const races = createRaceWatcher((r, n) => {
    const message = raceMessage(r);
    o.emit({
      event: "race",
      generation: build.generation,
      pid: pid(),
      message,
      culprit: r.culprit,
      count: n,
      // The same fingerprint as the report of a run the race ends (kind race, its first access).
      fingerprint: signatureOf({ kind: "race", message, culprit: r.culprit, goroutine: null, races: [r] })
        .fingerprint,
    });
    const where = r.culprit ? ` (${r.culprit.function} ${r.culprit.file}:${r.culprit.line})` : "";
    o.logger.warn(`generation ${build.generation}: ${message}${where}`);
  });
  const splitter = (stream: "stdout" | "stderr") =>
    new LineSplitter((line) => {
      o.onOutput?.(build.generation, stream, line);
      recovered[stream].line(line);
      if (stream === "stderr") {
        races.line(line);
        onErrLine(line);
      }
      for (const l of lines) l(line);
    });
  const out = splitter("stdout");
  const err = splitter("stderr");
  return {
    out,
    err,
    lines,
    races,
    flush() {
      out.flush();
      err.flush();
      recovered.stdout.flush();
      recovered.stderr.flush();
    },
  };
}

/** running.json names it while it runs; its /proc/PID/exe names the store once the binary is moved there. */
function rememberWhileRunning(o: GenerationContext, g: Running, pid: number): void {
  const { build } = g;
  const remember = () =>
    o.storeWrite(
      "running.json",
      rememberRunning(o.layout, { pid, generation: build.generation, binary: build.binary }),
    );
  remember();
  build.stored?.then(
    () => g.state !== "ended" && remember(),
    () => {},
  );
}

/** One start's parts its end needs. */
interface Launched {
  o: GenerationContext;
  g: Running;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cap: ReturnType<typeof prepareCapture>;
  tracker: ReturnType<ProcessHost["track"]>;
  output: OutputWatch;
  /** The stored binary held from its check to its start (pinStored), released at the end. */
  pinned: PinnedProgram | null;
  firstReport: FirstReport | undefined;
}

interface AttributedEnd {
  ended: Ended;
  expected: boolean;
  facts: CrashFacts | null;
  crashPid: number | null;
}

/** The process ended: its sockets kept or released, its end attributed, a crash's core set aside. */
async function attributeGenerationEnd(l: Launched, end: ChildEnd): Promise<AttributedEnd> {
  const { o, g, cap } = l;
  const { build, child } = g;
  g.notify?.close();
  l.output.flush();
  if (child.pid !== undefined) o.storeWrite("running.json", forgetRunning(o.layout, child.pid));
  const expected = g.state === "stopping";
  g.expected = expected;
  g.state = "ended";
  // The sockets of a generation that took the traffic and ended by itself stay open: the
  // connections queued on them wait for the restart (or the rollback) instead of being reset.
  if (!expected && !o.shuttingDown() && o.steering.isTarget(build.generation))
    o.steering.keepForRestart(build.generation);
  else o.steering.release(build.generation);
  // The crash names the binary by SHA-256: an end right after the start waits for the hash.
  await build.stored?.catch(() => {});
  const a = await attributeEnd(
    child,
    end,
    l.tracker,
    {
      argv: l.argv,
      cwd: o.cwd,
      envNames: Object.keys(l.env).sort(),
      binary: { path: build.binary, archived: build.binary, sha256: build.sha256, identity: build.identity },
      startedAt: g.startedAt,
      generation: build.generation,
      ...(l.firstReport ? { firstReport: l.firstReport } : {}),
    },
    {
      expected,
      races: l.output.races.races,
      layout: o.layout,
      logger: o.logger,
      held: cap,
      wrapped: cap.wrap.length > 0,
    },
  );
  const facts = a.crash?.facts ?? null;
  if (facts && g.hungReason) facts.hang = { reason: g.hungReason };
  // Before anything restarts: the next generation's core must not replace this one.
  if (facts && o.mode === "run" && !facts.claimed) facts.claimed = await o.claim(facts);
  return { ended: a.ended, expected, facts, crashPid: a.crash?.summary.pid ?? child.pid ?? null };
}

/** Its crash captured (or its stop or exit recorded): the generation is done. */
async function finishGeneration(l: Launched, e: AttributedEnd): Promise<GenerationEnd> {
  const { o, g, tracker } = l;
  const { build, child } = g;
  const { ended, expected, facts, crashPid } = e;
  let crash: Captured | null = null;
  if (facts) {
    crash = await o.capture(facts, build.generation).finally(() => tracker?.release());
    o.emit({
      event: "crash",
      generation: build.generation,
      pid: crashPid,
      crashId: crash.bundle?.id ?? null,
      // The generation's own process: with a restart the crash event can come after the next
      // process's events (run captures in the background), and history must tell them apart.
      runPid: child.pid ?? null,
      message: crash.report.message,
      culprit: crash.report.culprit,
      // Why a bundle is short or missing (a full disk, a deadline): said, never silent.
      problems: crash.problems,
    });
    o.onCrash?.(build.generation, crash);
  } else {
    tracker?.release();
    o.emit({
      event: expected ? "stopped" : "exited",
      generation: build.generation,
      pid: child.pid ?? null,
      signal: ended.signal,
      exitCode: ended.exitCode,
    });
  }
  l.cap.dispose();
  l.pinned?.release();
  return { ended, crash, expected };
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * A stored binary starts from the file that hashes to its name, held from the check to the start
 * (pinnedProgram.ts): nothing can be put in its place in between. Not pinned: a dev generation's
 * first start, which runs the build output before its hash is known (bench/dev-latency.mjs) from
 * the 0700 directory hotdump made for that build in the trusted store.
 */
async function pinStored(build: Build, o: GenerationContext): Promise<PinnedProgram | null> {
  if (!SHA256.test(build.sha256)) return null;
  // A launcher script runs from its own path where nobody else can swap it: it may rely on it
  // (`cd "$(dirname "$0")"`); elsewhere it is pinned too.
  const pinned = await o.host.pin(build.binary, {
    under: [o.layout.tmp],
    ...(build.launcher ? { inPlaceIfTrusted: true } : {}),
  });
  if (pinned.sha256 === build.sha256) return pinned;
  pinned.release();
  throw new HotdumpError(
    "supervise",
    "E_BINARY_CHANGED",
    `${build.binary} no longer hashes to ${build.sha256.slice(0, 12)}… (now ${pinned.sha256.slice(0, 12)}…): not starting it`,
  );
}

/** A launcher's first Go program (once per start: a restart runs it anew), stored while it runs. */
function discovered(o: GenerationContext, build: Build, d: Descendant, once: { found: boolean }): void {
  if (isToolchain(d) || d.exeFd === null || once.found) return;
  once.found = true;
  // A second fd on the same inode (opening /proc/self/fd/N reopens the file itself): the
  // tracker may close its own once the process ends, before the copy is read.
  let fd: number;
  try {
    fd = openSync(`/proc/self/fd/${d.exeFd}`, "r");
  } catch {
    return;
  }
  const via = `/proc/self/fd/${fd}`;
  const path = d.exe.replace(/ \(deleted\)$/, "");
  void archiveBinary(o.layout, via)
    .then(
      (a) => ({ sha256: a.sha256, archived: a.path as string | null }),
      async (e: Error) => {
        o.storeWrite("the program's binary", e);
        return { sha256: await sha256File(via), archived: null };
      },
    )
    .then((a) => {
      o.onProgram?.(build.generation, { pid: d.pid, argv: d.argv, path, identity: d.identity, ...a });
    })
    .catch((e: Error) => o.logger.warn(`generation ${build.generation}: cannot read ${path}: ${e.message}`))
    .finally(() => closeSync(fd));
}
