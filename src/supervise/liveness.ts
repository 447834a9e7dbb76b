/**
 * Liveness (issue 18, hangs): while a generation serves, the same probe kinds as readiness
 * (http, tcp, exec) are repeated with Kubernetes' liveness timing and meaning: the first attempt
 * after initialDelaySeconds, one every periodSeconds, each failing past timeoutSeconds, and
 * failureThreshold consecutive failures make the generation hung (defaults: 10 s, 1 s, 3, the
 * kubelet's own; kubernetes/pkg/apis/core/v1/defaults.go). Timers come from the ProcessHost, so the
 * supervisor's unit tests drive it with their clock.
 */
import type { ProbeSpec, ProbeTiming } from "../config/index.js";
import type { ProcessHost, TimerHandle } from "./host.js";
import type { NotifySocket } from "./notify.js";
import { probeOnce, type WaitReadyOptions } from "./probe.js";

export const LIVENESS_DEFAULTS: ProbeTiming = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
};

export interface LivenessWatch {
  stop(): void;
}

function watchLiveness(o: {
  spec: ProbeSpec;
  timing: ProbeTiming;
  host: ProcessHost;
  target: Pick<WaitReadyOptions, "port" | "env" | "localPortFor">;
  /** failureThreshold failures in a row: called once, then the watch stops. */
  onFail: (reason: string) => void;
}): LivenessWatch {
  let timer: TimerHandle | undefined;
  let stopped = false;
  let failures = 0;
  const ctl = new AbortController();
  const t = o.timing;
  const tick = async () => {
    if (stopped) return;
    const r = await probeOnce(o.spec, o.target, t.timeoutSeconds * 1000, ctl.signal);
    if (stopped) return;
    if (r.pass) failures = 0;
    else if (++failures >= t.failureThreshold) {
      stopped = true;
      o.onFail(`${failures} liveness probe failures in a row, ${t.periodSeconds} s apart (last: ${r.why})`);
      return;
    }
    timer = o.host.after(t.periodSeconds * 1000, () => void tick());
  };
  timer = o.host.after(Math.max(t.initialDelaySeconds, t.periodSeconds) * 1000, () => void tick());
  return {
    stop() {
      stopped = true;
      timer?.cancel();
      ctl.abort();
    },
  };
}

/**
 * systemd's watchdog: with WATCHDOG_USEC set, the service sends WATCHDOG=1 at least that often
 * (go-systemd's SdWatchdogEnabled gives it the interval; the usual ping is every half of it). A
 * silence longer than the interval, or WATCHDOG=trigger, makes it hung; WATCHDOG_USEC=N in a
 * message changes the interval (sd_notify(3)).
 */
function watchWatchdog(o: {
  host: ProcessHost;
  intervalMs: number;
  notify: Pick<NotifySocket, "on">;
  onFail: (reason: string) => void;
}): LivenessWatch {
  let interval = o.intervalMs;
  let timer: TimerHandle | undefined;
  let last = o.host.now();
  let stopped = false;
  const fail = (reason: string) => {
    if (stopped) return;
    stop();
    o.onFail(reason);
  };
  const arm = () => {
    timer?.cancel();
    timer = o.host.after(interval, () =>
      fail(
        `missed the watchdog: no WATCHDOG=1 for ${Math.round(o.host.now() - last)} ms (WATCHDOG_USEC=${interval * 1000})`,
      ),
    );
  };
  const off = o.notify.on((m) => {
    const usec = Number(m.get("WATCHDOG_USEC"));
    if (Number.isFinite(usec) && usec > 0) interval = usec / 1000;
    const w = m.get("WATCHDOG");
    if (w === "trigger") return fail("the service asked for it (WATCHDOG=trigger)");
    if (w === "1" || m.has("WATCHDOG_USEC")) {
      last = o.host.now();
      arm();
    }
  });
  const stop = () => {
    stopped = true;
    timer?.cancel();
    off();
  };
  arm();
  return { stop };
}

/**
 * What watches a serving generation: liveness probes, the notify watchdog, or both; the first to
 * fail stops the others and says why, once. Null when neither is configured.
 */
export function watchServing(o: {
  host: ProcessHost;
  liveness?: { spec: ProbeSpec; timing: ProbeTiming };
  watchdog?: { intervalMs: number; notify: Pick<NotifySocket, "on"> };
  target: Pick<WaitReadyOptions, "port" | "env" | "localPortFor">;
  onFail: (reason: string) => void;
}): LivenessWatch | null {
  const watches: LivenessWatch[] = [];
  const stop = () => {
    for (const w of watches) w.stop();
  };
  const onFail = (reason: string) => {
    stop();
    o.onFail(reason);
  };
  if (o.liveness) watches.push(watchLiveness({ ...o.liveness, host: o.host, target: o.target, onFail }));
  if (o.watchdog) watches.push(watchWatchdog({ host: o.host, ...o.watchdog, onFail }));
  return watches.length ? { stop } : null;
}
