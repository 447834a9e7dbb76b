/**
 * A generation's life as the supervisor drives it: started (startGeneration) with its end wired
 * to the machine as events, probed for readiness, watched for liveness while it serves, made to
 * dump itself when hung, drained and stopped. Every process and timer goes through the host; what
 * happens is told to the machine (MachineDriver.dispatch), which decides what comes next.
 */
import type { CrashIntake } from "./crashIntake.js";
import { type GenerationEnd, type Running, startGeneration } from "./generation.js";
import { type LivenessWatch, watchServing } from "./liveness.js";
import type { Slot } from "./machine.js";
import type { MachineDriver } from "./machineDriver.js";
import { waitReady } from "./probe.js";
import type { RunTable } from "./runTable.js";
import { checkAccepts, notAcceptingMessage } from "./steering.js";
import type { ResolvedSupervisor } from "./supervisorOptions.js";

/** How long a hung generation has to dump itself after SIGQUIT (a big heap's core takes seconds). */
const HANG_GRACE_MS = 30_000;

export class GenerationLifecycle {
  /** Starts not yet running (shutdown waits for them, then stops them). */
  private readonly launching = new Set<Promise<void>>();
  private readonly liveness = new Map<number, LivenessWatch>();
  private shuttingDown = false;
  // Ctrl-C must not wait out a new generation's ready timeout (60 s by default).
  private readonly shutdown = new AbortController();

  constructor(
    private readonly r: ResolvedSupervisor,
    private readonly runs: RunTable,
    private readonly driver: MachineDriver,
    private readonly intake: CrashIntake,
  ) {}

  get stopping(): boolean {
    return this.shuttingDown;
  }

  /** `run` restarts as soon as the process ended and its core is set aside (capture continues in
   * its queue); `dev` once the crash is captured, so its summary precedes the rebuild. */
  endOf(g: Running): Promise<{ ended: GenerationEnd["ended"]; expected: boolean }> {
    return this.r.o.mode === "run" ? g.ended : g.done;
  }

  start(slot: Slot): void {
    const l = this.launch(slot).finally(() => this.launching.delete(l));
    this.launching.add(l);
  }

  private async launch(slot: Slot): Promise<void> {
    const restart = this.runs.started(slot.build.generation) - 1;
    // Sockets are the generation's: a rollback to a generation whose last process is still being
    // retired waits for it to end (and release them) before it opens them again.
    await Promise.all(this.runs.alive(slot.build.generation).map((r) => r.ended));
    let g: Running;
    try {
      g = await this.spawn(slot, restart);
    } catch (e) {
      this.driver.dispatch({ type: "notReady", run: slot.run, reason: (e as Error).message, exited: true });
      return;
    }
    this.runs.add(g, this.r.host.now());
    if (this.shuttingDown) {
      void this.stop(g);
      return;
    }
    this.followEnd(g);
    this.driver.dispatch({ type: "started", run: slot.run });
  }

  private spawn(slot: Slot, restart: number): Promise<Running> {
    const r = this.r;
    const o = r.o;
    return startGeneration(slot.build, slot.run, {
      host: r.host,
      mode: o.mode,
      layout: o.layout,
      logger: o.logger,
      emit: o.emit,
      cwd: o.cwd,
      args: o.args,
      ...(o.command ? { command: o.command } : {}),
      env: o.env,
      sockets: r.sockets,
      ...(o.listenNames ? { listenNames: o.listenNames } : {}),
      steering: r.steering,
      needsPort: r.needsPort,
      restart,
      ...(r.notifyDir
        ? { notify: { dir: r.notifyDir, ...(o.watchdogMs ? { watchdogMs: o.watchdogMs } : {}) } }
        : {}),
      shuttingDown: () => this.shuttingDown,
      storeWrite: this.intake.storeWrite,
      claim: this.intake.claim,
      capture: this.intake.queue,
      firstReport: this.intake.firstReport,
      captureMode: r.captureMode,
      recorder: this.intake.recorder,
      ...(o.onOutput ? { onOutput: o.onOutput } : {}),
      ...(o.onCrash ? { onCrash: o.onCrash } : {}),
      ...(o.onProgram ? { onProgram: o.onProgram } : {}),
    });
  }

  /** The process gone (`exited`, at once), then its end attributed (`ended`), as events. */
  private followEnd(g: Running): void {
    void g.child.stopped.then((end) => {
      this.runs.exited(g.run, this.r.host.now());
      this.driver.dispatch({
        type: "exited",
        run: g.run,
        expected: Boolean(g.expected),
        how: end.signal ? `died of ${end.signal}` : `exited with status ${end.exitCode}`,
      });
    });
    void this.endOf(g).then((end) => {
      g.outcome = end.ended;
      this.driver.dispatch({
        type: "ended",
        run: g.run,
        expected: end.expected,
        crash: end.ended.outcome === "crash" || Boolean(g.hungReason),
      });
    });
    void g.done.then(() => {
      // Nothing refers to a run once it is over and settled (rollback, settle read it before).
      setTimeout(() => this.runs.forget(g.run), 0).unref?.();
    });
  }

