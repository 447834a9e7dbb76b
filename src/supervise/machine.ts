/**
 * The supervisor's decisions, apart from any process: a state (which generation serves, which is
 * on trial, which is held back) and a pure `step(state, event) → { state, effects }`. The
 * supervisor (supervisor.ts) carries out the effects and feeds back what happened as events; the
 * unit tests (machine.test.ts, supervisor.test.ts) check every transition in milliseconds.
 *
 *   phase        what is true                                  left by
 *   idle         nothing runs (before the first deploy; dev    deploy
 *                after a clean exit)
 *   starting     a generation's process is being started       started, notReady, ended
 *   probing      it runs; readiness is awaited, the old one    ready, notReady, ended (old),
 *                (if any) still serves                         deploy (no sockets)
 *   serving      one generation takes the traffic              deploy, ended, hung, linked
 *   baking       the new one serves on probation; the last     bakeDone, ended, hung, deploy
 *                good build is known (and, held, still up)
 *   replacing    (no sockets to hand over) the serving one     ended
 *                (or the one still probed) stops before the
 *                next starts
 *   backingOff   waiting to start again after a crash          backoffDone, deploy
 *   rollingBack  the last good build starts again after the    ready, notReady, ended
 *                new one failed its bake
 *   stopped      shutdown                                      -
 */
export interface Build {
  generation: number;
  /** The binary in the store (binaries/<sha256>/<name>): never the developer's build output. */
  binary: string;
  sha256: string;
  identity: import("../elf/index.js").BinaryIdentity | null;
  /**
   * `binary` only starts the Go program (a `#!` script, `sh -c`): the generation's program is
   * found at run time among its descendants.
   */
  launcher?: "script" | "shell";
  /**
   * Set when the binary started before it was stored (dev starts it once linked): `binary`,
   * `sha256` and `identity` are final once it settles, and the end of a run waits for it.
   */
  stored?: Promise<unknown>;
  /** Called once the service process is spawned (it execs `binary` through setpriv after). */
  onSpawned?: (pid: number | undefined) => void;
}

/** One start of a build: a restart of the same generation is a new run. */
export interface Slot {
  run: number;
  build: Build;
}

export interface MachineConfig {
  /** Listening sockets are handed to each generation: the old one serves until the new is ready. */
  handoff: boolean;
  /** `run`: a clean exit is restarted too; `dev`: only a crash (a clean exit waits for a change). */
  restartExits: boolean;
  /** Probation after a switch (0: none). */
  bakeMs: number;
  /** Keep the old generation up, receiving nothing, through the bake (kernel steering). */
  holdOld: boolean;
}

/** A deploy in flight: the generations whose deploy() calls wait for its result. */
interface Trial {
  cand: Slot;
  /** Still serving while the candidate is probed (handoff); null without. */
  old: Slot | null;
  /** The old one ended while the candidate started: its sockets go once the candidate serves. */
  oldEnded: Slot | null;
  /** The newest build that arrived meanwhile: deployed next (older ones are coalesced into it). */
  next: Build | null;
  /** Generations whose deploy() calls wait for the candidate's result. */
  waiting: number[];
  /** ... and for `next`'s. */
  nextWaiting: number[];
}

export type Phase =
  | { kind: "idle" }
  | ({ kind: "starting" } & Trial)
  | ({ kind: "probing" } & Trial)
  | { kind: "serving"; cur: Slot; ready: boolean }
  | { kind: "baking"; cur: Slot; good: Build; held: Slot | null }
  /** `gone`: the old process has exited (its end is still being attributed). */
  | { kind: "replacing"; old: Slot; next: Build | null; waiting: number[]; gone?: boolean }
  | { kind: "backingOff"; build: Build }
  | ({ kind: "rollingBack"; bad: Build; reason: string } & Trial)
  | { kind: "stopped" };

export interface MachineState {
  phase: Phase;
  /** Builds that failed their bake: not deployed again (a new binary is). */
  bad: string[];
  /** The newest build that passed its bake (or served without one). */
  good: Build | null;
  nextRun: number;
}

export type MachineEvent =
  | { type: "deploy"; build: Build; waiting?: number[] }
  | { type: "started"; run: number }
  | { type: "ready"; run: number; ms: number }
  | { type: "notReady"; run: number; reason: string; exited: boolean }
  /** The process of `run` is gone, seen at once (its end is attributed and captured later). */
  | { type: "exited"; run: number; expected: boolean; how: string }
  /** The process of `run` ended (attributed; in run its core set aside); expected: stopped by us. */
  | { type: "ended"; run: number; expected: boolean; crash: boolean }
  /** Liveness or the watchdog failed. */
  | { type: "hung"; run: number; reason: string }
  | { type: "bakeDone"; run: number }
  | { type: "backoffDone" }
  /** A build is linked and its deploy is coming (dev): without handoff, stop the serving one now. */
  | { type: "linked" }
  | { type: "stop" };

