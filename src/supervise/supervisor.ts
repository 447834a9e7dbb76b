/**
 * The supervisor: carries out what the state machine (machine.ts) decides, and tells it what
 * happened. Every process, timer and /proc read goes through the ProcessHost; crash capture
 * through `capture`; so its unit tests (supervisor.test.ts) drive real decisions with fake
 * processes in milliseconds.
 */

import { join } from "node:path";
import { signatureOf } from "../analyze/signature.js";
import {
  type Captured,
  type CaptureModeRequest,
  type CrashFacts,
  captureCrash,
  claimCore,
  createRecoveredRecorder,
  fileOrphanedCores,
  resolveCaptureMode,
} from "../capture/index.js";
import type { Report } from "../contracts/index.js";
import {
  defaultBudget,
  type EventInput,
  type Journal,
  type JournalEvent,
  type StoreLayout,
} from "../store/index.js";
import type { Logger } from "../util/log.js";
import { redactOptions } from "../util/redactor.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { createCaptureQueue, storeWriteReporter } from "./captureQueue.js";
import {
  type GenerationEnd,
  type GenState,
  type Running,
  type StartedProgram,
  startGeneration,
} from "./generation.js";
import { type ProcessHost, systemHost, type TimerHandle } from "./host.js";
import { type LivenessWatch, watchServing } from "./liveness.js";
import {
  type Build,
  type Effect,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineState,
  type Phase,
  type Slot,
  step,
} from "./machine.js";
import { type ProbeSpec, type ProbeTiming, waitReady } from "./probe.js";
import {
  addressInUseMessage,
  checkAccepts,
  createSteering,
  neverAcceptedMessage,
  notAcceptingMessage,
  type Steering,
} from "./steering.js";

export type { Build, GenerationEnd, StartedProgram };

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
  /** Probation after a switch: a crash within it rolls back to the last good build (0: off). */
  bakeMs?: number;
  /** Keep the old generation up, receiving nothing, through the bake (needs kernel steering). */
  bakeHoldOld?: boolean;
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
  /** How crash cores reach hotdump (`--capture`, capture/mode.ts); default auto. */
  captureMode?: CaptureModeRequest;
  /** Processes, timers and /proc (default: this machine). */
  host?: ProcessHost;
  /** Which generation's socket takes new connections (default: kernel steering of listenFds). */
  steering?: Steering;
  /** Crash capture (default: capture/ with the options above); the unit tests record instead. */
  capture?: (facts: CrashFacts) => Promise<Captured>;
  /** Set a crash's core aside the moment it is seen (default: capture/'s claimCore). */
  claim?: (facts: CrashFacts) => Promise<CrashFacts["claimed"]>;
  /** systemd's watchdog: WATCHDOG_USEC for the service; a silence longer than this is a hang. */
  watchdogMs?: number;
  /** Liveness while a generation serves (http, tcp or exec; Kubernetes timing). */
  liveness?: { spec: ProbeSpec; timing: ProbeTiming };
}

export type DeployResult =
  | { ok: true; generation: number; pid: number; readyMs: number }
  | { ok: false; generation: number; reason: string; crashId?: string; report?: Report };

