/**
 * What `dev` and `run` supervise with: their shared flags (cli/superviseFlags.ts declares them)
 * resolved over the config file's [supervise]/[run] keys of the same names. Flags win.
 */
import { usageError } from "../errors.js";
import type { ResolvedConfig } from "./configTypes.js";
import { parseDuration } from "./duration.js";
import {
  type ProbeSpec,
  type ProbeTiming,
  parseProbeSpec,
  probeSpecError,
  probeTimingDefaults,
} from "./probeSpec.js";

export interface SuperviseFlags {
  listen?: string[];
  probe?: string;
  env?: string[];
  readyTimeout?: string;
  drain?: string;
  jsonEvents?: boolean;
  bake?: string;
  bakeHoldOld?: boolean;
  liveness?: string;
  watchdog?: string;
  capture?: string;
}

export interface ResolvedSupervise {
  listen: string[];
  probe: ProbeSpec;
  timing: ProbeTiming;
  env: Record<string, string>;
  readyTimeoutMs: number;
  drainMs: number;
  /** Probation after a switch (0: off): 60 s in run, off in dev, unless set. */
  bakeMs: number;
  bakeHoldOld: boolean;
  liveness: { spec: ProbeSpec; timing: ProbeTiming } | null;
  /** systemd's WATCHDOG_USEC for the service, and the silence that makes it hung (0: off). */
  watchdogMs: number;
  /** --capture as given (capture/mode.ts parses it where the supervisor starts). */
  capture?: string;
}

/** run's bake: long enough for the first real requests after a switch (issue 18). */
export const RUN_BAKE_MS = 60_000;

function duration(flag: string, v: string): number {
  const ms = parseDuration(v);
  if (ms instanceof Error)
    throw usageError(`${flag} ${JSON.stringify(v)}: ${ms.message} (e.g. 500ms, 30s, 2m)`);
  return ms;
}

export function resolveSuperviseFlags(
  f: SuperviseFlags,
  mode: "dev" | "run",
  config?: ResolvedConfig,
): ResolvedSupervise {
  const env: Record<string, string> = { ...(config?.run.env ?? {}) };
  for (const kv of f.env ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw usageError(`--env ${JSON.stringify(kv)}: expected NAME=VALUE`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return {
    listen: f.listen ?? config?.supervise.listen ?? [],
    probe: parseProbeSpec(f.probe ?? config?.supervise.probe ?? "alive:1s"),
    timing: probeTimingDefaults(mode),
    env,
    readyTimeoutMs: f.readyTimeout
      ? duration("--ready-timeout", f.readyTimeout)
      : (config?.supervise.readyTimeoutMs ?? 60_000),
    drainMs: f.drain ? duration("--drain", f.drain) : (config?.supervise.drainMs ?? 30_000),
    bakeMs: f.bake
      ? duration("--bake", f.bake)
      : (config?.supervise.bakeMs ?? (mode === "run" ? RUN_BAKE_MS : 0)),
    bakeHoldOld: f.bakeHoldOld ?? config?.supervise.bakeHoldOld ?? false,
    liveness: resolveLiveness(f.liveness, config),
    watchdogMs: f.watchdog ? duration("--watchdog", f.watchdog) : (config?.supervise.watchdogMs ?? 0),
    ...(f.capture ? { capture: f.capture } : {}),
  };
}

function resolveLiveness(flag: string | undefined, config?: ResolvedConfig): ResolvedSupervise["liveness"] {
  const c = config?.supervise.liveness;
  const text = flag ?? c?.probe;
  if (!text) return null;
  const spec = parseProbeSpec(text);
  if (spec.kind === "log" || spec.kind === "alive" || spec.kind === "notify")
    throw probeSpecError(
      text,
      "liveness repeats a probe while the generation serves: use http://, tcp: or exec: (the notify watchdog is WATCHDOG_USEC)",
    );
  return {
    spec,
    timing: {
      initialDelaySeconds: (c?.initialDelayMs ?? 0) / 1000,
      periodSeconds: (c?.periodMs ?? 10_000) / 1000,
      timeoutSeconds: (c?.timeoutMs ?? 1000) / 1000,
      successThreshold: 1,
      failureThreshold: c?.failureThreshold ?? 3,
    },
  };
}