export type DeployFailure = { ok: false; generation: number; reason: string; run?: number };

export type Effect =
  | { do: "start"; slot: Slot }
  | { do: "probe"; run: number }
  | { do: "switch"; to: Slot; from: Slot | null }
  /** The old generation after a switch: drain its socket, then stop it. */
  | { do: "retire"; slot: Slot }
  /** Stop without draining (a failed candidate, a replaced generation, shutdown). */
  | { do: "stop"; slot: Slot }
  /** Keep it running but receiving nothing (bake with --bake-hold-old). */
  | { do: "hold"; slot: Slot }
  /** Steer new connections back to `to` (it is up: held through the bake). */
  | { do: "steerBack"; to: Slot; from: Slot }
  /** Close the sockets of a generation that ended while the candidate started (kept for its
   * restart): by then its run may be long over and forgotten, its slot says whose they are. */
  | { do: "release"; slot: Slot }
  | { do: "bake"; run: number; ms: number }
  | { do: "backoff"; build: Build; crashed: boolean }
  | { do: "cancelTimers" }
  /** Capture the hung process (a core of it while it still runs), then end it. */
  | { do: "captureHang"; slot: Slot; reason: string }
  | { do: "serving"; slot: Slot; ms: number }
  | { do: "baked"; slot: Slot }
  | { do: "rollback"; bad: Slot; to: Build; reason: string; instant: boolean }
  | { do: "rejected"; cand: Slot; old: Slot; reason: string }
  | { do: "keepUnready"; slot: Slot; reason: string }
  | { do: "exitedIdle"; slot: Slot }
  | { do: "settle"; waiting: number[]; ok: true; generation: number; run: number }
  | { do: "settle"; waiting: number[]; ok: false; generation: number; reason: string; run?: number };

export function initialState(): MachineState {
  return { phase: { kind: "idle" }, bad: [], good: null, nextRun: 1 };
}

export interface Step {
  state: MachineState;
  effects: Effect[];
}

/** The serving generation, whichever phase it is in. */
export function servingSlot(p: Phase): Slot | null {
  switch (p.kind) {
    case "serving":
    case "baking":
      return p.cur;
    case "starting":
    case "probing":
    case "rollingBack":
      return p.old;
    default:
      return null;
  }
}

export function step(s: MachineState, e: MachineEvent, c: MachineConfig): Step {
  const t = new Transition(s, c);
  const p = s.phase;
  if (e.type === "stop") {
    t.fx.push({ do: "cancelTimers" });
    for (const slot of runningSlots(p)) t.fx.push({ do: "stop", slot });
    const waiting = waitingOf(p);
    if (waiting.length)
      t.fx.push({ do: "settle", waiting, ok: false, generation: 0, reason: "shutting down" });
    return t.to({ kind: "stopped" });
  }
  if (p.kind === "stopped") {
    if (e.type === "deploy")
      t.fx.push({
        do: "settle",
        waiting: [e.build.generation],
        ok: false,
        generation: e.build.generation,
        reason: "shutting down",
      });
    return t.same();
  }
  switch (e.type) {
    case "deploy":
      return onDeploy(t, e);
    case "started":
      return onStarted(t, e);
    case "ready":
      return onReady(t, e);
    case "notReady":
      return onNotReady(t, e);
    case "ended":
      return onEnded(t, e);
    case "exited":
      return onExited(t, e);
    case "hung":
      return onHung(t, e);
    case "bakeDone":
      return onBakeDone(t, e);
    case "backoffDone":
      return onBackoffDone(t);
    case "linked":
      return onLinked(t);
  }
}

/** One transition being written: the state it starts from, the effects so far, the next run id. */
class Transition {
  readonly fx: Effect[] = [];
  private nextRun: number;
  constructor(
    readonly s: MachineState,
    readonly c: MachineConfig,
  ) {
    this.nextRun = s.nextRun;
  }

  to(phase: Phase, more: Partial<MachineState> = {}): Step {
    return { state: { ...this.s, ...more, phase, nextRun: this.nextRun }, effects: this.fx };
  }

  same(): Step {
    return { state: this.s, effects: this.fx };
  }

