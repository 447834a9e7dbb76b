/**
 * The effect interpreter: each command machine.ts decides is carried out here, in one switch a
 * reader can check against the machine's Effect type. Processes are the lifecycle's
 * (generationLifecycle.ts), answers and rollback events the verdicts' (verdicts.ts), timers the
 * driver's; what is left here is steering and what the supervisor says (events, log lines).
 */
import type { Backoff } from "./backoff.js";
import type { GenerationLifecycle } from "./generationLifecycle.js";
import type { Build, Effect, Slot } from "./machine.js";
import type { MachineDriver } from "./machineDriver.js";
import type { RunTable } from "./runTable.js";
import { addressInUseMessage } from "./steering.js";
import type { ResolvedSupervisor } from "./supervisorOptions.js";
import type { Verdicts } from "./verdicts.js";

interface EffectParts {
  r: ResolvedSupervisor;
  runs: RunTable;
  driver: MachineDriver;
  lifecycle: GenerationLifecycle;
  verdicts: Verdicts;
  backoff: Backoff;
}

export function createEffectInterpreter(parts: EffectParts): (fx: Effect) => void {
  const { r, runs, driver, lifecycle, verdicts } = parts;
  const { o, steering } = r;
  const gen = (run: number) => runs.get(run);
  const say = createAnnouncer(parts);
  return (fx) => {
    switch (fx.do) {
      case "start":
        return lifecycle.start(fx.slot);
      case "probe":
        return void lifecycle.probe(fx.run);
      case "serving":
        return say.serving(fx.slot, fx.ms);
      case "switch": {
        const g = gen(fx.to.run);
        steering.switchTo(fx.to.build.generation);
        if (fx.from) say.switched(fx.to, fx.from);
        if (g) void lifecycle.warnIfNotAccepting(g);
        return;
      }
      case "release": {
        // It crashed while the next one started: nobody will accept what queued on its socket.
        const { generation } = fx.slot.build;
        const left = steering.release(generation);
        if (left > 0)
          o.logger.warn(
            `${left} connection(s) queued on crashed generation ${generation}'s socket were reset`,
          );
        return;
      }
      case "retire": {
        const g = gen(fx.slot.run);
        if (g) void lifecycle.retire(g);
        return;
      }
      case "hold":
        say.event("held", fx.slot);
        o.logger.info(
          `generation ${fx.slot.build.generation} stays up, receiving nothing, until the new one's bake is over`,
        );
        return;
      case "stop": {
        const g = gen(fx.slot.run);
        if (g) void lifecycle.stop(g);
        return;
      }
      case "steerBack":
        // The steering change first (one BPF program attached), then the bad one's sockets, kept
        // for a restart that will not come, are closed.
        steering.switchTo(fx.to.build.generation);
        runs.steeredBack(fx.from.run, r.host.now());
        steering.release(fx.from.build.generation);
        return say.switched(fx.to, fx.from);
      case "bake":
        return driver.later("bake", fx.ms, { type: "bakeDone", run: fx.run });
      case "backoff":
        return say.backingOff(fx.build, fx.crashed);
      case "cancelTimers":
        return driver.cancelTimers();
      case "captureHang": {
        const g = gen(fx.slot.run);
        if (g) lifecycle.hang(g, fx.reason);
        return;
      }
      case "baked":
        say.event("baked", fx.slot);
        o.logger.info(`generation ${fx.slot.build.generation} passed its bake`);
        return;
      case "rollback":
        return void verdicts.rolledBack(fx.bad, fx.to, fx.reason, fx.instant);
      case "rejected":
        return void verdicts.rejected(fx.cand, fx.old, fx.reason);
      case "keepUnready":
        if (!lifecycle.stopping)
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
        return void verdicts.settle(fx);
    }
  };
}

/** The events and log lines of the effects that only report, and the backoff's delay. */
function createAnnouncer({ r, runs, driver, lifecycle, backoff }: EffectParts) {
  const { o, steering } = r;
  const pidOf = (slot: Slot) => runs.get(slot.run)?.child.pid ?? null;
  return {
    serving(slot: Slot, ms: number): void {
      const g = runs.get(slot.run);
      if (!g) return;
      g.state = "ready";
      const restart = runs.restarts(slot.build.generation);
      const generation = slot.build.generation;
      o.emit({
        event: "ready",
        generation,
        pid: g.child.pid ?? null,
        ms: Math.round(ms),
        ...(restart ? { restart } : {}),
      });
      lifecycle.watchAlive(g);
      if (restart)
        o.logger.info(
          `generation ${generation} is serving again (restart ${restart}, pid ${g.child.pid}, ready in ${Math.round(ms)} ms)`,
        );
    },
    switched(to: Slot, from: Slot): void {
      o.emit({
        event: "switch",
        generation: to.build.generation,
        from: from.build.generation,
        pid: pidOf(to),
        sockets: steering.mode,
      });
    },
    event(event: "held" | "baked", slot: Slot): void {
      o.emit({ event, generation: slot.build.generation, pid: pidOf(slot) });
    },
    /** Run restarts whatever ended; dev a crash. Both back off: 0.5 s, 1 s, 2 s... */
    backingOff(build: Build, crashed: boolean): void {
      if (lifecycle.stopping) return;
      const last = runs.last(build.generation);
      const ranMs = last ? Math.round(runs.ranMs(last.run, r.host.now())) : 0;
      const delay = backoff.next(ranMs);
      if (last && r.sockets.length > 0 && /address already in use/.test(last.child.stderrTail.toString()))
        o.logger.warn(addressInUseMessage(build.generation, steering));
      o.logger.warn(
        `generation ${build.generation} ${crashed ? "crashed" : "exited"} after ${ranMs} ms; restarting in ${delay} ms${backoff.consecutive > 1 ? ` (crash loop: ${backoff.consecutive} in a row)` : ""}${crashed && o.mode === "run" ? " (its capture goes on meanwhile)" : ""}`,
      );
      driver.later("backoff", delay, { type: "backoffDone" });
    },
  };
}
