import { closeSync, openSync } from "node:fs";
import { reportFromTracebackOnly } from "../analyze/analyze.js";
import { raceMessage } from "../analyze/race/index.js";
import { type Captured, type CrashFacts, captureCrash, claimCore } from "../capture/capture.js";
import { fileOrphanedCores } from "../capture/handler.js";
import { prepareCapture } from "../capture/launchCapture.js";
import { type CaptureModeRequest, resolveCaptureMode } from "../capture/mode.js";
import type { Report } from "../contracts/report.js";
import type { BinaryIdentity } from "../elf/index.js";
import {
  archiveBinary,
  defaultBudget,
  type EventInput,
  type Journal,
  type JournalEvent,
  type StoreLayout,
  sha256File,
} from "../store/index.js";
import type { Child } from "../util/child.js";
import { LineSplitter } from "../util/lines.js";
import type { Logger } from "../util/log.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { crashedCwd, descendantBinary, findCrashedProcess } from "./crashedProcess.js";
import { type Descendant, isToolchain, trackDescendants } from "./descendants.js";
import { launchService } from "./launch.js";
import { type Ended, judgeEnd } from "./outcome.js";
import { expandPort, freePort, type ProbeSpec, type ProbeTiming, waitReady } from "./probe.js";
import { createRaceWatcher } from "./race.js";
import { createRecoveredPanicWatcher } from "./recovered.js";
import { forgetRunning, rememberRunning } from "./running.js";
import { withoutHandoffEnv } from "./sockets.js";
import {
  addressInUseMessage,
  checkAccepts,
  createSteering,
  neverAcceptedMessage,
  notAcceptingMessage,
  type Steering,
} from "./steering.js";

export interface Build {
  generation: number;
  /** The binary in the store (binaries/<sha256>): never the developer's build output. */
  binary: string;
  sha256: string;
  identity: BinaryIdentity | null;
  /**
   * `binary` only starts the Go program (a `#!` script, `sh -c`): the generation's program is
   * found at run time among its descendants and reported through onProgram.
   */
  launcher?: "script" | "shell";
}

/** The Go program a launcher started, kept while it ran (its file may be replaced or deleted). */
export interface StartedProgram {
  pid: number;
  argv: string[];
  /** Its path as the kernel names it (/proc/PID/exe). */
  path: string;
  sha256: string;
  /** The copy in the store (binaries/<sha256>), or null when the store refused it. */
  archived: string | null;
  identity: BinaryIdentity | null;
}

export interface SupervisorOptions {
  mode: "dev" | "run";
  layout: StoreLayout;
  logger: Logger;
  /** Records an event (journal, --json-events, UI). */
  emit: (e: EventInput) => JournalEvent | undefined;
  cwd: string;
  args: string[];
  /**
   * Start each generation through this command instead (air's full_bin): "{bin}" in any word is
   * replaced by the generation's binary; `args` follow its words.
   */
  command?: readonly string[];
  /** The service's environment; values may hold {port}. */
  env: NodeJS.ProcessEnv;
  stopSignal?: NodeJS.Signals;
  /** How long a stopping generation may take before SIGKILL of its group. */
  stopTimeoutMs?: number;
  /** Inherited listening sockets (fds in this process) and their names. */
  listenFds?: number[];
  listenNames?: string[];
  /** One socket shared by every generation even where steering works (default: the environment's
   * HOTDUMP_LISTEN_MODE=shared). */
  sharedSocket?: boolean;
  probe: ProbeSpec;
  timing: ProbeTiming;
  readyTimeoutMs: number;
  backoff?: BackoffOptions;
  /** The store's size budget for each capture (default: systemd-coredump's, from the file system). */
  budget?: { maxUse?: number | null; keepFree?: number | null };
  redact?: boolean;
  /** Each line of the service's output. */
  onOutput?: (generation: number, stream: "stdout" | "stderr", line: string) => void;
  /** After each crash is captured (dev prints its summary). */
  onCrash?: (generation: number, c: Captured) => void;
  /** The first Go program a launcher generation started (its binary already stored). */
  onProgram?: (generation: number, p: StartedProgram) => void;
  /** The supervisor's journal (holds what a full disk refuses); captures write through it. */
  journal?: Journal;
  /**
   * How long after a crash its capture (compression + Delve) may still run, queue wait included
   * (default 120 s). Past it the core is still stored and the report comes from the traceback.
   */
  captureDeadlineMs?: number;
  /** How crash cores reach hotdump (capture/mode.ts); default auto. */
  capture?: CaptureModeRequest;
}