  /**
   * Without sockets: the candidate being probed stops, and `next` (the newest build) starts once
   * it is gone; its waiters and the next one's wait for that.
   */
  supersede(p: Trial, next: Build, waiting: number[]): Step {
    this.fx.push({ do: "stop", slot: p.cand });
    return this.to({
      kind: "replacing",
      old: p.cand,
      next,
      waiting: [...p.waiting, ...p.nextWaiting, ...waiting],
    });
  }

  slotOf(build: Build): Slot {
    return { run: this.nextRun++, build };
  }

  /** Start `build` as a candidate (beside `old` when there are sockets to hand over). */
  begin(build: Build, old: Slot | null, waiting: number[]): Step {
    const cand = this.slotOf(build);
    this.fx.push({ do: "start", slot: cand });
    return this.to({ kind: "starting", cand, old, oldEnded: null, next: null, waiting, nextWaiting: [] });
  }

  /** A build that arrived during a trial is deployed once the trial is decided, for its own waiters. */
  afterTrial(done: Step, trial: Trial): Step {
    if (!trial.next) return done;
    const more = step(done.state, { type: "deploy", build: trial.next, waiting: trial.nextWaiting }, this.c);
    return { state: more.state, effects: [...done.effects, ...more.effects] };
  }

  settle(waiting: number[], r: { ok: true; cand: Slot } | { ok: false; cand: Slot; reason: string }): void {
    const { generation } = r.cand.build;
    if (r.ok) this.fx.push({ do: "settle", waiting, ok: true, generation, run: r.cand.run });
    else this.fx.push({ do: "settle", waiting, ok: false, generation, reason: r.reason, run: r.cand.run });
  }

  /** The serving generation ended by itself: restarted after a backoff (dev: a crash only). */
  endedServing(cur: Slot, crash: boolean): Step {
    if (!crash && !this.c.restartExits) {
      this.fx.push({ do: "exitedIdle", slot: cur });
      return this.to({ kind: "idle" });
    }
    this.fx.push({ do: "backoff", build: cur.build, crashed: crash });
    return this.to({ kind: "backingOff", build: cur.build });
  }

  /** The generation on probation failed: back to the last good build; the bad binary stays out. */
  rollBack(bad: Slot, good: Build, held: Slot | null, reason: string): Step {
    // The same binary again (an identical reload): nothing to go back to, restart it as any crash.
    if (bad.build.sha256 === good.sha256) return this.endedServing(bad, true);
    const badShas = [...this.s.bad.filter((h) => h !== bad.build.sha256), bad.build.sha256];
    if (held) {
      // Held up and receiving nothing through the bake: switching back is a steering change.
      this.fx.push({ do: "steerBack", to: held, from: bad });
      this.fx.push({ do: "rollback", bad, to: good, reason, instant: true });
      return this.to({ kind: "serving", cur: held, ready: true }, { bad: badShas, good });
    }
    // Its exact binary from the store, on the sockets kept from the crash, health-gated as any start.
    this.fx.push({ do: "rollback", bad, to: good, reason, instant: false });
    const cand = this.slotOf(good);
    this.fx.push({ do: "start", slot: cand });
    return this.to(
      {
        kind: "rollingBack",
        bad: bad.build,
        reason,
        cand,
        old: null,
        oldEnded: null,
        next: null,
        waiting: [],
        nextWaiting: [],
      },
      { bad: badShas, good },
    );
  }
}

function onDeploy(t: Transition, e: Extract<MachineEvent, { type: "deploy" }>): Step {
  const p = t.s.phase;
  const b = e.build;
  const w = e.waiting ?? [b.generation];
  if (t.s.bad.includes(b.sha256)) {
    t.fx.push({
      do: "settle",
      waiting: w,
      ok: false,
      generation: b.generation,
      reason: "this binary crashed during its bake and was rolled back: waiting for a new build",
    });
    return t.same();
  }
  switch (p.kind) {
    case "idle":
      return t.begin(b, null, w);
    case "serving":
    case "baking": {
      if (p.kind === "baking") {
        // A new build ends the probation: the one on trial is as good as any to hand over from.
        t.fx.push({ do: "cancelTimers" });
        if (p.held) t.fx.push({ do: "stop", slot: p.held });
      }
      if (!t.c.handoff) {
        t.fx.push({ do: "stop", slot: p.cur });
        return t.to({ kind: "replacing", old: p.cur, next: b, waiting: w });
      }
      return t.begin(b, p.cur, w);
    }
    case "backingOff":
      t.fx.push({ do: "cancelTimers" });
      return t.begin(b, null, w);
    case "replacing":
      // The old process is gone: start now (its `ended` is ignored then).
      if (p.gone) return t.begin(b, null, [...p.waiting, ...w]);
      // Not started yet: the newest build replaces it, and its waiters wait for that one.
      return t.to({ ...p, next: b, waiting: [...p.waiting, ...w] });
    case "probing":
      // Without sockets nothing else serves while the candidate is probed (dev's `alive:1s`): the
      // newer build replaces it now instead of after its verdict, and every waiter gets the
      // newest one's answer (a save right after the last one is built and served at once).
      if (!t.c.handoff) return t.supersede(p, b, w);
      return t.to({ ...p, next: b, nextWaiting: [...p.nextWaiting, ...w] });
    case "starting":
    case "rollingBack":
      // Coalesce: whatever waited to go next is replaced by the newest build; all its waiters
      // get the newest one's result.
      return t.to({ ...p, next: b, nextWaiting: [...p.nextWaiting, ...w] });
  }
  return t.same();
}