export interface Supervisor {
  deploy(build: Build): Promise<DeployResult>;
  /** The generation serving (or, with nothing else, the one starting). */
  readonly current: { generation: number; pid: number | undefined; state: GenState } | null;
  /** The machine's phase (status, tests). */
  readonly phase: Phase["kind"];
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

/** Holding the old generation needs a steering change back: BPF on TCP sockets. */
const canHold = (s: Steering) => s.mode === "steered" && s.addresses().every((a) => a.family !== "unix");

/** How long a hung generation has to dump itself after SIGQUIT (a big heap's core takes seconds). */
const HANG_GRACE_MS = 30_000;

export function createSupervisor(o: SupervisorOptions): Supervisor {
  const host = o.host ?? systemHost;
  const sockets = o.listenFds ?? [];
  const handoff = sockets.length > 0;
  const steering: Steering =
    o.steering ??
    createSteering(sockets, o.logger, {
      forceShared: o.sharedSocket ?? process.env.HOTDUMP_LISTEN_MODE === "shared",
    });
  const config: MachineConfig = {
    handoff,
    restartExits: o.mode === "run",
    bakeMs: o.bakeMs ?? 0,
    holdOld: Boolean(o.bakeHoldOld) && canHold(steering),
  };
  if (o.bakeHoldOld && !config.holdOld && handoff)
    o.logger.warn(
      `--bake-hold-old needs kernel steering of TCP sockets (${steering.mode === "steered" ? "a UNIX socket's public name moves with rename(2), it cannot point back" : (steering.reason ?? "off")}): a rollback starts the last good build again instead`,
    );
  const stopSignal = o.stopSignal ?? "SIGTERM";
  const stopTimeoutMs = o.stopTimeoutMs ?? (o.mode === "run" ? 30_000 : 5_000);
  const backoff = new Backoff(o.backoff);
  // A generation's own port costs a bind and a close: only when something asks for {port}.
  const needsPort =
    o.probe.kind === "exec" ||
    JSON.stringify(o.probe).includes("{port}") ||
    Object.values(o.env).some((v) => v?.includes("{port}"));
  const budget = resolveBudget(o);
  // Each generation gets its own NOTIFY_SOCKET when readiness or the watchdog listens to it.
  const notifyDir = o.probe.kind === "notify" || o.watchdogMs ? join(o.layout.root, "notify") : undefined;
  let state: MachineState = initialState();
  const runs = new Map<number, Running>();
  const waiters = new Map<number, ((r: DeployResult) => void)[]>();
  /** How many times each generation was started (restarts: the second and later). */
  const starts = new Map<number, number>();
  const timers = new Map<"bake" | "backoff", TimerHandle>();
  const readyMs = new Map<number, number>();
  /** When each run's end was seen (host clock): a held rollback is measured from it. */
  const exitSeen = new Map<number, number>();
  const steeredMs = new Map<number, number>();
  const liveness = new Map<number, LivenessWatch>();
  /** Candidates refused while the old generation serves: their answer carries their crash. */
  const rejectedRuns = new Set<number>();
  /** Starts not yet running (shutdown waits for them, then stops them). */
  const launching = new Set<Promise<void>>();
  let shuttingDown = false;
  // Ctrl-C must not wait out a new generation's ready timeout (60 s by default).
  const shutdown = new AbortController();
  const captureDeadlineMs = o.captureDeadlineMs ?? 120_000;
  const storeWrite = storeWriteReporter(o.logger);
  const captures = createCaptureQueue(
    o.capture ??
      ((facts: CrashFacts) =>
        captureCrash(facts, {
          layout: o.layout,
          analyze: redactOptions(o.redact, o.env),
          pinnedBinaries: state.good ? [state.good.sha256] : [],
          ...(budget ? { budget } : {}),
          deadline: facts.endedAt.getTime() + captureDeadlineMs,
          ...(o.journal ? { journal: o.journal } : {}),
        })),
    o.logger,
  );
  const captureMode = resolveCaptureMode(o.captureMode ?? "auto");
  // Cores the handler filed while no supervisor was there to take them (one was killed mid-dump).
  if (captureMode.mode === "handler")
    void fileOrphanedCores(o.layout, { logger: o.logger, ...(o.journal ? { journal: o.journal } : {}) }).then(
      (filed) => {
        for (const c of filed)
          o.logger.warn(`filed an earlier crash the core handler kept: ${c.bundle?.id ?? "(not stored)"}`);
      },
      (e: Error) => o.logger.warn(`could not file the core handler's earlier cores: ${e.message}`),
    );
  // A panic the service recovered is a bundle without core; the same one again only counts.
  const recorder = createRecoveredRecorder({
    layout: o.layout,
    ...(o.journal ? { journal: o.journal } : {}),
    capture: (facts) =>
      captureCrash(facts, {
        layout: o.layout,
        pinnedBinaries: state.good ? [state.good.sha256] : [],
        ...(budget ? { budget } : {}),
        ...(o.journal ? { journal: o.journal } : {}),
      }),
    emit: o.emit,
    logger: o.logger,
    fingerprint: (r) => signatureOf(r).fingerprint,
  });

  // ---- events in, effects out ------------------------------------------------------------
  const inbox: MachineEvent[] = [];
  let stepping = false;
  function dispatch(e: MachineEvent): void {
    inbox.push(e);
    if (stepping) return;
    stepping = true;
    try {
      for (let next = inbox.shift(); next; next = inbox.shift()) {
        const r = step(state, next, config);
        state = r.state;
        for (const fx of r.effects) perform(fx);
      }
    } finally {
      stepping = false;
    }
  }

  const gen = (run: number) => runs.get(run);
  /** `run` restarts as soon as the process ended and its core is set aside (capture continues in
   * its queue); `dev` once the crash is captured, so its summary precedes the rebuild. */
  const endOf = (g: Running): Promise<{ ended: GenerationEnd["ended"]; expected: boolean }> =>
    o.mode === "run" ? g.ended : g.done;

  function perform(fx: Effect): void {
    switch (fx.do) {
      case "start": {
        const l = launch(fx.slot).finally(() => launching.delete(l));
        launching.add(l);
        return;
      }
      case "probe":
        void probe(fx.run);
        return;
      case "serving": {
        const g = gen(fx.slot.run);
        if (!g) return;
        g.state = "ready";
        const restart = (starts.get(fx.slot.build.generation) ?? 1) - 1;
        o.emit({
          event: "ready",
          generation: fx.slot.build.generation,
          pid: g.child.pid ?? null,
          ms: Math.round(fx.ms),
          ...(restart ? { restart } : {}),
        });
        watchAlive(g);
        if (restart)
          o.logger.info(
            `generation ${fx.slot.build.generation} is serving again (restart ${restart}, pid ${g.child.pid}, ready in ${Math.round(fx.ms)} ms)`,
          );
        return;
      }
      case "switch": {
        const g = gen(fx.to.run);
        steering.switchTo(fx.to.build.generation);
        if (fx.from) emitSwitch(fx.to, fx.from);
        if (g) void warnIfNotAccepting(g);
        return;
      }
      case "release": {
        const g = gen(fx.run);
        if (!g) return;
        // It crashed while the next one started: nobody will accept what queued on its socket.
        const left = steering.release(g.build.generation);
        if (left > 0)
          o.logger.warn(
            `${left} connection(s) queued on crashed generation ${g.build.generation}'s socket were reset`,
          );
        return;
      }
      case "retire": {
        const g = gen(fx.slot.run);
        if (g) void retire(g);
        return;
      }
      case "hold":
        emitOf("held", fx.slot);
        o.logger.info(
          `generation ${fx.slot.build.generation} stays up, receiving nothing, until the new one's bake is over`,
        );
        return;
      case "stop": {
        const g = gen(fx.slot.run);
        if (g) void stopGeneration(g);
        return;
      }
      case "steerBack": {
        // The steering change first (one BPF program attached), then the bad one's sockets, kept
        // for a restart that will not come, are closed.
        steering.switchTo(fx.to.build.generation);
        const seen = exitSeen.get(fx.from.run);
        if (seen !== undefined) steeredMs.set(fx.from.run, host.now() - seen);
        steering.release(fx.from.build.generation);
        emitSwitch(fx.to, fx.from);
        return;
      }
      case "bake":
        later("bake", fx.ms, { type: "bakeDone", run: fx.run });
        return;
      case "backoff":
        backOff(fx.build, fx.crashed);
        return;
      case "cancelTimers":
        for (const t of timers.values()) t.cancel();
        timers.clear();
        return;
      case "captureHang": {
        const g = gen(fx.slot.run);
        if (!g || g.state === "ended" || g.hungReason) return;
        hang(g, fx.reason);
        return;
      }
      case "baked":
        emitOf("baked", fx.slot);
        o.logger.info(`generation ${fx.slot.build.generation} passed its bake`);
        return;
      case "rollback":
        void rolledBack(fx.bad, fx.to, fx.reason, fx.instant);
        return;
      case "rejected":
        rejectedRuns.add(fx.cand.run);
        void rejected(fx.cand, fx.old, fx.reason);
        return;
      case "keepUnready":
        if (!shuttingDown)
          o.logger.warn(
            `generation ${fx.slot.build.generation} is not ready (${fx.reason}); keeping it, as nothing else serves`,
          );
        return;
      case "exitedIdle": {
        const status = gen(fx.slot.run)?.outcome?.status;
        o.logger.info(
          `generation ${fx.slot.build.generation} exited${status === undefined ? "" : ` (status ${status})`}; waiting for a change`,
        );
        return;
      }
      case "settle":
        void settle(fx);
        return;
    }
  }

  /** Liveness from the moment it serves until it ends (or is stopped). */
  function watchAlive(g: Running): void {
    g.notify?.idle();
    if (liveness.has(g.run)) return;
    const w = watchServing({
      host,
      ...(o.liveness ? { liveness: o.liveness } : {}),
      ...(o.watchdogMs && g.notify ? { watchdog: { intervalMs: o.watchdogMs, notify: g.notify } } : {}),
      target: {
        port: g.port,
        env: o.env,
        localPortFor: (h, port) => steering.probePort(g.build.generation, h, port),
      },
      onFail: (reason) => {
        liveness.delete(g.run);
        if (g.state !== "ready") return;
        o.emit({
          event: "liveness-failed",
          generation: g.build.generation,
          pid: g.child.pid ?? null,
          reason,
        });
        dispatch({ type: "hung", run: g.run, reason });
      },
    });
    if (!w) return;
    liveness.set(g.run, w);
    void g.child.stopped.then(() => {
      w.stop();
      liveness.delete(g.run);
    });
  }

  function emitSwitch(to: Slot, from: Slot): void {
    o.emit({
      event: "switch",
      generation: to.build.generation,
      from: from.build.generation,
      pid: gen(to.run)?.child.pid ?? null,
      sockets: steering.mode,
    });
  }

  function emitOf(event: "held" | "baked", slot: Slot): void {
    o.emit({ event, generation: slot.build.generation, pid: gen(slot.run)?.child.pid ?? null });
  }

  function later(name: "bake" | "backoff", ms: number, e: MachineEvent): void {
    timers.get(name)?.cancel();
    timers.set(
      name,
      host.after(ms, () => {
        timers.delete(name);
        dispatch(e);
      }),
    );
  }

  async function launch(slot: Slot): Promise<void> {
    const n = (starts.get(slot.build.generation) ?? 0) + 1;
    starts.set(slot.build.generation, n);
    // Sockets are the generation's: a rollback to a generation whose last process is still being
    // retired waits for it to end (and release them) before it opens them again.
    const same = [...runs.values()].filter(
      (r) => r.build.generation === slot.build.generation && r.state !== "ended",
    );
    await Promise.all(same.map((r) => r.ended));
    let g: Running;
    try {
      g = await startGeneration(slot.build, slot.run, {
        host,
        mode: o.mode,
        layout: o.layout,
        logger: o.logger,
        emit: o.emit,
        cwd: o.cwd,
        args: o.args,
        ...(o.command ? { command: o.command } : {}),
        env: o.env,
        sockets,
        ...(o.listenNames ? { listenNames: o.listenNames } : {}),
        steering,
        needsPort,
        restart: n - 1,
        ...(notifyDir
          ? { notify: { dir: notifyDir, ...(o.watchdogMs ? { watchdogMs: o.watchdogMs } : {}) } }
          : {}),
        shuttingDown: () => shuttingDown,
        storeWrite,
        claim: o.claim ?? claimCore,
        capture: captures.queue,
        captureMode,
        recorder,
        ...(o.onOutput ? { onOutput: o.onOutput } : {}),
        ...(o.onCrash ? { onCrash: o.onCrash } : {}),
        ...(o.onProgram ? { onProgram: o.onProgram } : {}),
      });
    } catch (e) {
      dispatch({ type: "notReady", run: slot.run, reason: (e as Error).message, exited: true });
      return;
    }
    runs.set(slot.run, g);
    if (shuttingDown) {
      void stopGeneration(g);
      return;
    }
    void g.child.stopped.then((end) => {
      exitSeen.set(slot.run, host.now());
      dispatch({
        type: "exited",
        run: slot.run,
        expected: Boolean(g.expected),
        how: end.signal ? `died of ${end.signal}` : `exited with status ${end.exitCode}`,
      });
    });
    void endOf(g).then((end) => {
      g.outcome = end.ended;
      dispatch({
        type: "ended",
        run: slot.run,
        expected: end.expected,
        crash: end.ended.outcome === "crash" || Boolean(g.hungReason),
      });
    });
    void g.done.then(() => {
      // Nothing refers to a run once it is over and settled (rollback, settle read it before).
      setTimeout(() => runs.delete(slot.run), 0).unref?.();
    });
    dispatch({ type: "started", run: slot.run });
  }

  async function probe(run: number): Promise<void> {
    const g = gen(run);
    if (!g) return;
    const r = await waitReady({
      spec: o.probe,
      timing: o.timing,
      port: g.port,
      onOutputLine: (fn) => {
        g.lines.add(fn);
        return () => g.lines.delete(fn);
      },
      exited: g.child.stopped,
      ...(g.notify ? { notified: g.notify.ready } : {}),
      readyTimeoutMs: o.readyTimeoutMs,
      abort: shutdown.signal,
      localPortFor: (h, port) => steering.probePort(g.build.generation, h, port),
    });
    if (r.ready) {
      // The answer's figure, kept beside the machine (it decides nothing).
      readyMs.set(run, r.ms);
      return dispatch({ type: "ready", run, ms: r.ms });
    }
    const exited = g.state === "ended" || g.child.exited;
    // Before anything restarts, the core of what died is set aside (run) or captured (dev).
    if (exited) await endOf(g);
    dispatch({
      type: "notReady",
      run,
      exited,
      reason: r.reason === "exited" ? "exited before it was ready" : `${r.reason}: ${r.detail ?? ""}`.trim(),
    });
  }

  /** The old generation after a switch: wait until its own socket has nothing queued, then stop it
   * (with one shared socket there is nothing to wait for). */
  async function retire(old: Running): Promise<void> {
    if (steering.mode === "steered" && old.state !== "ended") {
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
    liveness.get(g.run)?.stop();
    if (g.state !== "ended") {
      g.state = "stopping";
      await g.child.stop({ signal: stopSignal, graceMs: stopTimeoutMs });
    }
    return g.done;
  }

  /** Run restarts whatever ended; dev a crash. Both back off: 0.5 s, 1 s, 2 s... */
  function backOff(build: Build, crashed: boolean): void {
    if (shuttingDown) return;
    const last = [...runs.values()].filter((g) => g.build.generation === build.generation).pop();
    const ranMs = last ? Date.now() - last.startedAt.getTime() : 0;
    const delay = backoff.next(ranMs);
    if (last && handoff && /address already in use/.test(last.child.stderrTail.toString()))
      o.logger.warn(addressInUseMessage(build.generation, steering));
    o.logger.warn(
      `generation ${build.generation} ${crashed ? "crashed" : "exited"} after ${ranMs} ms; restarting in ${delay} ms${backoff.consecutive > 1 ? ` (crash loop: ${backoff.consecutive} in a row)` : ""}${crashed && o.mode === "run" ? " (its capture goes on meanwhile)" : ""}`,
    );
    later("backoff", delay, { type: "backoffDone" });
  }

  /**
   * A hung generation dumps itself: SIGQUIT under GOTRACEBACK=crash (launch.ts sets it) makes the
   * Go runtime print every goroutine with its wait reason and wait time, then dump core; its end
   * then goes the crash's way (attributed, captured as kind `hang`, restarted or rolled back). One
   * that ignores SIGQUIT (its own signal.Notify) is killed after HANG_GRACE_MS: the hang event
   * stays, the core cannot be had.
   */
  function hang(g: Running, reason: string): void {
    o.logger.warn(
      `generation ${g.build.generation} is hung (${reason}): dumping its goroutines and core, then ${state.phase.kind === "baking" ? "rolling back" : "restarting"}`,
    );
    o.emit({ event: "hang", generation: g.build.generation, pid: g.child.pid ?? null, reason });
    g.hungReason = reason;
    g.child.signal("SIGQUIT");
    const t = host.after(HANG_GRACE_MS, () => g.child.signal("SIGKILL"));
    void g.child.stopped.then(() => t.cancel());
  }

  async function rolledBack(bad: Slot, to: Build, reason: string, instant: boolean): Promise<void> {
    const steered = steeredMs.get(bad.run);
    o.logger.warn(
      `generation ${bad.build.generation} ${reason}: rolling back to generation ${to.generation}${instant ? " (held up through the bake)" : " (its binary from the store)"}; ${bad.build.sha256.slice(0, 12)}… stays out until a new build`,
    );
    const b = gen(bad.run);
    const end = b ? await b.done : null;
    const crashId = end?.crash?.bundle?.id;
    o.emit({
      event: "rollback",
      generation: bad.build.generation,
      pid: b?.child.pid ?? null,
      reason,
      ...(crashId ? { crashId } : {}),
      servingGeneration: to.generation,
      after: "bake",
      // Held: from the bad process seen gone to new connections going to the old one.
      ...(instant && steered !== undefined ? { steeredMs: Math.round(steered * 100) / 100 } : {}),
    });
  }

  async function rejected(cand: Slot, old: Slot, reason: string): Promise<void> {
    const g = gen(cand.run);
    if (!g) return;
    const waiting = g.state === "ended" ? 0 : steering.queued(cand.build.generation);
    if (waiting > 0 && steering.mode === "steered")
      o.logger.warn(neverAcceptedMessage(cand.build.generation, waiting, steering));
    const end = await stopGeneration(g);
    const crashId = end.crash?.bundle?.id;
    o.emit({
      event: "rollback",
      generation: cand.build.generation,
      pid: g.child.pid ?? null,
      reason,
      ...(crashId ? { crashId } : {}),
      servingGeneration: old.build.generation,
    });
  }

  async function settle(fx: Extract<Effect, { do: "settle" }>): Promise<void> {
    let result: DeployResult;
    if (fx.ok) {
      const g = gen(fx.run);
      result = { ok: true, generation: fx.generation, pid: g?.child.pid ?? 0, readyMs: 0 };
      const ready = readyMs.get(fx.run);
      if (ready !== undefined) result.readyMs = ready;
    } else {
      const g = fx.run !== undefined ? gen(fx.run) : undefined;
      // `run` answers without waiting for the capture (a restart would queue behind it), unless
      // the candidate was stopped for failing readiness (its crash id is the answer).
      const end = g && (o.mode === "dev" || rejectedRuns.delete(g.run)) ? await g.done : null;
      result = {
        ok: false,
        generation: fx.generation,
        reason: fx.reason,
        ...(end?.crash?.bundle ? { crashId: end.crash.bundle.id } : {}),
        ...(end?.crash ? { report: end.crash.report } : {}),
      };
    }
    for (const w of fx.waiting) {
      const list = waiters.get(w);
      if (!list) continue;
      waiters.delete(w);
      const r = fx.generation === 0 ? { ...result, generation: w } : result;
      for (const resolve of list) resolve(r);
    }
  }

  return {
    deploy(build) {
      return new Promise<DeployResult>((resolve) => {
        const list = waiters.get(build.generation) ?? [];
        list.push(resolve);
        waiters.set(build.generation, list);
        dispatch({ type: "deploy", build });
      });
    },
    get current() {
      const p = state.phase;
      let slot: Slot | null = null;
      if (p.kind === "serving" || p.kind === "baking") slot = p.cur;
      else if (p.kind === "starting" || p.kind === "probing" || p.kind === "rollingBack")
        slot = p.old ?? (handoff ? null : p.cand);
      else if (p.kind === "replacing") slot = p.old;
      const g = slot ? gen(slot.run) : undefined;
      return slot && g ? { generation: slot.build.generation, pid: g.child.pid, state: g.state } : null;
    },
    get phase() {
      return state.phase.kind;
    },
    resetBackoff() {
      backoff.reset();
    },
    stopBeforeDeploy() {
      dispatch({ type: "linked" });
    },
    async stop() {
      shuttingDown = true;
      shutdown.abort();
      dispatch({ type: "stop" });
      // A start in flight when the stop came stops its process itself once it runs.
      await Promise.all(launching);
      await Promise.all([...runs.values()].map((g) => stopGeneration(g).catch(() => {})));
      steering.stop();
      // Every crash captured (each within its deadline) before the supervisor exits.
      await captures.idle();
      await recorder.flush();
    },
  };
}
