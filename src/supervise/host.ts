/**
 * Every call the launchers and the supervisor make to the outside world: starting processes,
 * signals, the clock and timers, /proc (descendant tracking) and free ports. One small struct, as
 * tableflip's env.go: production passes `systemHost`, the supervisor's unit tests a fake whose
 * processes and clock they drive in milliseconds.
 */
import type { Child } from "../util/child.js";
import { type DescendantTracker, trackDescendants } from "./descendants.js";
import { type LaunchOptions, launchService } from "./launch.js";
import { type NotifySocket, openNotifySocket } from "./notify.js";
import { type PinnedProgram, type PinOptions, pinProgram } from "./pinnedProgram.js";
import { freePort } from "./probe.js";

export type TimerHandle = { cancel(): void };

export interface ProcessHost {
  /** Start a Go program under crash capture (launch.ts: RLIMIT_CORE, LISTEN_PID, PDEATHSIG). */
  launch(o: LaunchOptions): Child;
  /** Hold the program file that is checked and started (pinnedProgram.ts). */
  pin(path: string, o: PinOptions): Promise<PinnedProgram>;
  /** Follow the process tree under `pid` through /proc (null where a fake has no tree). */
  track(pid: number, opts: Parameters<typeof trackDescendants>[1]): DescendantTracker | null;
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Run `fn` once after `ms`. */
  after(ms: number, fn: () => void): TimerHandle;
  /** A free port on 127.0.0.1 for {port}. */
  freePort(): Promise<number>;
  /** A NOTIFY_SOCKET (systemd's notify protocol) named `name` in `dir`. */
  notifySocket(dir: string, name: string): NotifySocket;
}

export const systemHost: ProcessHost = {
  launch: launchService,
  pin: pinProgram,
  track: (pid, opts) => trackDescendants(pid, opts),
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
  freePort,
  notifySocket: openNotifySocket,
};