function onStarted(t: Transition, e: Extract<MachineEvent, { type: "started" }>): Step {
  const p = t.s.phase;
  if ((p.kind === "starting" || p.kind === "rollingBack") && p.cand.run === e.run) {
    t.fx.push({ do: "probe", run: e.run });
    return p.kind === "starting" ? t.to({ ...p, kind: "probing" }) : t.same();
  }
  return t.same();
}

function onReady(t: Transition, e: Extract<MachineEvent, { type: "ready" }>): Step {
  const p = t.s.phase;
  // A start that failed before its process ran (generationLifecycle.ts launch) ends "starting" here too.
  if ((p.kind !== "probing" && p.kind !== "rollingBack" && p.kind !== "starting") || p.cand.run !== e.run)
    return t.same();
  const { cand, old } = p;
  t.fx.push({ do: "serving", slot: cand, ms: e.ms });
  if (t.c.handoff) t.fx.push({ do: "switch", to: cand, from: old });
  if (p.oldEnded) t.fx.push({ do: "release", slot: p.oldEnded });
  // On probation: a new build after a good one (a restart of the same binary is not).
  const good = old?.build ?? t.s.good;
  const bake = p.kind === "probing" && t.c.bakeMs > 0 && good !== null && good.sha256 !== cand.build.sha256;
  const hold = bake && t.c.holdOld && t.c.handoff && old !== null;
  if (old) t.fx.push(hold ? { do: "hold", slot: old } : { do: "retire", slot: old });
  t.settle(p.waiting, { ok: true, cand });
  if (bake && good) {
    t.fx.push({ do: "bake", run: cand.run, ms: t.c.bakeMs });
    return t.afterTrial(t.to({ kind: "baking", cur: cand, good, held: hold ? old : null }), p);
  }
  return t.afterTrial(t.to({ kind: "serving", cur: cand, ready: true }, { good: cand.build }), p);
}

function onNotReady(t: Transition, e: Extract<MachineEvent, { type: "notReady" }>): Step {
  const p = t.s.phase;
  // A start that failed before its process ran (generationLifecycle.ts launch) ends "starting" here too.
  if ((p.kind !== "probing" && p.kind !== "rollingBack" && p.kind !== "starting") || p.cand.run !== e.run)
    return t.same();
  const { cand, old } = p;
  if (old) {
    // Refused before the switch: the old generation never stopped serving.
    t.fx.push({ do: "rejected", cand, old, reason: e.reason });
    t.settle(p.waiting, { ok: false, cand, reason: e.reason });
    return t.afterTrial(t.to({ kind: "serving", cur: old, ready: true }), p);
  }
  t.settle(p.waiting, { ok: false, cand, reason: e.reason });
  if (e.exited) {
    // It died before it was ready, and nothing else serves: start again after a backoff (the
    // old build, when it was serving until it crashed meanwhile; a new build goes first).
    if (p.next) return t.begin(p.next, null, p.nextWaiting);
    const again = p.oldEnded?.build ?? cand.build;
    t.fx.push({ do: "backoff", build: again, crashed: true });
    return t.to({ kind: "backingOff", build: again });
  }
  // Still running but not ready, and nothing else to serve: keep it, and say so.
  t.fx.push({ do: "keepUnready", slot: cand, reason: e.reason });
  if (p.oldEnded) {
    if (t.c.handoff) t.fx.push({ do: "switch", to: cand, from: null });
    t.fx.push({ do: "release", slot: p.oldEnded });
  }
  return t.afterTrial(t.to({ kind: "serving", cur: cand, ready: false }), p);
}

