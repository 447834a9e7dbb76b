/**
 * Liveness (issue 18, hangs): while a generation serves, the same probe kinds as readiness
 * (http, tcp, exec) are repeated with Kubernetes' liveness timing and meaning: the first attempt
 * after initialDelaySeconds, one every periodSeconds, each failing past timeoutSeconds, and
 * failureThreshold consecutive failures make the generation hung (defaults: 10 s, 1 s, 3, the
 * kubelet's own; kubernetes/pkg/apis/core/v1/defaults.go). Timers come from the ProcessHost, so the
 * supervisor's unit tests drive it with their clock.
 */
import type { ProbeSpec, ProbeTiming } from "../config/probeSpec.js";
import type { ProcessHost, TimerHandle } from "./host.js";
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

export function watchLiveness(o: {
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
