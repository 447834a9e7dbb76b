/**
 * `hotdump run`: the production supervisor. With --listen it starts in two stages (sockets.ts):
 * the first binds and hands the sockets over as plain fds, so no hotdump process ever accepts a
 * connection on them; this command then runs again as the second stage.
 */
import type { Command } from "commander";
import { loadConfig, parseDuration, parseSize } from "../config/index.js";
import { usageError } from "../errors.js";
import { startFleetOutbox } from "../fleet/hook.js";
import { storeLayout } from "../store/index.js";
import { refuseIfRunning, sendControl } from "../supervise/control.js";
import { runService } from "../supervise/runService.js";
import { redactingLogger, redactOptions, redactorFor } from "../util/redactor.js";
import { type CommonOptions, loggerFor, storeDirFrom, storeOption } from "./common.js";
import { createGenerationFolds } from "./fold.js";
import { crashSummaryLines } from "./summary.js";
import { addSuperviseFlags, resolveSuperviseFlags, type SuperviseFlags } from "./superviseFlags.js";
import { uiTokenFrom, uiTokenOptions } from "./uiTokenFlags.js";

interface RunOptions extends CommonOptions, SuperviseFlags {
  metrics?: string;
  config?: string;
  ui?: boolean;
  token?: string;
  tokenFile?: string;
  sha256?: string;
  allowStripped?: boolean;
  watchBinary?: boolean;
  redact?: boolean;
  maxUse?: string;
  captureDeadline?: string;
}

