/**
 * The flags `dev` and `run` share (the command-line contract): --listen (repeatable),
 * --probe, --env NAME=VALUE (repeatable, {port} allowed), --ready-timeout, --drain, --json-events.
 * Flags win over the config file's [supervise]/[run] keys of the same names.
 */
import type { Command } from "commander";
import { parseDuration } from "../config/index.js";
import type { ResolvedConfig } from "../config/types.js";
import { usageError } from "../errors.js";
import { type ProbeSpec, type ProbeTiming, parseProbeSpec, probeTimingDefaults } from "../supervise/probe.js";

export interface SuperviseFlags {
  listen?: string[];
  probe?: string;
  env?: string[];
  readyTimeout?: string;
  drain?: string;
  jsonEvents?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addSuperviseFlags(cmd: Command): Command {
  return cmd
    .option(
      "--listen <addr>",
      "hold this socket and pass it to every generation (host:port, tcp://, unix:///path); repeatable",
      collect,
    )
    .option(
      "--probe <spec>",
      "readiness: http://HOST:{port}/PATH, tcp:HOST:PORT, exec:COMMAND, log:REGEX or alive:DURATION",
    )
    .option(
      "--env <name=value>",
      "environment for the service ({port} = the generation's own port); repeatable",
      collect,
    )
    .option("--ready-timeout <duration>", "a generation not ready by then is rolled back (default 60s)")
    .option(
      "--drain <duration>",
      "how long an old generation may drain after SIGTERM before SIGKILL (default 30s)",
    )
    .option("--json-events", "print every event as one JSON object per line on stdout");
}

export interface ResolvedSupervise {
  listen: string[];
  probe: ProbeSpec;
  timing: ProbeTiming;
  env: Record<string, string>;
  readyTimeoutMs: number;
  drainMs: number;
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
  };
}
