/**
 * Runs the state machine (machine.ts): events go in one at a time, in the order they came, each
 * step's effects are handed to `perform` before the next event is taken, so an event an effect
 * raises (a start that fails at once) is decided after the step that caused it. It owns the
 * machine's state and its two timers (bake, backoff), which fire as events.
 */
import type { ProcessHost, TimerHandle } from "./host.js";
import {
  type Effect,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineState,
  step,
} from "./machine.js";

type TimerName = "bake" | "backoff";

export class MachineDriver {
  private current: MachineState = initialState();
  private readonly inbox: MachineEvent[] = [];
  private stepping = false;
  private readonly timers = new Map<TimerName, TimerHandle>();
  /** Set once, by the effect interpreter. */
  perform: (fx: Effect) => void = () => {};

  constructor(
    private readonly config: MachineConfig,
    private readonly host: ProcessHost,
  ) {}

  get state(): MachineState {
    return this.current;
  }

  dispatch(e: MachineEvent): void {
    this.inbox.push(e);
    if (this.stepping) return;
    this.stepping = true;
    try {
      for (let next = this.inbox.shift(); next; next = this.inbox.shift()) {
        const r = step(this.current, next, this.config);
        this.current = r.state;
        for (const fx of r.effects) this.perform(fx);
      }
    } finally {
      this.stepping = false;
    }
  }

  /** `e` after `ms` on the host's clock, replacing the timer of the same name. */
  later(name: TimerName, ms: number, e: MachineEvent): void {
    this.timers.get(name)?.cancel();
    this.timers.set(
      name,
      this.host.after(ms, () => {
        this.timers.delete(name);
        this.dispatch(e);
      }),
    );
  }

  cancelTimers(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }
}