export function registerRun(program: Command): void {
  const cmd = addSuperviseFlags(
    storeOption(
      program
        .command("run")
        .description(
          "supervise a Go service in production: hold its sockets, switch only to a healthy generation, roll back a bad one",
        )
        .usage("[options] [--listen ADDR] -- BINARY|SCRIPT [ARGS...]")
        .addHelpText(
          "after",
          "\nWithout --listen (for a service that cannot take its socket as fd 3): supervision and crash\ncapture only; a reload stops the old generation before the new one starts, so it is not\nzero-downtime.",
        )
        .argument(
          "[binary...]",
          "the service binary and its arguments (after --); or a script or sh -c that starts it",
        ),
    ),
  )
    .option(
      "--sha256 <hex>",
      "refuse a binary (or script) whose SHA-256 differs (default: BINARY.sha256 beside it, if present)",
    )
    .option("--allow-stripped", "no warning for a binary without DWARF (its reports come from the traceback)")
    .option("--watch-binary", "reload when the binary (or script) file changes")
    .option(
      "--redact",
      "mask passwords, keys, tokens and secret env values in everything hotdump writes (not in cores)",
    )
    .option("-c, --config <file>", "read [supervise] and [run] settings from this file (flags win)")
    .option("--ui", "also serve the dashboard on 127.0.0.1 (its URL carries the token)")
    .option("--max-use <size>", "the store's size budget (default: 10% of the file system, at most 4 GiB)")
    .option(
      "--capture-deadline <duration>",
      "how long after a crash its capture may take, queue included; past it the report comes from the traceback (default 120s)",
    )
    .passThroughOptions();
  uiTokenOptions(cmd);
  cmd.action(async (argv: string[], opts: RunOptions, c: Command) => {
    const uiToken = opts.ui ? uiTokenFrom(opts) : undefined;
    const [binary, ...args] = argv;
    if (!binary) throw usageError("missing binary: hotdump run --listen :8080 -- ./service [args]");
    const config = opts.config ? loadConfig({ cwd: process.cwd(), configPath: opts.config }) : undefined;
    const sup = resolveSuperviseFlags(opts, "run", config);
    const maxUse = opts.maxUse === undefined ? null : parseSize(opts.maxUse);
    if (maxUse instanceof Error)
      throw usageError(`--max-use ${JSON.stringify(opts.maxUse)}: ${maxUse.message}`);
    const captureDeadlineMs =
      opts.captureDeadline === undefined ? undefined : parseDuration(opts.captureDeadline);
    if (captureDeadlineMs instanceof Error)
      throw usageError(
        `--capture-deadline ${JSON.stringify(opts.captureDeadline)}: ${captureDeadlineMs.message}`,
      );
    // Refused before anything binds its --listen port (the second run took the port, then refused).
    await refuseIfRunning(storeLayout(storeDirFrom(opts)));
    // --redact: hotdump's own lines, events and the dashboard's live log; the service's output on
    // the terminal is its own.
    const redactor = redactorFor(redactOptions(opts.redact, { ...process.env, ...sup.env }));
    const logger = redactingLogger(loggerFor(c), redactor);
    // As in `dev`: the other goroutines of a crash dump are folded in the terminal (the bundle's
    // stderr.txt keeps them all, and --verbose shows them).
    const folds = createGenerationFolds(Boolean((c.optsWithGlobals() as CommonOptions).verbose));
    const endFold = (g: number) => {
      const folded = folds.flush(g);
      if (folded) process.stderr.write(`${folded}\n`);
    };
    await runService({
      binary,
      args,
      sup,
      storeDir: storeDirFrom(opts),
      logger,
      jsonEvents: Boolean(opts.jsonEvents),
      ...(opts.sha256 ? { sha256: opts.sha256 } : {}),
      allowStripped: Boolean(opts.allowStripped),
      watchBinary: Boolean(opts.watchBinary),
      redact: Boolean(opts.redact),
      redactor,
      maxUse,
      ...(captureDeadlineMs === undefined ? {} : { captureDeadlineMs }),
      ...(opts.ui
        ? {
            ui: async (storeDir: string) => {
              const ui = await (await import("../ui/index.js")).createUiServer({
                storeDir,
                logger,
                ...(uiToken !== undefined ? { token: uiToken } : {}),
                redact: Boolean(opts.redact),
              });
              return {
                url: ui.url,
                appLine: (g: number, stream: "stdout" | "stderr", line: string) =>
                  ui.appLine(g, stream, redactor.text(line)),
                close: () => ui.close(),
              };
            },
          }
        : {}),
      // A restart runs the same generation again before the crash's capture is done: end the
      // fold of the process that died before the new one's output starts.
      // The fleet's outbox and --metrics, on the store the supervisor opened.
      onStore: async (store) => {
        const outbox = await startFleetOutbox(store.layout.root, logger, config?.fleet);
        // prom-client loads only with --metrics.
        if (opts.metrics)
          await (await import("../supervise/metrics.js")).startMetrics(opts.metrics, {
            ...store,
            backlog: outbox ? () => outbox.backlog() : null,
          });
      },
      onEvent: (e) => {
        if (e.event === "started" && typeof e.generation === "number") endFold(e.generation);
      },
      onOutput: (g, stream, line) => {
        const shown = stream === "stderr" ? folds.line(g, line) : line;
        if (shown === null) return;
        (stream === "stderr" || opts.jsonEvents ? process.stderr : process.stdout).write(`${shown}\n`);
      },
      onCrash: (g, captured) => {
        endFold(g);
        for (const l of crashSummaryLines(captured, { cwd: process.cwd(), generation: g })) logger.info(l);
      },
    });
  });

  storeOption(
    program
      .command("reload")
      .description("reload the supervisor running on this store; waits for the switch or the rollback"),
  )
    .option("--json", "print the result as JSON")
    .action(async (opts: CommonOptions) => {
      const r = await sendControl(storeLayout(storeDirFrom(opts)), { cmd: "reload" });
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else if (r.ok) process.stdout.write(`generation ${r.generation} is serving\n`);
      else
        process.stdout.write(
          `reload failed: ${r.reason ?? r.error}${r.crashId ? ` (crash ${r.crashId})` : ""}; the previous generation keeps serving\n`,
        );
      process.exitCode = r.ok ? 0 : 1;
    });
}