type GenState = "starting" | "ready" | "stopping" | "ended";

interface Running {
  build: Build;
  child: Child;
  port: number;
  state: GenState;
  startedAt: Date;
  lines: Set<(line: string) => void>;
  /** Connections still queued on its own sockets when they were closed (reset by the kernel). */
  socketsLeft?: number;
  /** Settles as soon as the process ended and its core (if any) is set aside: restart may go. */
  ended: Promise<{ ended: Ended; expected: boolean }>;
  /** Settles once the end has been classified (and a crash captured). */
  done: Promise<GenerationEnd>;
}

export interface GenerationEnd {
  ended: Ended;
  crash: Captured | null;
  /** Stopped by the supervisor (a switch, a rollback, shutdown). */
  expected: boolean;
}

export type DeployResult =
  | { ok: true; generation: number; pid: number; readyMs: number }
  | { ok: false; generation: number; reason: string; crashId?: string; report?: Report };

export interface Supervisor {
  deploy(build: Build): Promise<DeployResult>;
  /** Restart the current build (crash-loop policy) or nothing. */
  readonly current: { generation: number; pid: number | undefined; state: GenState } | null;
  stop(): Promise<void>;
  /** New build arrived: the crash-loop delay starts over. */
  resetBackoff(): void;
  /**
   * A build is linked and its deploy is coming: without sockets to hand over, the serving
   * generation has to stop before the next starts anyway, so it starts stopping now (while the
   * binary is hashed and stored) instead of after. With sockets, or while a deploy or restart is
   * in flight, nothing happens.
   */
  stopBeforeDeploy(): void;
}

/** A configured limit replaces its default; an unset one keeps systemd-coredump's default. */
function resolveBudget(o: SupervisorOptions): { maxUse: number; keepFree: number } | undefined {
  const maxUse = o.budget?.maxUse ?? null;
  const keepFree = o.budget?.keepFree ?? null;
  if (maxUse === null && keepFree === null) return undefined;
  const d = defaultBudget(o.layout.root);
  return { maxUse: maxUse ?? d.maxUse, keepFree: keepFree ?? d.keepFree };
}

