/**
 * `hotdump dev`: the watch → build → run loop. With --listen it starts in two stages like `run`
 * (sockets.ts), so requests made during a rebuild wait in the kernel's backlog and are served by
 * the new generation instead of failing.
 */
import { createInterface } from "node:readline";
import type { Command } from "commander";
import {
  buildAhead,
  createGoBuilder,
  formatDiagnostic,
  startPlanPath,
  writeStartPlan,
} from "../build/index.js";
import { configFiles, loadConfig } from "../config/index.js";
import { HotdumpError } from "../errors.js";
import { startFleetOutbox } from "../fleet/hook.js";
import {
  announceListening,
  handOffIfListening,
  openSupervisorStore,
  supervisorFlagOptions,
} from "../supervise/start.js";
import type { UiServer } from "../ui/index.js";
import { signalNumber } from "../util/child.js";
import { redactingLogger, redactOptions, redactorFor } from "../util/redactor.js";
import { type CommonOptions, loggerFor } from "./common.js";
import { takeEarlyBuild } from "./earlyBuild.js";
import { createGenerationFolds } from "./fold.js";
import { crashSummaryLines } from "./summary.js";
import { addSuperviseFlags, resolveSuperviseFlags, type SuperviseFlags } from "./superviseFlags.js";
import { uiTokenFrom, uiTokenOptions } from "./uiTokenFlags.js";

interface DevOptions extends CommonOptions, SuperviseFlags {
  metrics?: string;
  config?: string;
  package?: string;
  redact?: boolean;
  ui?: boolean;
  token?: string;
  tokenFile?: string;
}

/** How long a graceful stop may take after SIGTERM/SIGINT before dev exits anyway. */
const STOP_DEADLINE_MS = 15_000;

export function registerDev(program: Command): void {
  const cmd = addSuperviseFlags(
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
      .option(
        "--redact",
        "mask passwords, keys, tokens and secret env values in everything hotdump writes (not in cores)",
      )
      .option("--ui", "also serve the dashboard on 127.0.0.1 (its URL carries the token)"),
  ).passThroughOptions();
  uiTokenOptions(cmd).action(async (args: string[], opts: DevOptions, c: Command) => {
    const uiToken = opts.ui ? uiTokenFrom(opts) : undefined;
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
    // --redact: hotdump's own lines, events and the dashboard's live log; the service's output on
    // the terminal is its own.
    const redactor = redactorFor(redactOptions(opts.redact, { ...process.env, ...sup.env }));
    const logger = redactingLogger(loggerFor(c, opts.jsonEvents ? process.stderr : process.stdout), redactor);
    for (const w of config.warnings) logger.warn(`${w.where}: ${w.message}`);
    const store = openSupervisorStore(config.store.dir, logger, Boolean(opts.jsonEvents), redactor);
    const { layout, journal, sink } = store;
    // The first build starts now, seeded with the last stored binary (unchanged sources: no link);
    // the supervisor, the watcher and the capture and analysis modules (about half of what dev
    // loads) load while go build runs.
    // When the last session here wrote down the same first build, main.ts has started it already
    // (earlyBuild.ts) and it is taken over; the next session's head start is written down now and
    // again at the end, with the last stored binary as its seed.
    const goBuilder = createGoBuilder({ cwd: config.root, config: config.build, storeDir: layout.root });
    const planPath = startPlanPath(process.cwd(), process.argv.slice(2));
    const planInputs = configFiles({
      cwd: process.cwd(),
      ...(opts.config ? { configPath: opts.config } : {}),
    });
    const lastBinary = () => journal.generations().at(-1)?.binary || undefined;
    const seed = lastBinary();
    const early = takeEarlyBuild(goBuilder.plan);
    if (early.status === "taken")
      logger.debug("first build: go build was started before the config was read (the last session's plan)");
    else if (early.status === "different")
      logger.debug(
        "first build: the last session's plan differs from this config: stopped it, building anew",
      );
    const builder = buildAhead(goBuilder, seed, early.status === "taken" ? early.build : undefined);
    void writeStartPlan(planPath, goBuilder.plan, planInputs, seed);
    const [{ createDevSession }, { createSupervisor }] = await Promise.all([
      import("../supervise/devSession.js"),
      import("../supervise/supervisor.js"),
    ]);
    const outbox = await startFleetOutbox(layout.root, logger, config.fleet);
    // prom-client loads only with --metrics.
    if (opts.metrics)
      await (await import("../supervise/metrics.js")).startMetrics(opts.metrics, {
        ...store,
        backlog: outbox ? () => outbox.backlog() : null,
      });
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
        ui?.appLine(g, stream, redactor.text(line));
        const shown = stream === "stderr" ? folds.line(g, line) : line;
        if (shown !== null)
          for (const l of shown.split("\n")) logger.line("app", l, stream === "stderr" ? "stderr" : "stdout");
      },
      onCrash: (g, captured) => {
        const folded = folds.flush(g);
        if (folded) logger.line("app", folded, "stderr");
        for (const l of crashSummaryLines(captured, { cwd: process.cwd(), generation: g })) logger.info(l);
      },
    });
    let onFatal: (e: HotdumpError) => void = () => {};
    const session = createDevSession({
      onFatal: (e) => onFatal(e),
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
      ui = await createUiServer({
        storeDir: layout.root,
        ...(uiToken !== undefined ? { token: uiToken } : {}),
        redact: Boolean(opts.redact),
      });
      logger.info(`dashboard: ${ui.url}`);
    }
    // Listen before anything starts: a signal during the watcher's first scan stops us gracefully,
    // and so does a watch error that leaves dev blind (EACCES, the inotify limit): then exit 1.
    // SIGTERM always ends dev (it once ignored it while scanning root = "/", growing to 989 MB):
    // the graceful stop has a deadline, and a second signal ends it at once.
    const stopRequested = new Promise<HotdumpError | null>((resolve) => {
      const onSignal = (sig: NodeJS.Signals) => {
        resolve(null);
        process.once(sig, () => process.exit(128 + (signalNumber(sig) ?? 15)));
        setTimeout(() => process.exit(128 + (signalNumber(sig) ?? 15)), STOP_DEADLINE_MS).unref();
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      onFatal = (e) => resolve(e);
    });
    const fatal = await Promise.race([
      session.start().then(
        () => stopRequested,
        (e: unknown) => (e instanceof HotdumpError ? e : Promise.reject(e)),
      ),
      stopRequested,
    ]);
    // `r` + Enter forces a rebuild, as in the tools people already know.
    const rl = process.stdin.isTTY && !fatal ? createInterface({ input: process.stdin }) : undefined;
    rl?.on("line", (l) => {
      if (l.trim() === "r") session.rebuild();
    });
    if (!fatal) await stopRequested;
    logger.info(fatal ? "stopping: the watcher failed" : "stopping");
    rl?.close();
    await session.stop();
    await ui?.close();
    await writeStartPlan(planPath, goBuilder.plan, planInputs, lastBinary());
    journal.close();
    if (fatal) throw fatal;
    process.exitCode = 0;
  });
}
