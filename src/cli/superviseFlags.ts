/**
 * The flags `dev` and `run` share (the command-line contract): --listen (repeatable),
 * --probe, --liveness, --watchdog, --bake, --bake-hold-old, --env NAME=VALUE (repeatable, {port} allowed),
 * --ready-timeout, --drain, --json-events.
 * config/supervise.ts resolves them over the config file.
 */
import type { Command } from "commander";

export { type ResolvedSupervise, resolveSuperviseFlags, type SuperviseFlags } from "../config/index.js";

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
      "readiness: http://HOST:{port}/PATH, tcp:HOST:PORT, exec:COMMAND, log:REGEX, alive:DURATION or notify (sd_notify READY=1)",
    )
    .option(
      "--liveness <spec>",
      "while a generation serves, probe it (http://, tcp:, exec:) every 10s; 3 failures in a row: capture it as hung, restart or roll back",
    )
    .option(
      "--watchdog <duration>",
      "systemd watchdog: the service gets WATCHDOG_USEC and NOTIFY_SOCKET; no WATCHDOG=1 within it: capture it as hung, restart or roll back",
    )
    .option(
      "--bake <duration>",
      "after a switch, a crash or liveness failure within this time rolls back to the last good build (default 60s in run, 0s (off) in dev)",
    )
    .option(
      "--bake-hold-old",
      "keep the old generation up, receiving nothing, through the bake: rolling back is then a steering change",
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
    .option("--json-events", "print every event as one JSON object per line on stdout")
    .option(
      "--capture <mode>",
      "how crash cores reach hotdump: kernel, handler (doctor --fix), tracer (containers) or auto (default)",
    )
    .option(
      "--metrics <addr>",
      "serve Prometheus metrics on HOST:PORT/metrics (generations, switches, rollbacks, crashes by kind, upload backlog)",
    );
}
