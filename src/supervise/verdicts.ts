/**
 * What the supervisor says once a deploy is decided: the answer each deploy() caller waits for
 * (with the crash that failed it, when there is one), and the `rollback` event of a build refused
 * or rolled back, naming its crash. A crash id is only known once the capture is done, so these
 * wait for the run's `done`; the machine has moved on meanwhile.
 */
import type { GenerationLifecycle } from "./generationLifecycle.js";
import type { Build, Effect, Slot } from "./machine.js";
import type { RunTable } from "./runTable.js";
import { neverAcceptedMessage } from "./steering.js";
import type { DeployResult, ResolvedSupervisor } from "./supervisorOptions.js";

export class Verdicts {
  /** deploy() calls waiting, by the generation they deployed. */
  private readonly waiters = new Map<number, ((r: DeployResult) => void)[]>();

  constructor(
    private readonly r: ResolvedSupervisor,
    private readonly runs: RunTable,
    private readonly lifecycle: Pick<GenerationLifecycle, "stop">,
  ) {}

  /** The answer to the deploy of `generation`, once the machine settles it. */
  wait(generation: number): Promise<DeployResult> {
    return new Promise<DeployResult>((resolve) => {
      const list = this.waiters.get(generation) ?? [];
      list.push(resolve);
      this.waiters.set(generation, list);
    });
  }

  async settle(fx: Extract<Effect, { do: "settle" }>): Promise<void> {
    const result = fx.ok ? this.succeeded(fx) : await this.failed(fx);
    for (const w of fx.waiting) {
      const list = this.waiters.get(w);
      if (!list) continue;
      this.waiters.delete(w);
      // A shutdown answers every waiter at once: each with its own generation.
      const r = fx.generation === 0 ? { ...result, generation: w } : result;
      for (const resolve of list) resolve(r);
    }
  }

  private succeeded(fx: Extract<Effect, { do: "settle"; ok: true }>): DeployResult {
    const result: DeployResult = {
      ok: true,
      generation: fx.generation,
      pid: this.runs.get(fx.run)?.child.pid ?? 0,
      readyMs: 0,
    };
    const ready = this.runs.readyMsOf(fx.run);
    if (ready !== undefined) result.readyMs = ready;
    return result;
  }

  private async failed(fx: Extract<Effect, { do: "settle"; ok: false }>): Promise<DeployResult> {
    const g = fx.run !== undefined ? this.runs.get(fx.run) : undefined;
    // `run` answers without waiting for the capture (a restart would queue behind it), unless
    // the candidate was stopped for failing readiness (its crash id is the answer).
    const end = g && (this.r.o.mode === "dev" || this.runs.takeRejected(g.run)) ? await g.done : null;
    return {
      ok: false,
      generation: fx.generation,
      reason: fx.reason,
      ...(end?.crash?.bundle ? { crashId: end.crash.bundle.id } : {}),
      ...(end?.crash ? { report: end.crash.report } : {}),
    };
  }

  /** The build on probation failed: the event names its crash, how long steering back took. */
  async rolledBack(bad: Slot, to: Build, reason: string, instant: boolean): Promise<void> {
    const { o } = this.r;
    const steered = this.runs.steeredMsOf(bad.run);
    o.logger.warn(
      `generation ${bad.build.generation} ${reason}: rolling back to generation ${to.generation}${instant ? " (held up through the bake)" : " (its binary from the store)"}; ${bad.build.sha256.slice(0, 12)}… stays out until a new build`,
    );
    const b = this.runs.get(bad.run);
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

  /** The candidate was refused while the old one serves: it is stopped, the event names its crash. */
  async rejected(cand: Slot, old: Slot, reason: string): Promise<void> {
    const { o, steering } = this.r;
    this.runs.reject(cand.run);
    const g = this.runs.get(cand.run);
    if (!g) return;
    const waiting = g.state === "ended" ? 0 : steering.queued(cand.build.generation);
    if (waiting > 0 && steering.mode === "steered")
      o.logger.warn(neverAcceptedMessage(cand.build.generation, waiting, steering));
    const end = await this.lifecycle.stop(g);
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
}
