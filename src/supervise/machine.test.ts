/**
 * The supervisor's transition table, event by event: which phase follows and what is to be done.
 * Pure: no process, no timer; the whole file runs in milliseconds.
 */
import { describe, expect, it } from "vitest";
import {
  type Build,
  type Effect,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineState,
  step,
} from "./machine.js";

const build = (generation: number, sha = `sha${generation}`): Build => ({
  generation,
  binary: `/store/binaries/${sha}`,
  sha256: sha,
  identity: null,
});
const RUN: MachineConfig = { handoff: true, restartExits: true, bakeMs: 0, holdOld: false };
const BAKE: MachineConfig = { ...RUN, bakeMs: 60_000 };
const HOLD: MachineConfig = { ...BAKE, holdOld: true };
const DEV: MachineConfig = { handoff: false, restartExits: false, bakeMs: 0, holdOld: false };

/** Feed events in order; returns the last state and every effect, by kind. */
function drive(c: MachineConfig, events: MachineEvent[], from: MachineState = initialState()) {
  let s = from;
  const all: Effect[] = [];
  let last: Effect[] = [];
  for (const e of events) {
    const r = step(s, e, c);
    s = r.state;
    last = r.effects;
    all.push(...r.effects);
  }
  return { s, all, last, did: (k: Effect["do"]) => all.filter((f) => f.do === k) };
}
const kinds = (fx: Effect[]) => fx.map((f) => f.do);

/** Gen 1 serving as run 1 (started, ready). */
const serving1: MachineEvent[] = [
  { type: "deploy", build: build(1) },
  { type: "started", run: 1 },
  { type: "ready", run: 1, ms: 10 },
];
/** Gen 2 deployed over gen 1: run 2, ready. */
const switchedTo2: MachineEvent[] = [
  ...serving1,
  { type: "deploy", build: build(2) },
  { type: "started", run: 2 },
  { type: "ready", run: 2, ms: 10 },
];

