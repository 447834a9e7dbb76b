/**
 * The driver's own guarantees, apart from any decision: an event raised while a step's effects
 * are carried out waits until every effect of that step is done; a timer of the same name
 * replaces the one before; cancelTimers leaves nothing to fire.
 */
import { describe, expect, it } from "vitest";
import type { ProcessHost } from "./host.js";
import type { Build, Effect, MachineConfig } from "./machine.js";
import { MachineDriver } from "./machineDriver.js";

const config: MachineConfig = { handoff: true, restartExits: true, bakeMs: 0, holdOld: false };
const build = (generation: number): Build => ({
  generation,
  binary: `/store/binaries/sha${generation}`,
  sha256: `sha${generation}`,
  identity: null,
});

function fakeClock() {
  let now = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const host = {
    now: () => now,
    after(ms: number, fn: () => void) {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return {
        cancel: () => {
          t.live = false;
        },
      };
    },
  } as unknown as ProcessHost;
  return {
    host,
    live: () => timers.filter((t) => t.live).map((t) => t.at - now),
    advance(ms: number) {
      now += ms;
      for (const t of timers.filter((x) => x.live && x.at <= now)) {
        t.live = false;
        t.fn();
      }
    },
  };
}

describe("MachineDriver", () => {
  it("an event an effect raises is stepped after every effect of the step that raised it", () => {
    const clock = fakeClock();
    const d = new MachineDriver(config, clock.host);
    const seen: string[] = [];
    d.perform = (fx: Effect) => {
      seen.push(fx.do);
      // Liveness failing the moment it serves: the hang must not overtake the switch and the answer.
      if (fx.do === "serving") d.dispatch({ type: "hung", run: fx.slot.run, reason: "liveness" });
    };
    d.dispatch({ type: "deploy", build: build(1) });
    d.dispatch({ type: "started", run: 1 });
    seen.length = 0;
    d.dispatch({ type: "ready", run: 1, ms: 5 });
    expect(seen).toEqual(["serving", "switch", "settle", "captureHang"]);
    expect(d.state.phase.kind).toBe("serving");
  });

  it("a timer replaces the one of the same name; cancelTimers leaves none", () => {
    const clock = fakeClock();
    const d = new MachineDriver(config, clock.host);
    const done: string[] = [];
    d.perform = (fx) => done.push(fx.do);
    d.later("backoff", 500, { type: "backoffDone" });
    d.later("backoff", 1000, { type: "backoffDone" });
    d.later("bake", 2000, { type: "bakeDone", run: 1 });
    expect(clock.live()).toEqual([1000, 2000]);
    d.cancelTimers();
    expect(clock.live()).toEqual([]);
    clock.advance(5000);
    expect(done).toEqual([]);
  });

  it("a timer that fires is an event: backoffDone starts the build again", () => {
    const clock = fakeClock();
    const d = new MachineDriver(config, clock.host);
    const done: string[] = [];
    d.perform = (fx) => {
      done.push(fx.do);
      if (fx.do === "start") d.dispatch({ type: "notReady", run: fx.slot.run, reason: "x", exited: true });
      if (fx.do === "backoff") d.later("backoff", 500, { type: "backoffDone" });
    };
    d.dispatch({ type: "deploy", build: build(1) });
    expect(done).toEqual(["start", "settle", "backoff"]);
    clock.advance(500);
    expect(done).toEqual(["start", "settle", "backoff", "start", "settle", "backoff"]);
  });
});