export function createSupervisor(o: SupervisorOptions): Supervisor {
  const sockets = o.listenFds ?? [];
  const handoff = sockets.length > 0;
  const steering: Steering = createSteering(sockets, o.logger, {
    forceShared: o.sharedSocket ?? process.env.HOTDUMP_LISTEN_MODE === "shared",
  });
  const stopSignal = o.stopSignal ?? "SIGTERM";
  const stopTimeoutMs = o.stopTimeoutMs ?? (o.mode === "run" ? 30_000 : 5_000);
  const backoff = new Backoff(o.backoff);
  // A generation's own port costs a bind and a close: only when something asks for {port}.
  const needsPort =
    o.probe.kind === "exec" ||
    JSON.stringify(o.probe).includes("{port}") ||
    Object.values(o.env).some((v) => v?.includes("{port}"));
  const budget = resolveBudget(o);
  let current: Running | null = null;
  /** Deploys queued or running (a restart included). */
  let inFlight = 0;
  /** The build to keep running: the newest ready one (or, without sockets, the newest deployed). */
  let keep: Build | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  let pending: { build: Build; waiters: ((r: DeployResult) => void)[] } | null = null;
  let shuttingDown = false;
  let restartTimer: NodeJS.Timeout | undefined;
  /** How many times each generation was started again after it ended by itself. */
  const restarts = new Map<number, number>();
  // Captures run one at a time, apart from the deploy queue: in `run` a crashed service is
  // restarted (after its backoff) while its core is still being compressed and analysed.
  let captures: Promise<unknown> = Promise.resolve();
  const captureDeadlineMs = o.captureDeadlineMs ?? 120_000;
  const captureMode = resolveCaptureMode(o.capture ?? "auto");
  // Cores the handler filed while no supervisor was there to take them (one was killed mid-dump).
  if (captureMode.mode === "handler")
    captures = captures.then(() =>
      fileOrphanedCores(o.layout, { logger: o.logger, ...(o.journal ? { journal: o.journal } : {}) }).then(
        (filed) => {
          for (const c of filed)
            o.logger.warn(`filed an earlier crash the core handler kept: ${c.bundle?.id ?? "(not stored)"}`);
        },
        (e) => o.logger.warn(`could not file the core handler's earlier cores: ${(e as Error).message}`),
      ),
    );
  // A write the store refuses (a full disk) is said once per kind until it works again.
  const storeFailing = new Set<string>();
  const storeWrite = (what: string, err: Error | null) => {
    if (!err) {
      if (storeFailing.delete(what)) o.logger.info(`${what}: writing again`);
      return;
    }
    if (storeFailing.has(what)) return;
    storeFailing.add(what);
    o.logger.warn(
      `cannot write ${what} (${(err as NodeJS.ErrnoException).code ?? err.message}); the service keeps running`,
    );
  };

  function queueCapture(facts: CrashFacts, generation: number): Promise<Captured> {
    const run = captures.then(() =>
      captureCrash(facts, {
        layout: o.layout,
        analyze: { redact: Boolean(o.redact) },
        pinnedBinaries: keep ? [keep.sha256] : [],
        ...(budget ? { budget } : {}),
        deadline: facts.endedAt.getTime() + captureDeadlineMs,
        ...(o.journal ? { journal: o.journal } : {}),
      }).catch((e: Error): Captured => {
        // Never a lost crash: whatever broke in the capture, the traceback still makes a report.
        o.logger.error(`capturing the crash of generation ${generation} failed: ${e.message}`);
        const core = { found: false, reason: `capture failed: ${e.message}` };
        return {
          bundle: null,
          report: reportFromTracebackOnly(facts.traceback, core),
          core,
          problems: [{ code: "E_CAPTURE", message: e.message }],
        };
      }),
    );
    captures = run;
    return run;
  }
  /** A launcher's first Go program (once per start: a restart runs it anew), stored while it runs. */
  function discovered(build: Build, d: Descendant, once: { found: boolean }): void {
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
          storeWrite("the program's binary", e);
          return { sha256: await sha256File(via), archived: null };
        },
      )
      .then((a) => {
        o.onProgram?.(build.generation, { pid: d.pid, argv: d.argv, path, identity: d.identity, ...a });
      })
      .catch((e: Error) => o.logger.warn(`generation ${build.generation}: cannot read ${path}: ${e.message}`))
      .finally(() => closeSync(fd));
  }
  // Ctrl-C must not wait out a new generation's ready timeout (60 s by default).
  const shutdown = new AbortController();

  async function start(build: Build): Promise<Running> {
    const port = needsPort ? await freePort() : 0;
    // {port} in the service's environment is the generation's own free port (for a health
    // endpoint a probe can reach without hitting the old generation on the shared socket).
    // hotdump's own stage-1 -> stage-2 variables (HOTDUMP_LISTEN_*, HOTDUMP_STAGE1_PID) stop here:
    // the service gets the systemd names set below, and a Go program that itself runs hotdump
    // would otherwise take them as its own handoff.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(withoutHandoffEnv(o.env)))
      if (v !== undefined) env[k] = expandPort(v, port);
    if (handoff) {
      env.LISTEN_FDS = String(sockets.length);
      env.LISTEN_FDNAMES = (o.listenNames ?? []).join(":");
    }
    const lines = new Set<(line: string) => void>();
    const recovered = createRecoveredPanicWatcher((p) => {
      o.emit({
        event: "recovered-panic",
        generation: build.generation,
        pid: child.pid ?? null,
        message: p.message,
        culprit: p.culprit,
        remoteAddr: p.remoteAddr,
      });
      const where = p.culprit ? ` at ${p.culprit.function} ${p.culprit.file}:${p.culprit.line}` : "";
      o.logger.warn(
        `generation ${build.generation} recovered a panic in an HTTP handler: ${p.message}${where} (it keeps serving)`,
      );
    });
    // A race the detector survived (GORACE halt_on_error=0, the default) is recorded as it is
    // printed; the generation may run on for hours, or exit 66 later and become a crash.
    const races = createRaceWatcher((r, n) => {
      const message = raceMessage(r);
      o.emit({
        event: "race",
        generation: build.generation,
        pid: child.pid ?? null,
        message,
        culprit: r.culprit,
        count: n,
      });
      const where = r.culprit ? ` (${r.culprit.function} ${r.culprit.file}:${r.culprit.line})` : "";
      o.logger.warn(`generation ${build.generation}: ${message}${where}`);
    });
    const splitter = (stream: "stdout" | "stderr") =>
      new LineSplitter((line) => {
        o.onOutput?.(build.generation, stream, line);
        if (stream === "stderr") {
          recovered.line(line);
          races.line(line);
        }
        for (const l of lines) l(line);
      });
    const out = splitter("stdout");
    const err = splitter("stderr");
    // A wrapper (dev's [run] command) gets the binary where it says {bin}.
    const argv = o.command?.length
      ? [...o.command.map((w) => w.replaceAll("{bin}", build.binary)), ...o.args]
      : [build.binary, ...o.args];
    const fds = steering.open(build.generation);
    const cap = prepareCapture(o.capture ?? "auto", o.layout, captureMode);
    const child = launchService({
      wrap: cap.wrap,
      deathSignal: cap.deathSignal,
      command: argv[0]!,
      args: argv.slice(1),
      cwd: o.cwd,
      env,
      detached: true,
      dieWithParent: true,
      listenFds: sockets.length,
      extraFds: fds,
      onStdout: (c) => out.push(c),
      onStderr: (c) => err.push(c),
    });
    const startedAt = new Date();
    // The same descendant tracking as exec: a service that starts Go programs of its own (workers,
    // a wrapper) has their crashes captured with their own pid, binary and core. Every 50 ms while
    // the tree changes, every 500 ms once it has settled (an idle service: ~0.2% of one core).
    const once = { found: false };
    const tracker =
      child.pid !== undefined
        ? trackDescendants(child.pid, {
            intervalMs: 50,
            idleIntervalMs: 500,
            ...(build.launcher ? { onGo: (d: Descendant) => discovered(build, d, once) } : {}),
          })
        : null;
    const g: Running = {
      build,
      child,
      port,
      state: "starting",
      startedAt,
      lines,
      ended: null as never,
      done: null as never,
    };
    if (child.pid !== undefined)
      storeWrite(
        "running.json",
        rememberRunning(o.layout, { pid: child.pid, generation: build.generation, binary: build.binary }),
      );
    const restart = restarts.get(build.generation) ?? 0;
    o.emit({
      event: "started",
      generation: build.generation,
      pid: child.pid ?? null,
      ...(restart ? { restart } : {}),
    });
    const ending = child.stopped.then(async (end) => {
      out.flush();
      err.flush();
      recovered.flush();
      if (child.pid !== undefined) storeWrite("running.json", forgetRunning(o.layout, child.pid));
      const expected = g.state === "stopping";
      g.state = "ended";
      // The sockets of a generation that took the traffic and ended by itself stay open: the
      // connections queued on them wait for the restart instead of being reset.
      if (!expected && !shuttingDown && steering.isTarget(build.generation))
        steering.keepForRestart(build.generation);
      else g.socketsLeft = steering.release(build.generation);
      const judged = judgeEnd(child, end, races.races);
      const { stderrTail, traceback, races: raceReports } = judged;
      let ended = judged.ended;
      const endedAt = new Date();
      const crashed = tracker
        ? await findCrashedProcess(tracker, end, traceback, { startedAt, endedAt }, cap)
        : null;
      await tracker?.stop(crashed ? [crashed.process] : []);
      // A descendant crashed while what was started ended otherwise: the generation crashed.
      const inDescendant = crashed && !crashed.root && !expected ? crashed : null;
      if (inDescendant && ended.outcome !== "crash") ended = { ...ended, outcome: "crash" };
      let facts: CrashFacts | null = null;
      if (ended.outcome === "crash") {
        // A launcher that exec'd its Go program (`exec ./server` in the script): the root crashed,
        // but its binary is the program's, read through the fd kept while it ran, not the script.
        const rootProgram =
          crashed?.root &&
          crashed.process.isGo &&
          (build.identity?.goBuildId == null ||
            crashed.process.identity?.goBuildId !== build.identity.goBuildId)
            ? crashed.process
            : undefined;
        const p = inDescendant?.process ?? rootProgram;
        const own = {
          path: build.binary,
          archived: build.binary,
          sha256: build.sha256,
          identity: build.identity,
        };
        facts = {
          pid: p?.pid ?? child.pid ?? 0,
          ended: inDescendant?.ended ?? ended,
          startedAt,
          endedAt,
          cmdline: p ? p.argv : argv,
          cwd: inDescendant ? crashedCwd(inDescendant, o.cwd) : o.cwd,
          envNames: Object.keys(env).sort(),
          binary: (p && (await descendantBinary(p, o.layout, o.logger))) ?? own,
          ...(p?.snapshot ? { process: p.snapshot } : {}),
          stdoutTail: child.stdoutTail.toString(),
          stderrTail,
          traceback,
          races: raceReports,
          generation: build.generation,
        };
        // Before anything restarts: the next generation's core must not replace this one.
        const handed = await cap.coreOf(facts.pid);
        if (handed) facts.claimed = handed;
        else if (o.mode === "run") facts.claimed = await claimCore(facts);
      }
      return { ended, expected, facts, crashPid: inDescendant?.process.pid ?? child.pid ?? null };
    });
    g.ended = ending.then(({ ended, expected }) => ({ ended, expected }));
    g.done = ending.then(async ({ ended, expected, facts, crashPid }) => {
      let crash: Captured | null = null;
      if (facts) {
        crash = await queueCapture(facts, build.generation).finally(() => tracker?.release());
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
      } else if (expected) {
        tracker?.release();
        o.emit({
          event: "stopped",
          generation: build.generation,
          pid: child.pid ?? null,
          signal: ended.signal,
          exitCode: ended.exitCode,
        });
      } else {
        tracker?.release();
        o.emit({
          event: "exited",
          generation: build.generation,
          pid: child.pid ?? null,
          signal: ended.signal,
          exitCode: ended.exitCode,
        });
      }
      cap.dispose();
      return { ended, crash, expected };
    });
    return g;
  }

  async function becomeReady(
    g: Running,
  ): Promise<{ ready: true; ms: number } | { ready: false; reason: string }> {
    const r = await waitReady({
      spec: o.probe,
      timing: o.timing,
      port: g.port,
      onOutputLine: (fn) => {
        g.lines.add(fn);
        return () => g.lines.delete(fn);
      },
      exited: g.child.stopped,
      readyTimeoutMs: o.readyTimeoutMs,
      abort: shutdown.signal,
      localPortFor: (host, port) => steering.probePort(g.build.generation, host, port),
    });
    if (r.ready) return { ready: true, ms: r.ms };
    return {
      ready: false,
      reason: r.reason === "exited" ? "exited before it was ready" : `${r.reason}: ${r.detail ?? ""}`.trim(),
    };
  }

  /** The old generation after a switch: wait until its own socket has nothing queued, then stop it
   * (with one shared socket there is nothing to wait for). */
  async function retire(old: Running): Promise<void> {
    if (steering.mode === "steered") {
      const d = await steering.drain(old.build.generation, stopTimeoutMs);
      o.emit({ event: "drained", generation: old.build.generation, ms: d.ms, left: d.left });
    }
    await stopGeneration(old);
  }

  async function warnIfNotAccepting(g: Running): Promise<void> {
    const ok = await checkAccepts(steering, g.build.generation, 3000, () => g.state === "ready");
    if (ok === false && g.state === "ready") o.logger.warn(notAcceptingMessage(g.build.generation, steering));
  }

  async function stopGeneration(g: Running): Promise<GenerationEnd> {
    if (g.state !== "ended") {
      g.state = "stopping";
      await g.child.stop({ signal: stopSignal, graceMs: stopTimeoutMs });
    }
    return g.done;
  }

  /**
   * A generation ended by itself (capture is done in g.done). `run` restarts whatever ended; `dev`
   * restarts a crash (a clean exit waits for the next change). Both back off: 0.5 s, 1 s, 2 s...
   */
  function restartLater(g: Running, ended: Ended): void {
    if (shuttingDown) return;
    const ranMs = Date.now() - g.startedAt.getTime();
    const restart = o.mode === "run" || ended.outcome === "crash";
    if (!restart) {
      o.logger.info(`generation ${g.build.generation} exited (status ${ended.status}); waiting for a change`);
      return;
    }
    const delay = backoff.next(ranMs);
    if (handoff && /address already in use/.test(g.child.stderrTail.toString()))
      o.logger.warn(addressInUseMessage(g.build.generation, steering));
    o.logger.warn(
      `generation ${g.build.generation} ${ended.outcome === "crash" ? "crashed" : "exited"} after ${ranMs} ms; restarting in ${delay} ms${backoff.consecutive > 1 ? ` (crash loop: ${backoff.consecutive} in a row)` : ""}${ended.outcome === "crash" && o.mode === "run" ? " (its capture goes on meanwhile)" : ""}`,
    );
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (shuttingDown || current !== null || !keep) return;
      const again = keep.generation;
      const n = (restarts.get(again) ?? 0) + 1;
      restarts.set(again, n);
      void enqueue(keep).then((r) => {
        if (r.ok && r.generation === again)
          o.logger.info(
            `generation ${again} is serving again (restart ${n}, pid ${r.pid}, ready in ${Math.round(r.readyMs)} ms)`,
          );
      });
    }, delay);
  }

  /**
   * `run` restarts as soon as the process ended and its core is set aside (capture continues in
   * its queue); `dev` restarts once the crash is captured, so its summary precedes the rebuild.
   */
  const endOf = (g: Running): Promise<{ ended: Ended; expected: boolean }> =>
    o.mode === "run" ? g.ended : g.done;

  function watch(g: Running): void {
    void endOf(g).then((end) => {
      if (current !== g || end.expected || shuttingDown) return;
      current = null;
      restartLater(g, end.ended);
    });
  }

  const notReady = (build: Build, reason: string, end: GenerationEnd): DeployResult => ({
    ok: false,
    generation: build.generation,
    reason,
    ...(end.crash?.bundle ? { crashId: end.crash.bundle.id } : {}),
    ...(end.crash ? { report: end.crash.report } : {}),
  });

  async function deployNow(build: Build): Promise<DeployResult> {
    if (restartTimer) {
      clearTimeout(restartTimer);
      restartTimer = undefined;
    }
    const old = current;
    if (old && !handoff) {
      await stopGeneration(old);
      current = null;
    }
    // Without sockets to hand over there is nothing to roll back to: the newest build is the one
    // to keep running (and to restart after a crash).
    if (!handoff || !old) keep = build;
    const g = await start(build);
    if (!handoff) current = g;
    const ready = await becomeReady(g);
    if (!ready.ready && handoff && old) {
      // Rolled back: the old generation never stopped serving.
      const waiting = g.state === "ended" ? 0 : steering.queued(build.generation);
      if (waiting > 0 && steering.mode === "steered")
        o.logger.warn(neverAcceptedMessage(build.generation, waiting, steering));
      if (g.state !== "ended") await stopGeneration(g);
      const end = await g.done;
      const crashId = end.crash?.bundle?.id;
      o.emit({
        event: "rollback",
        generation: build.generation,
        pid: g.child.pid ?? null,
        reason: ready.reason,
        ...(crashId ? { crashId } : {}),
        servingGeneration: old.build.generation,
      });
      return notReady(build, ready.reason, end);
    }
    if (!ready.ready) {
      if (g.state === "ended" || g.child.exited) {
        // It died before it was ready, and nothing else serves: restart it with backoff. `run`
        // does not wait for the capture (the restart would queue behind this deploy).
        const end = o.mode === "run" ? { ...(await g.ended), crash: null } : await g.done;
        if (current === g) current = null;
        restartLater(g, end.ended);
        return notReady(build, ready.reason, end);
      }
      // Still running but not ready, and nothing to roll back to: keep it, and say so.
      if (!shuttingDown)
        o.logger.warn(
          `generation ${build.generation} is not ready (${ready.reason}); keeping it, as nothing else serves`,
        );
      current = g;
      watch(g);
      return { ok: false, generation: build.generation, reason: ready.reason };
    }
    g.state = "ready";
    keep = build;
    o.emit({
      event: "ready",
      generation: build.generation,
      pid: g.child.pid ?? null,
      ms: Math.round(ready.ms),
      ...(restarts.get(build.generation) ? { restart: restarts.get(build.generation) } : {}),
    });
    if (handoff) {
      steering.switchTo(build.generation);
      current = g;
      if (old) {
        o.emit({
          event: "switch",
          generation: build.generation,
          from: old.build.generation,
          pid: g.child.pid ?? null,
          sockets: steering.mode,
        });
        if (old.state === "ended") {
          // It crashed while this one started: nobody will accept what queued on its socket.
          const left = steering.release(old.build.generation);
          if (left > 0)
            o.logger.warn(
              `${left} connection(s) queued on crashed generation ${old.build.generation}'s socket were reset`,
            );
        } else void retire(old);
      }
      void warnIfNotAccepting(g);
    }
    watch(g);
    return { ok: true, generation: build.generation, pid: g.child.pid ?? 0, readyMs: ready.ms };
  }

  function enqueue(build: Build): Promise<DeployResult> {
    if (pending) {
      // Coalesce: whatever was waiting is replaced by the newest build; all waiters get its result.
      pending.build = build;
      return new Promise((resolve) => pending!.waiters.push(resolve));
    }
    const job = { build, waiters: [] as ((r: DeployResult) => void)[] };
    pending = job;
    inFlight++;
    const result = queue.then(async () => {
      pending = null;
      if (shuttingDown)
        return { ok: false, generation: job.build.generation, reason: "shutting down" } as DeployResult;
      const r = await deployNow(job.build).catch(
        (e: Error): DeployResult => ({ ok: false, generation: job.build.generation, reason: e.message }),
      );
      for (const w of job.waiters) w(r);
      return r;
    });
    void result.finally(() => inFlight--);
    queue = result;
    return result;
  }

  return {
    deploy(build) {
      return enqueue(build);
    },
    get current() {
      return current
        ? { generation: current.build.generation, pid: current.child.pid, state: current.state }
        : null;
    },
    resetBackoff() {
      backoff.reset();
    },
    stopBeforeDeploy() {
      if (handoff || inFlight > 0 || shuttingDown || current?.state !== "ready") return;
      void stopGeneration(current).catch(() => {});
    },
    async stop() {
      shuttingDown = true;
      shutdown.abort();
      if (restartTimer) clearTimeout(restartTimer);
      await queue.catch(() => {});
      if (current) await stopGeneration(current);
      current = null;
      steering.stop();
      // Every crash captured (each within its deadline) before the supervisor exits.
      await captures.catch(() => {});
    },
  };
}
