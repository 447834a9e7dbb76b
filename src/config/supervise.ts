/**
 * What `dev` and `run` supervise with: their shared flags (cli/superviseFlags.ts declares them)
 * resolved over the config file's [supervise]/[run] keys of the same names. Flags win.
 */
import { usageError } from "../errors.js";
import { parseDuration } from "./duration.js";
import { type ProbeSpec, type ProbeTiming, parseProbeSpec, probeTimingDefaults } from "./probeSpec.js";
import type { ResolvedConfig } from "./types.js";

export interface SuperviseFlags {
  listen?: string[];
  probe?: string;
  env?: string[];
  readyTimeout?: string;
  drain?: string;
  jsonEvents?: boolean;
  capture?: string;
}

export interface ResolvedSupervise {
  listen: string[];
  probe: ProbeSpec;
  timing: ProbeTiming;
  env: Record<string, string>;
  readyTimeoutMs: number;
  drainMs: number;
  /** --capture as given (capture/mode.ts parses it where the supervisor starts). */
  capture?: string;
}

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
    ...(f.capture ? { capture: f.capture } : {}),
  };
}