describe("machine: deploy and switch", () => {
  it("idle → starting → probing → serving on the first deploy, answering its caller", () => {
    const a = drive(RUN, [{ type: "deploy", build: build(1) }]);
    expect(a.s.phase.kind).toBe("starting");
    expect(kinds(a.last)).toEqual(["start"]);
    const b = drive(RUN, [{ type: "started", run: 1 }], a.s);
    expect(b.s.phase.kind).toBe("probing");
    expect(kinds(b.last)).toEqual(["probe"]);
    const c = drive(RUN, [{ type: "ready", run: 1, ms: 5 }], b.s);
    expect(c.s.phase).toMatchObject({ kind: "serving", ready: true, cur: { run: 1 } });
    expect(kinds(c.last)).toEqual(["serving", "switch", "settle"]);
    expect(c.last.at(-1)).toMatchObject({ ok: true, waiting: [1], generation: 1 });
    expect(c.s.good?.generation).toBe(1);
  });

  it("a new build is probed while the old one serves, then switched to and the old one retired", () => {
    const r = drive(RUN, switchedTo2);
    expect(r.s.phase).toMatchObject({ kind: "serving", cur: { run: 2 } });
    expect(r.last).toContainEqual({ do: "retire", slot: { run: 1, build: build(1) } });
    expect(r.last.find((f) => f.do === "switch")).toMatchObject({ to: { run: 2 }, from: { run: 1 } });
  });

  it("a candidate that fails readiness is rejected: the old one never stopped serving", () => {
    const r = drive(RUN, [
      ...serving1,
      { type: "deploy", build: build(2) },
      { type: "started", run: 2 },
      { type: "notReady", run: 2, reason: "timeout", exited: false },
    ]);
    expect(r.s.phase).toMatchObject({ kind: "serving", cur: { run: 1 } });
    expect(kinds(r.last)).toEqual(["rejected", "settle"]);
    expect(r.last[1]).toMatchObject({ ok: false, generation: 2, reason: "timeout" });
  });

  it("builds arriving during a trial are coalesced: the newest goes next, every later caller gets its answer", () => {
    const r = drive(RUN, [
      ...serving1,
      { type: "deploy", build: build(2) },
      { type: "deploy", build: build(3) },
      { type: "deploy", build: build(4) },
    ]);
    expect(r.s.phase).toMatchObject({ kind: "starting", next: { generation: 4 }, nextWaiting: [3, 4] });
    const done = drive(
      RUN,
      [
        { type: "started", run: 2 },
        { type: "ready", run: 2, ms: 1 },
      ],
      r.s,
    );
    expect(done.did("settle")[0]).toMatchObject({ ok: true, generation: 2, waiting: [2] });
    expect(done.s.phase).toMatchObject({
      kind: "starting",
      cand: { build: { generation: 4 } },
      waiting: [3, 4],
    });
  });

  it("without sockets the serving generation stops before the next starts (replacing)", () => {
    const r = drive(DEV, [...serving1, { type: "deploy", build: build(2) }]);
    expect(r.s.phase.kind).toBe("replacing");
    expect(kinds(r.last)).toEqual(["stop"]);
    const n = drive(DEV, [{ type: "ended", run: 1, expected: true, crash: false }], r.s);
    expect(n.s.phase).toMatchObject({ kind: "starting", cand: { run: 2 }, old: null });
  });

  it("without sockets a build deployed while the last one is probed replaces it at once", () => {
    // dev: gen 2 runs and waits out `alive:1s` when gen 3 arrives.
    const probing2 = [
      ...serving1,
      { type: "deploy", build: build(2) },
      { type: "ended", run: 1, expected: true, crash: false },
      { type: "started", run: 2 },
    ] as MachineEvent[];
    const r = drive(DEV, [...probing2, { type: "deploy", build: build(3) }]);
    expect(r.s.phase).toMatchObject({
      kind: "replacing",
      old: { run: 2 },
      next: { generation: 3 },
      waiting: [2, 3],
    });
    expect(r.last).toEqual([{ do: "stop", slot: { run: 2, build: build(2) } }]);
    // Gen 2's probe may still answer: it changes nothing; its exit starts gen 3.
    const stale = drive(DEV, [{ type: "ready", run: 2, ms: 1000 }], r.s);
    expect(stale.last).toEqual([]);
    const next = drive(DEV, [{ type: "exited", run: 2, expected: true, how: "died of SIGTERM" }], r.s);
    expect(next.s.phase).toMatchObject({
      kind: "starting",
      cand: { run: 3, build: { generation: 3 } },
      waiting: [2, 3],
    });
    // Both callers get gen 3's answer.
    const ready = drive(
      DEV,
      [
        { type: "started", run: 3 },
        { type: "ready", run: 3, ms: 1000 },
      ],
      next.s,
    );
    expect(ready.did("settle")).toEqual([
      expect.objectContaining({ ok: true, generation: 3, waiting: [2, 3] }),
    ]);
    // With sockets the old generation still serves: the candidate's verdict comes first.
    const handoff = drive(RUN, [
      ...serving1,
      { type: "deploy", build: build(2) },
      { type: "started", run: 2 },
      { type: "deploy", build: build(3) },
    ]);
    expect(handoff.s.phase).toMatchObject({ kind: "probing", cand: { run: 2 }, next: { generation: 3 } });
    expect(handoff.last).toEqual([]);
  });

  it("linked (dev): the serving generation starts stopping before the deploy comes", () => {
    const r = drive(DEV, [...serving1, { type: "linked" }]);
    expect(r.s.phase).toMatchObject({ kind: "replacing", next: null });
    const ended = drive(DEV, [{ type: "ended", run: 1, expected: true, crash: false }], r.s);
    expect(ended.s.phase.kind).toBe("idle");
    const next = drive(DEV, [{ type: "deploy", build: build(2) }], ended.s);
    expect(next.s.phase.kind).toBe("starting");
    // With sockets (or while a trial runs) nothing happens.
    expect(drive(RUN, [...serving1, { type: "linked" }]).s.phase.kind).toBe("serving");
  });

  it("replacing: the next generation starts when the old process exits, before its end is attributed", () => {
    const exited = { type: "exited", run: 1, expected: true, how: "died of SIGTERM" } as const;
    const ended = { type: "ended", run: 1, expected: true, crash: false } as const;
    // The deploy came first: the exit starts it, and the later `ended` changes nothing.
    const r = drive(DEV, [...serving1, { type: "deploy", build: build(2) }, exited]);
    expect(r.s.phase).toMatchObject({ kind: "starting", cand: { run: 2 }, old: null });
    expect(kinds(r.last)).toEqual(["start"]);
    const after = drive(DEV, [ended], r.s);
    expect(after.s.phase).toMatchObject({ kind: "starting", cand: { run: 2 } });
    expect(after.last).toEqual([]);
    // Linked, exited, then the deploy: it starts at once.
    const l = drive(DEV, [...serving1, { type: "linked" }, exited]);
    expect(l.s.phase).toMatchObject({ kind: "replacing", gone: true });
    const d = drive(DEV, [{ type: "deploy", build: build(2) }], l.s);
    expect(d.s.phase).toMatchObject({ kind: "starting", cand: { run: 2 }, old: null });
    // Linked, exited, ended before any deploy: idle, and the deploy starts from there.
    expect(drive(DEV, [ended], l.s).s.phase.kind).toBe("idle");
    // A serving generation that exits by itself is no replacement: its `ended` decides.
    const own = drive(DEV, [
      ...serving1,
      { type: "exited", run: 1, expected: false, how: "exited with status 1" },
    ]);
    expect(own.s.phase.kind).toBe("serving");
  });

  it("a stale event (another run's) changes nothing", () => {
    const r = drive(RUN, [...switchedTo2, { type: "ready", run: 1, ms: 1 }, { type: "bakeDone", run: 7 }]);
    expect(r.s.phase).toMatchObject({ kind: "serving", cur: { run: 2 } });
    expect(r.last).toEqual([]);
  });
});

