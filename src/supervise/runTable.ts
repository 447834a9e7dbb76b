/**
 * The supervisor's record of each run (one start of a build), beside the machine's state: the
 * machine names runs by number and decides; this holds their processes and the figures the
 * answers and events report (ready time, how long a held rollback took to steer back), which
 * decide nothing.
 */
import type { Running } from "./generation.js";

export class RunTable {
  private readonly runs = new Map<number, Running>();
  /** When each run started (host clock): how long it ran decides its backoff. */
  private readonly startedAt = new Map<number, number>();
  /** How many times each generation was started (restarts: the second and later). */
  private readonly starts = new Map<number, number>();
  /** The ready probe's figure of each run, for its deploy answer. */
  private readonly readyMs = new Map<number, number>();
  /** When each run's end was seen (host clock): a held rollback is measured from it. */
  private readonly exitSeen = new Map<number, number>();
  private readonly steeredMs = new Map<number, number>();
  /** Candidates refused while the old generation serves: their answer carries their crash. */
  private readonly rejected = new Set<number>();

  get(run: number): Running | undefined {
    return this.runs.get(run);
  }

  add(g: Running, at: number): void {
    this.runs.set(g.run, g);
    this.startedAt.set(g.run, at);
  }

  /** How long `run` has run by `now` (host clock). */
  ranMs(run: number, now: number): number {
    return now - (this.startedAt.get(run) ?? now);
  }

  /** Nothing refers to a run once it is over and settled. */
  forget(run: number): void {
    this.runs.delete(run);
    this.startedAt.delete(run);
  }

  all(): Running[] {
    return [...this.runs.values()];
  }

  /** Count a start of `generation`; 1 the first time. */
  started(generation: number): number {
    const n = (this.starts.get(generation) ?? 0) + 1;
    this.starts.set(generation, n);
    return n;
  }

  /** Restarts of `generation` so far (0 before its second start). */
  restarts(generation: number): number {
    return (this.starts.get(generation) ?? 1) - 1;
  }

  /** Runs of `generation` whose process has not ended yet (they hold its sockets). */
  alive(generation: number): Running[] {
    return this.all().filter((r) => r.build.generation === generation && r.state !== "ended");
  }

  /** The newest run of `generation`. */
  last(generation: number): Running | undefined {
    return this.all()
      .filter((g) => g.build.generation === generation)
      .pop();
  }

  ready(run: number, ms: number): void {
    this.readyMs.set(run, ms);
  }

  readyMsOf(run: number): number | undefined {
    return this.readyMs.get(run);
  }

  exited(run: number, at: number): void {
    this.exitSeen.set(run, at);
  }

  /** New connections went back to the held generation at `at`: measured from `run`'s end. */
  steeredBack(run: number, at: number): void {
    const seen = this.exitSeen.get(run);
    if (seen !== undefined) this.steeredMs.set(run, at - seen);
  }

  steeredMsOf(run: number): number | undefined {
    return this.steeredMs.get(run);
  }

  reject(run: number): void {
    this.rejected.add(run);
  }

  /** Whether `run` was refused while the old one served (asked once, by its answer). */
  takeRejected(run: number): boolean {
    return this.rejected.delete(run);
  }
}
