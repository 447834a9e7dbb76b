/**
 * The supervisor: carries out what the state machine (machine.ts) decides, and tells it what
 * happened. It is put together from parts, each with its own state:
 *   MachineDriver        the machine's state, its event queue and timers (machineDriver.ts)
 *   effect interpreter   each Effect carried out (effects.ts)
 *   GenerationLifecycle  starting, probing, watching, stopping processes (generationLifecycle.ts)
 *   RunTable             each run's process and figures (runTable.ts)
 *   Verdicts             deploy answers and rollback events with their crash (verdicts.ts)
 *   CrashIntake          captures, recovered panics, orphaned cores (crashIntake.ts)
 * Every process, timer and /proc read goes through the ProcessHost; crash capture through
 * `capture`; so its unit tests (supervisor.test.ts) drive real decisions with fake processes in
 * milliseconds.
 */

import { Backoff } from "./backoff.js";
import { createCrashIntake } from "./crashIntake.js";
import { createEffectInterpreter } from "./effects.js";
import type { GenState, StartedProgram } from "./generation.js";
import { GenerationLifecycle } from "./generationLifecycle.js";
import type { Build, Phase, Slot } from "./machine.js";
import { MachineDriver } from "./machineDriver.js";
import { RunTable } from "./runTable.js";
import { type DeployResult, resolveSupervisorOptions, type SupervisorOptions } from "./supervisorOptions.js";
import { Verdicts } from "./verdicts.js";

export type { Build, DeployResult, StartedProgram, SupervisorOptions };

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

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const r = resolveSupervisorOptions(options);
  const driver = new MachineDriver(r.config, r.host);
  const runs = new RunTable();
  const intake = createCrashIntake(r, () => (driver.state.good ? [driver.state.good.sha256] : []));
  const lifecycle = new GenerationLifecycle(r, runs, driver, intake);
  const verdicts = new Verdicts(r, runs, lifecycle);
  const backoff = new Backoff(options.backoff);
  driver.perform = createEffectInterpreter({ r, runs, driver, lifecycle, verdicts, backoff });

  return {
    deploy(build) {
      const answer = verdicts.wait(build.generation);
      driver.dispatch({ type: "deploy", build });
      return answer;
    },
    get current() {
      const slot = shownSlot(driver.state.phase, r.config.handoff);
      const g = slot ? runs.get(slot.run) : undefined;
      return slot && g ? { generation: slot.build.generation, pid: g.child.pid, state: g.state } : null;
    },
    get phase() {
      return driver.state.phase.kind;
    },
    resetBackoff() {
      backoff.reset();
    },
    stopBeforeDeploy() {
      driver.dispatch({ type: "linked" });
    },
    async stop() {
      lifecycle.beginShutdown();
      driver.dispatch({ type: "stop" });
      await lifecycle.stopAll();
      r.steering.stop();
      // Every crash captured (each within its deadline) before the supervisor exits.
      await intake.idle();
    },
  };
}

/** The generation serving (or, with nothing else, the one starting). */
function shownSlot(p: Phase, handoff: boolean): Slot | null {
  if (p.kind === "serving" || p.kind === "baking") return p.cur;
  if (p.kind === "starting" || p.kind === "probing" || p.kind === "rollingBack")
    return p.old ?? (handoff ? null : p.cand);
  if (p.kind === "replacing") return p.old;
  return null;
}