describe("machine: crashes and backoff", () => {
  it("run restarts a crash and a clean exit after a backoff; dev only a crash", () => {
    const crash = drive(RUN, [...serving1, { type: "ended", run: 1, expected: false, crash: true }]);
    expect(crash.s.phase).toMatchObject({ kind: "backingOff", build: { generation: 1 } });
    expect(crash.last).toContainEqual({ do: "backoff", build: build(1), crashed: true });
    const exit = drive(RUN, [...serving1, { type: "ended", run: 1, expected: false, crash: false }]);
    expect(exit.s.phase.kind).toBe("backingOff");
    const devExit = drive(DEV, [...serving1, { type: "ended", run: 1, expected: false, crash: false }]);
    expect(devExit.s.phase.kind).toBe("idle");
    expect(kinds(devExit.last)).toEqual(["exitedIdle"]);
    const devCrash = drive(DEV, [...serving1, { type: "ended", run: 1, expected: false, crash: true }]);
    expect(devCrash.s.phase.kind).toBe("backingOff");
  });

  it("backoffDone starts the same build again as a new run", () => {
    const r = drive(RUN, [
      ...serving1,
      { type: "ended", run: 1, expected: false, crash: true },
      { type: "backoffDone" },
    ]);
    expect(r.s.phase).toMatchObject({ kind: "starting", cand: { run: 2, build: { generation: 1 } } });
  });

  it("a deploy during the backoff cancels it and goes at once", () => {
    const r = drive(RUN, [
      ...serving1,
      { type: "ended", run: 1, expected: false, crash: true },
      { type: "deploy", build: build(2) },
    ]);
    expect(kinds(r.last)).toEqual(["cancelTimers", "start"]);
    expect(r.s.phase).toMatchObject({ kind: "starting", cand: { build: { generation: 2 } }, old: null });
    // A late backoffDone (its timer fired as the deploy came) is ignored.
    expect(drive(RUN, [{ type: "backoffDone" }], r.s).last).toEqual([]);
  });

  it("a first deploy that dies before it is ready backs off; a build arriving meanwhile goes first", () => {
    const dies = drive(RUN, [
      { type: "deploy", build: build(1) },
      { type: "started", run: 1 },
      { type: "notReady", run: 1, reason: "exited before it was ready", exited: true },
    ]);
    expect(dies.s.phase.kind).toBe("backingOff");
    expect(kinds(dies.last)).toEqual(["settle", "backoff"]);
    const newer = drive(RUN, [
      { type: "deploy", build: build(1) },
      { type: "started", run: 1 },
      { type: "deploy", build: build(2) },
      { type: "notReady", run: 1, reason: "exited", exited: true },
    ]);
    expect(newer.s.phase).toMatchObject({
      kind: "starting",
      cand: { build: { generation: 2 } },
      waiting: [2],
    });
  });

  it("a start that fails before it runs (no `started`) is answered and backed off, or refused beside the old one", () => {
    const alone = drive(RUN, [
      { type: "deploy", build: build(1) },
      { type: "notReady", run: 1, reason: "spawn EACCES", exited: true },
    ]);
    expect(alone.s.phase.kind).toBe("backingOff");
    expect(alone.last).toContainEqual({
      do: "settle",
      waiting: [1],
      ok: false,
      generation: 1,
      reason: "spawn EACCES",
      run: 1,
    });
    const beside = drive(RUN, [
      ...serving1,
      { type: "deploy", build: build(2) },
      { type: "notReady", run: 2, reason: "spawn EACCES", exited: true },
    ]);
    expect(beside.s.phase).toMatchObject({ kind: "serving", cur: { run: 1 } });
    expect(kinds(beside.last)).toEqual(["rejected", "settle"]);
  });

  it("not ready but running, with nothing else to serve: kept (and said)", () => {
    const r = drive(RUN, [
      { type: "deploy", build: build(1) },
      { type: "started", run: 1 },
      { type: "notReady", run: 1, reason: "timeout", exited: false },
    ]);
    expect(r.s.phase).toMatchObject({ kind: "serving", ready: false, cur: { run: 1 } });
    expect(kinds(r.last)).toEqual(["settle", "keepUnready"]);
  });

  it("race: the one being replaced crashed before the stop reached it: the next build still starts", () => {
    const r = drive(DEV, [
      ...serving1,
      { type: "linked" },
      { type: "deploy", build: build(2) },
      { type: "ended", run: 1, expected: false, crash: true },
    ]);
    expect(r.s.phase).toMatchObject({ kind: "starting", cand: { run: 2, build: { generation: 2 } } });
    expect(kinds(r.last)).toEqual(["start"]);
  });

  it("race: the old generation crashes while the new one is probed; the new one's readiness decides", () => {
    const during = drive(RUN, [
      ...serving1,
      { type: "deploy", build: build(2) },
      { type: "started", run: 2 },
      { type: "ended", run: 1, expected: false, crash: true },
    ]);
    expect(during.s.phase).toMatchObject({ kind: "probing", old: null, oldEnded: { run: 1 } });
    const ready = drive(RUN, [{ type: "ready", run: 2, ms: 1 }], during.s);
    expect(ready.last).toContainEqual({ do: "release", slot: { run: 1, build: build(1) } });
    expect(ready.s.phase).toMatchObject({ kind: "serving", cur: { run: 2 } });
    // ... and failing, the old (last serving) build restarts after a backoff.
    const fails = drive(RUN, [{ type: "notReady", run: 2, reason: "exited", exited: true }], during.s);
    expect(fails.s.phase).toMatchObject({ kind: "backingOff", build: { generation: 1 } });
  });

  it("a hung serving generation is captured; its end then restarts it like a crash", () => {
    const r = drive(RUN, [...serving1, { type: "hung", run: 1, reason: "liveness failed" }]);
    expect(r.last).toEqual([
      { do: "captureHang", slot: { run: 1, build: build(1) }, reason: "liveness failed" },
    ]);
    expect(r.s.phase.kind).toBe("serving");
    const e = drive(RUN, [{ type: "ended", run: 1, expected: false, crash: true }], r.s);
    expect(e.s.phase.kind).toBe("backingOff");
  });

  it("stop: every process stops, timers go, waiting callers are told; later deploys are refused", () => {
    const r = drive(RUN, [...serving1, { type: "deploy", build: build(2) }, { type: "stop" }]);
    expect(r.s.phase.kind).toBe("stopped");
    expect(kinds(r.last)).toEqual(["cancelTimers", "stop", "stop", "settle"]);
    expect(r.last.at(-1)).toMatchObject({ ok: false, reason: "shutting down", waiting: [2] });
    const late = drive(RUN, [{ type: "deploy", build: build(3) }], r.s);
    expect(late.last[0]).toMatchObject({ do: "settle", ok: false, reason: "shutting down" });
  });
});