  async probe(run: number): Promise<void> {
    const g = this.runs.get(run);
    if (!g) return;
    const { o, steering } = this.r;
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
      abort: this.shutdown.signal,
      localPortFor: (h, port) => steering.probePort(g.build.generation, h, port),
      clock: this.r.host,
    });
    if (r.ready) {
      this.runs.ready(run, r.ms);
      return this.driver.dispatch({ type: "ready", run, ms: r.ms });
    }
    const exited = g.state === "ended" || g.child.exited;
    // Before anything restarts, the core of what died is set aside (run) or captured (dev).
    if (exited) await this.endOf(g);
    this.driver.dispatch({
      type: "notReady",
      run,
      exited,
      reason: r.reason === "exited" ? "exited before it was ready" : `${r.reason}: ${r.detail ?? ""}`.trim(),
    });
  }

  /** Liveness from the moment it serves until it ends (or is stopped). */
  watchAlive(g: Running): void {
    g.notify?.idle();
    if (this.liveness.has(g.run)) return;
    const { o, host, steering } = this.r;
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
        this.liveness.delete(g.run);
        if (g.state !== "ready") return;
        o.emit({
          event: "liveness-failed",
          generation: g.build.generation,
          pid: g.child.pid ?? null,
          reason,
        });
        this.driver.dispatch({ type: "hung", run: g.run, reason });
      },
    });
    if (!w) return;
    this.liveness.set(g.run, w);
    void g.child.stopped.then(() => {
      w.stop();
      this.liveness.delete(g.run);
    });
  }

  async warnIfNotAccepting(g: Running): Promise<void> {
    const { steering, o } = this.r;
    const ok = await checkAccepts(steering, g.build.generation, 3000, () => g.state === "ready");
    if (ok === false && g.state === "ready") o.logger.warn(notAcceptingMessage(g.build.generation, steering));
  }

  /** The old generation after a switch: wait until its own socket has nothing queued, then stop it
   * (with one shared socket there is nothing to wait for). */
  async retire(old: Running): Promise<void> {
    const { steering, o } = this.r;
    if (steering.mode === "steered" && old.state !== "ended") {
      const d = await steering.drain(old.build.generation, this.r.stopTimeoutMs);
      o.emit({ event: "drained", generation: old.build.generation, ms: d.ms, left: d.left });
    }
    await this.stop(old);
  }

  async stop(g: Running): Promise<GenerationEnd> {
    this.liveness.get(g.run)?.stop();
    if (g.state !== "ended") {
      g.state = "stopping";
      await g.child.stop({ signal: this.r.stopSignal, graceMs: this.r.stopTimeoutMs });
    }
    return g.done;
  }

  /**
   * A hung generation dumps itself: SIGQUIT under GOTRACEBACK=crash (launch.ts sets it) makes the
   * Go runtime print every goroutine with its wait reason and wait time, then dump core; its end
   * then goes the crash's way (attributed, captured as kind `hang`, restarted or rolled back). One
   * that ignores SIGQUIT (its own signal.Notify) is killed after HANG_GRACE_MS: the hang event
   * stays, the core cannot be had.
   */
  hang(g: Running, reason: string): void {
    if (g.state === "ended" || g.hungReason) return;
    const { o, host } = this.r;
    o.logger.warn(
      `generation ${g.build.generation} is hung (${reason}): dumping its goroutines and core, then ${this.driver.state.phase.kind === "baking" ? "rolling back" : "restarting"}`,
    );
    o.emit({ event: "hang", generation: g.build.generation, pid: g.child.pid ?? null, reason });
    g.hungReason = reason;
    g.child.signal("SIGQUIT");
    const t = host.after(HANG_GRACE_MS, () => g.child.signal("SIGKILL"));
    void g.child.stopped.then(() => t.cancel());
  }

  /** Shutdown begins: readiness waits end, a start in flight stops its process once it runs. */
  beginShutdown(): void {
    this.shuttingDown = true;
    this.shutdown.abort();
  }

  /** Shutdown ends: every start in flight done, every run stopped. */
  async stopAll(): Promise<void> {
    await Promise.all(this.launching);
    await Promise.all(this.runs.all().map((g) => this.stop(g).catch(() => {})));
  }
}
