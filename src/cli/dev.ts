/**
 * `hotdump dev`: the watch → build → run loop. With --listen it starts in two stages like `run`
 * (sockets.ts), so requests made during a rebuild wait in the kernel's backlog and are served by
 * the new generation instead of failing.
 */
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { createGoBuilder, formatDiagnostic } from "../build/index.js";
import { loadConfig } from "../config/index.js";
import { startFleetOutbox } from "../fleet/index.js";
import { createDevSession } from "../supervise/dev.js";
import { startMetrics } from "../supervise/metrics.js";
import {
  announceListening,
  handOffIfListening,
  openSupervisorStore,
  supervisorFlagOptions,
} from "../supervise/start.js";
import { createSupervisor } from "../supervise/supervisor.js";
import type { UiServer } from "../ui/index.js";
import { type CommonOptions, loggerFor } from "./common.js";
import { createGenerationFolds } from "./fold.js";
import { crashSummaryLines } from "./summary.js";
import { addSuperviseFlags, resolveSuperviseFlags, type SuperviseFlags } from "./superviseFlags.js";

interface DevOptions extends CommonOptions, SuperviseFlags {
  metrics?: string;
  config?: string;
  package?: string;
  redact?: boolean;
  ui?: boolean;
}

export function registerDev(program: Command): void {
  addSuperviseFlags(
    program
      .command("dev")
      .description(
        "watch, build and run a Go service; every generation on record, every crash captured and explained",
      )
      .usage("[options] [-- ARGS for the service]")
      .argument("[args...]", "arguments for the service (after --)")
      .option("-c, --config <file>", "config file (default: hotdump.toml, else .air.toml, else zero-config)")
      .option(
        "-p, --package <pkg>",
        "the main package to build (default: [build] package, or the module root)",
      )
      .option("--store <dir>", "the crash store (default: [store] dir, or .hotdump)")
      .option("--redact", "mask secret-looking values in crash reports")
      .option("--ui", "also serve the dashboard on 127.0.0.1"),
  )
    .passThroughOptions()
    .action(async (args: string[], opts: DevOptions, c: Command) => {
      const config = loadConfig({
        cwd: process.cwd(),
        ...(opts.config ? { configPath: opts.config } : {}),
        overrides: {
          ...(opts.store ? { store: { dir: opts.store } } : {}),
          ...(opts.package ? { build: { package: opts.package } } : {}),
        },
      });
      const sup = resolveSuperviseFlags(opts, "dev", config);
      const inherited = await handOffIfListening(sup.listen);
      if (!inherited) return;
      // With --json-events stdout carries only NDJSON; the log goes to stderr.
      const logger = loggerFor(c, opts.jsonEvents ? process.stderr : process.stdout);
      for (const w of config.warnings) logger.warn(`${w.where}: ${w.message}`);
      const store = openSupervisorStore(config.store.dir, logger, Boolean(opts.jsonEvents));
      const { layout, journal, sink } = store;
      const outbox = startFleetOutbox(layout.root, logger, config.fleet);
      await startMetrics(opts.metrics, { ...store, backlog: outbox ? () => outbox.backlog() : null });
      let ui: UiServer | undefined;
      // The other goroutines of a crash dump are folded in the terminal (all kept in the bundle).
      const folds = createGenerationFolds(Boolean((c.optsWithGlobals() as CommonOptions).verbose));
      announceListening(inherited, logger, (e) => sink.emit(e));
      const supervisor = createSupervisor({
        ...supervisorFlagOptions("dev", store, sup, inherited, Boolean(opts.redact)),
        cwd: config.run.cwd,
        ...(config.run.command ? { command: config.run.command } : {}),
        args: args.length ? args : config.run.args,
        stopSignal: config.run.stopSignal,
        stopTimeoutMs: sup.listen.length ? sup.drainMs : config.run.stopTimeoutMs,
        budget: { maxUse: config.store.maxUseBytes, keepFree: config.store.keepFreeBytes },
        onOutput: (g, stream, line) => {
          ui?.appLine(g, stream, line);
          const shown = stream === "stderr" ? folds.line(g, line) : line;
          if (shown !== null)
            for (const l of shown.split("\n"))
              logger.line("app", l, stream === "stderr" ? "stderr" : "stdout");
        },
        onCrash: (g, captured) => {
          const folded = folds.flush(g);
          if (folded) logger.line("app", folded, "stderr");
          for (const l of crashSummaryLines(captured, { cwd: process.cwd(), generation: g })) logger.info(l);
        },
      });
      const builder = createGoBuilder({ cwd: config.root, config: config.build, storeDir: layout.root });
      const session = createDevSession({
        config,
        layout,
        journal,
        sink,
        builder,
        supervisor,
        logger,
        onBuildFailed: (r) => {
          if (r.ok) return;
          logger.error(`build failed: ${r.summary}`);
          for (const d of r.diagnostics.slice(1, 10)) logger.line("build", formatDiagnostic(d));
          if (r.diagnostics.length > 10) logger.line("build", `... ${r.diagnostics.length - 10} more`);
        },
      });
      if (opts.ui) {
        const { createUiServer } = await import("../ui/index.js");
        ui = await createUiServer({ storeDir: layout.root });
        logger.info(`dashboard: ${ui.url}`);
      }
      // Listen before anything starts: a signal during the watcher's first scan stops us gracefully.
      const stopRequested = new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      await session.start();
      // `r` + Enter forces a rebuild, as in the tools people already know.
      const rl = process.stdin.isTTY ? createInterface({ input: process.stdin }) : undefined;
      rl?.on("line", (l) => {
        if (l.trim() === "r") session.rebuild();
      });
      await stopRequested;
      logger.info("stopping");
      rl?.close();
      await session.stop();
      await ui?.close();
      journal.close();
      process.exitCode = 0;
    });
}