describe("machine: bake and rollback (issue 18)", () => {
  it("a switch after a good build starts a bake; bakeDone makes it the good build", () => {
    const r = drive(BAKE, switchedTo2);
    expect(r.s.phase).toMatchObject({ kind: "baking", cur: { run: 2 }, good: { generation: 1 }, held: null });
    expect(r.last).toContainEqual({ do: "bake", run: 2, ms: 60_000 });
    expect(r.last).toContainEqual({ do: "retire", slot: { run: 1, build: build(1) } });
    const baked = drive(BAKE, [{ type: "bakeDone", run: 2 }], r.s);
    expect(baked.s.phase).toMatchObject({ kind: "serving", cur: { run: 2 } });
    expect(baked.s.good?.generation).toBe(2);
    expect(kinds(baked.last)).toEqual(["baked"]);
  });

  it("the first generation has nothing to roll back to: no bake", () => {
    expect(drive(BAKE, serving1).s.phase.kind).toBe("serving");
  });

  it("a crash during the bake rolls back to the last good build's binary, and keeps the bad one out", () => {
    const r = drive(BAKE, [...switchedTo2, { type: "ended", run: 2, expected: false, crash: true }]);
    expect(r.s.phase).toMatchObject({ kind: "rollingBack", cand: { run: 3, build: { generation: 1 } } });
    expect(kinds(r.last)).toEqual(["cancelTimers", "rollback", "start"]);
    expect(r.last[1]).toMatchObject({
      reason: "crashed during its bake",
      instant: false,
      to: { generation: 1 },
    });
    expect(r.s.bad).toEqual(["sha2"]);
    const back = drive(
      BAKE,
      [
        { type: "started", run: 3 },
        { type: "ready", run: 3, ms: 3 },
      ],
      r.s,
    );
    expect(back.s.phase).toMatchObject({ kind: "serving", cur: { run: 3, build: { generation: 1 } } });
    // The same binary again is refused until a new one arrives.
    const again = drive(BAKE, [{ type: "deploy", build: build(3, "sha2") }], back.s);
    expect(again.last[0]).toMatchObject({ do: "settle", ok: false, generation: 3 });
    expect(again.s.phase.kind).toBe("serving");
    const fresh = drive(BAKE, [{ type: "deploy", build: build(4, "sha4") }], back.s);
    expect(fresh.s.phase.kind).toBe("starting");
  });

  it("with the old generation held, the rollback is a steering change: no start", () => {
    const r = drive(HOLD, switchedTo2);
    expect(r.s.phase).toMatchObject({ kind: "baking", held: { run: 1 } });
    expect(r.last).toContainEqual({ do: "hold", slot: { run: 1, build: build(1) } });
    expect(r.last.some((f) => f.do === "retire")).toBe(false);
    const crash = drive(HOLD, [{ type: "ended", run: 2, expected: false, crash: true }], r.s);
    expect(kinds(crash.last)).toEqual(["cancelTimers", "steerBack", "rollback"]);
    expect(crash.s.phase).toMatchObject({ kind: "serving", cur: { run: 1 } });
    // After a bake passed, the held one is retired.
    const baked = drive(HOLD, [{ type: "bakeDone", run: 2 }], r.s);
    expect(kinds(baked.last)).toEqual(["baked", "retire"]);
  });

  it("held: the rollback happens the moment the process is seen gone; its later attributed end changes nothing", () => {
    const r = drive(HOLD, [
      ...switchedTo2,
      { type: "exited", run: 2, expected: false, how: "died of SIGABRT" },
    ]);
    expect(kinds(r.last)).toEqual(["cancelTimers", "steerBack", "rollback"]);
    expect(r.last[2]).toMatchObject({ reason: "died of SIGABRT during its bake", instant: true });
    const later = drive(HOLD, [{ type: "ended", run: 2, expected: false, crash: true }], r.s);
    expect(later.last).toEqual([]);
    expect(later.s.phase).toMatchObject({ kind: "serving", cur: { run: 1 } });
    // Not held (or stopped by us, or not baking): `exited` decides nothing.
    expect(drive(BAKE, [...switchedTo2, { type: "exited", run: 2, expected: false, how: "x" }]).last).toEqual(
      [],
    );
    expect(drive(HOLD, [...switchedTo2, { type: "exited", run: 2, expected: true, how: "x" }]).last).toEqual(
      [],
    );
  });

  it("a liveness failure during the bake rolls back once the hung process ended", () => {
    const r = drive(BAKE, [
      ...switchedTo2,
      { type: "hung", run: 2, reason: "liveness" },
      { type: "ended", run: 2, expected: false, crash: true },
    ]);
    expect(r.s.phase.kind).toBe("rollingBack");
  });

  it("after the bake a crash restarts as before", () => {
    const r = drive(BAKE, [
      ...switchedTo2,
      { type: "bakeDone", run: 2 },
      { type: "ended", run: 2, expected: false, crash: true },
    ]);
    expect(r.s.phase).toMatchObject({ kind: "backingOff", build: { generation: 2 } });
  });

  it("race: a new build during the bake ends the probation and is deployed over the one on trial", () => {
    const r = drive(HOLD, [...switchedTo2, { type: "deploy", build: build(3) }]);
    expect(kinds(r.last)).toEqual(["cancelTimers", "stop", "start"]);
    expect(r.s.phase).toMatchObject({ kind: "starting", old: { run: 2 } });
  });

  it("race: the held old generation ends during the bake; a later crash of the new one then starts it again", () => {
    const r = drive(HOLD, [
      ...switchedTo2,
      { type: "ended", run: 1, expected: false, crash: true },
      { type: "ended", run: 2, expected: false, crash: true },
    ]);
    expect(r.s.phase).toMatchObject({ kind: "rollingBack", cand: { build: { generation: 1 } } });
  });

  it("race: bakeDone arriving after the crash that rolled back is ignored", () => {
    const r = drive(BAKE, [
      ...switchedTo2,
      { type: "ended", run: 2, expected: false, crash: true },
      { type: "bakeDone", run: 2 },
    ]);
    expect(r.s.phase.kind).toBe("rollingBack");
    expect(r.last).toEqual([]);
  });

  it("a rollback whose good build fails to start backs off on it", () => {
    const r = drive(BAKE, [
      ...switchedTo2,
      { type: "ended", run: 2, expected: false, crash: true },
      { type: "started", run: 3 },
      { type: "notReady", run: 3, reason: "exited", exited: true },
    ]);
    expect(r.s.phase).toMatchObject({ kind: "backingOff", build: { generation: 1 } });
  });

  it("an identical binary reloaded over itself has nothing to roll back to: no bake, a crash restarts", () => {
    const r = drive(BAKE, [
      ...serving1,
      { type: "deploy", build: build(2, "sha1") },
      { type: "started", run: 2 },
      { type: "ready", run: 2, ms: 1 },
    ]);
    expect(r.s.phase.kind).toBe("serving");
  });

  it("without sockets the bake still rolls back (to the previous build, started again)", () => {
    const c: MachineConfig = { ...BAKE, handoff: false };
    const r = drive(c, [
      ...serving1,
      { type: "deploy", build: build(2) },
      { type: "ended", run: 1, expected: true, crash: false },
      { type: "started", run: 2 },
      { type: "ready", run: 2, ms: 1 },
    ]);
    expect(r.s.phase).toMatchObject({ kind: "baking", good: { generation: 1 } });
    const crash = drive(c, [{ type: "ended", run: 2, expected: false, crash: true }], r.s);
    expect(crash.s.phase).toMatchObject({ kind: "rollingBack", cand: { build: { generation: 1 } } });
  });
});