function onEnded(t: Transition, e: Extract<MachineEvent, { type: "ended" }>): Step {
  const p = t.s.phase;
  // Being replaced: whether the stop ended it or it crashed first (dev sees the end only once the
  // crash is captured, and a build may link meanwhile), the next build goes.
  if (p.kind === "replacing" && p.old.run === e.run) {
    if (!p.next) return t.to({ kind: "idle" });
    return t.begin(p.next, null, p.waiting);
  }
  if (e.expected) return t.same();
  switch (p.kind) {
    case "serving":
      if (p.cur.run !== e.run) return t.same();
      return t.endedServing(p.cur, e.crash);
    case "baking": {
      if (p.held?.run === e.run) return t.to({ ...p, held: null });
      if (p.cur.run !== e.run) return t.same();
      t.fx.push({ do: "cancelTimers" });
      return t.rollBack(
        p.cur,
        p.good,
        p.held,
        e.crash ? "crashed during its bake" : "exited during its bake",
      );
    }
    case "starting":
    case "probing":
    case "rollingBack":
      // The old one crashed while the new one starts: the candidate's readiness decides.
      if (p.old?.run === e.run) return t.to({ ...p, old: null, oldEnded: p.old });
      // The candidate's own end arrives as notReady(exited) from its probe.
      return t.same();
    default:
      return t.same();
  }
}

function onExited(t: Transition, e: Extract<MachineEvent, { type: "exited" }>): Step {
  const p = t.s.phase;
  // Replacing (dev, no sockets): the next one starts the moment the old process is gone, not
  // after its end is attributed (the descendants' last pass, the journal: 20-60 ms of an edit's
  // path, bench/dev-latency.mjs); that end comes as `ended`, ignored then. A process stopped on
  // purpose that crashes on the way down is still captured; it just no longer delays the start.
  if (e.expected && p.kind === "replacing" && p.old.run === e.run)
    return p.next ? t.begin(p.next, null, p.waiting) : t.to({ ...p, gone: true });
  // With the old generation held, switching back is a steering change: done the moment the
  // process is seen gone, not after its end is attributed (that comes as `ended`, ignored then).
  if (e.expected || p.kind !== "baking" || p.cur.run !== e.run || !p.held) return t.same();
  t.fx.push({ do: "cancelTimers" });
  return t.rollBack(p.cur, p.good, p.held, `${e.how} during its bake`);
}

function onHung(t: Transition, e: Extract<MachineEvent, { type: "hung" }>): Step {
  const p = t.s.phase;
  if ((p.kind !== "serving" && p.kind !== "baking") || p.cur.run !== e.run) return t.same();
  // Its end follows as `ended` (unexpected): restarted, or rolled back within the bake.
  t.fx.push({ do: "captureHang", slot: p.cur, reason: e.reason });
  return t.same();
}

function onBakeDone(t: Transition, e: Extract<MachineEvent, { type: "bakeDone" }>): Step {
  const p = t.s.phase;
  if (p.kind !== "baking" || p.cur.run !== e.run) return t.same();
  t.fx.push({ do: "baked", slot: p.cur });
  if (p.held) t.fx.push({ do: "retire", slot: p.held });
  return t.to({ kind: "serving", cur: p.cur, ready: true }, { good: p.cur.build });
}

function onBackoffDone(t: Transition): Step {
  const p = t.s.phase;
  if (p.kind !== "backingOff") return t.same();
  return t.begin(p.build, null, []);
}

function onLinked(t: Transition): Step {
  const p = t.s.phase;
  // A candidate still probed is replaced when the deploy comes (onDeploy): its waiters then have
  // a build to wait for.
  if (t.c.handoff || p.kind !== "serving" || !p.ready) return t.same();
  t.fx.push({ do: "stop", slot: p.cur });
  return t.to({ kind: "replacing", old: p.cur, next: null, waiting: [] });
}

function runningSlots(p: Phase): Slot[] {
  switch (p.kind) {
    case "serving":
      return [p.cur];
    case "baking":
      return p.held ? [p.cur, p.held] : [p.cur];
    case "starting":
    case "probing":
    case "rollingBack":
      return p.old ? [p.cand, p.old] : [p.cand];
    case "replacing":
      return [p.old];
    default:
      return [];
  }
}

function waitingOf(p: Phase): number[] {
  switch (p.kind) {
    case "starting":
    case "probing":
    case "rollingBack":
      return [...p.waiting, ...p.nextWaiting];
    case "replacing":
      return p.waiting;
    default:
      return [];
  }
}
