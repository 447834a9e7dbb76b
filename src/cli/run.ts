/**
 * `hotdump run`: the production supervisor. With --listen it starts in two stages (sockets.ts):
 * the first binds and hands the sockets over as plain fds, so no hotdump process ever accepts a
 * connection on them; this command then runs again as the second stage.
 */
import { watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { Command } from "commander";
import { loadConfig, parseDuration, parseSize } from "../config/index.js";
import { HotdumpError, usageError } from "../errors.js";
import { archiveBinary, sha256File, storeLayout } from "../store/index.js";
import { sendControl, serveControl } from "../supervise/control.js";
import { createEventSink } from "../supervise/events.js";
import { checksumMismatch, expectedSha256, preflightBinary } from "../supervise/preflight.js";
import { handOffIfListening, openSupervisorStore, supervisorFlagOptions } from "../supervise/start.js";
import { type Build, createSupervisor, type DeployResult } from "../supervise/supervisor.js";
import type { UiServer } from "../ui/index.js";
import { type CommonOptions, loggerFor, storeDirFrom, storeOption } from "./common.js";
import { crashSummaryLines } from "./summary.js";
import { addSuperviseFlags, resolveSuperviseFlags, type SuperviseFlags } from "./superviseFlags.js";

interface RunOptions extends CommonOptions, SuperviseFlags {
  config?: string;
  ui?: boolean;
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
        .usage("[options] [--listen ADDR] -- BINARY [ARGS...]")
        .addHelpText(
          "after",
          "\nWithout --listen (for a service that cannot take its socket as fd 3): supervision and crash\ncapture only; a reload stops the old generation before the new one starts, so it is not\nzero-downtime.",
        )
        .argument("[binary...]", "the service binary and its arguments (after --)"),
    ),
  )
    .option(
      "--sha256 <hex>",
      "refuse a binary whose SHA-256 differs (default: BINARY.sha256 beside it, if present)",
    )
    .option("--allow-stripped", "start a binary without DWARF even though its crashes could not be analysed")
    .option("--watch-binary", "reload when the binary file changes")
    .option("--redact", "mask secret-looking values in crash reports")
    .option("-c, --config <file>", "read [supervise] and [run] settings from this file (flags win)")
    .option("--ui", "also serve the dashboard on 127.0.0.1")
    .option("--max-use <size>", "the store's size budget (default: 10% of the file system, at most 4 GiB)")
    .option(
      "--capture-deadline <duration>",
      "how long after a crash its capture may take, queue included; past it the report comes from the traceback (default 120s)",
    )
    .passThroughOptions();
  cmd.action(async (argv: string[], opts: RunOptions, c: Command) => {
    const [binaryArg, ...args] = argv;
    if (!binaryArg) throw usageError("missing binary: hotdump run --listen :8080 -- ./service [args]");
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
    const inherited = await handOffIfListening(sup.listen);
    if (!inherited) return;
    const logger = loggerFor(c);
    const { layout, journal } = openSupervisorStore(storeDirFrom(opts), logger);
    let ui: UiServer | undefined;
    const sink = createEventSink({ journal, ndjson: opts.jsonEvents ? process.stdout : null });
    const binaryPath = resolve(binaryArg);
    const supervisor = createSupervisor({
      mode: "run",
      layout,
      journal,
      logger,
      emit: (e) => sink.emit(e),
      cwd: process.cwd(),
      args,
      ...supervisorFlagOptions(sup, inherited),
      stopTimeoutMs: sup.drainMs,
      redact: Boolean(opts.redact),
      budget: { maxUse },
      ...(captureDeadlineMs === undefined ? {} : { captureDeadlineMs }),
      onOutput: (g, stream, line) => {
        ui?.appLine(g, stream, line);
        (stream === "stderr" ? process.stderr : opts.jsonEvents ? process.stderr : process.stdout).write(
          `${line}\n`,
        );
      },
      onCrash: (g, captured) => {
        for (const l of crashSummaryLines(captured, { cwd: process.cwd(), generation: g })) logger.info(l);
      },
    });

    /** Copy, check and start the binary as a new generation. */
    const reload = async (
      first = false,
    ): Promise<DeployResult | { ok: false; reason: string; code: string }> => {
      try {
        const want = expectedSha256(binaryPath, opts.sha256);
        const identity = await preflightBinary(binaryPath, { allowStripped: Boolean(opts.allowStripped) });
        // Hashed again from the stored copy's bytes: what was checked is exactly what will run.
        const stored = await archiveBinary(layout, binaryPath).catch(async (e) => {
          // A full store must not keep the service down: start it from its own path (its crashes
          // are analysed against that file, right while nobody replaces it).
          if (!(e instanceof HotdumpError) || e.code !== "E_STORE_WRITE") throw e;
          logger.warn(`${e.shortMessage}; starting ${binaryPath} from its own path`);
          return { sha256: await sha256File(binaryPath), path: binaryPath };
        });
        if (want && stored.sha256 !== want) throw checksumMismatch(binaryPath, want, stored.sha256);
        const g = journal.newGeneration({
          sha256: stored.sha256,
          binary: stored.path,
          goBuildId: identity.goBuildId,
          gnuBuildId: identity.gnuBuildId,
          changed: [],
          buildMs: null,
          source: "run",
        });
        const build: Build = { generation: g.n, binary: stored.path, sha256: stored.sha256, identity };
        const r = await supervisor.deploy(build);
        if (r.ok)
          logger.info(
            `generation ${r.generation} is serving (pid ${r.pid}, ready in ${Math.round(r.readyMs)} ms)`,
          );
        else logger.warn(`generation ${r.generation} rolled back: ${r.reason}`);
        return r;
      } catch (e) {
        if (!(e instanceof HotdumpError)) throw e;
        // The first binary refused (missing, stripped, not Go, wrong checksum): nothing serves and
        // nothing would until someone reloads, so say it and exit non-zero rather than wait forever.
        if (first) throw e;
        logger.error(e.shortMessage);
        sink.emit({ event: "rollback", reason: e.shortMessage, code: e.code });
        return { ok: false, reason: e.shortMessage, code: e.code };
      }
    };

    const control = await serveControl(layout, async (req) => {
      if (req.cmd === "reload") return { ...(await reload()) };
      return { ok: true, current: supervisor.current };
    });
    ui = opts.ui
      ? await (await import("../ui/index.js")).createUiServer({ storeDir: layout.root, logger })
      : undefined;
    if (ui) logger.info(`dashboard: ${ui.url}`);
    try {
      const first = await reload(true);
      if (!first.ok && supervisor.current === null)
        logger.warn("no generation is serving; waiting for a reload (hotdump reload or SIGHUP)");
    } catch (e) {
      await supervisor.stop();
      await ui?.close();
      control.close();
      journal.close();
      if (e instanceof HotdumpError)
        throw new HotdumpError("supervise", e.code, `${e.shortMessage}; nothing to serve, not starting`, {
          cause: e,
        });
      throw e;
    }

    const onReloadSignal = () => void reload();
    process.on("SIGHUP", onReloadSignal);
    process.on("SIGUSR2", onReloadSignal);
    let watcher: ReturnType<typeof watch> | undefined;
    if (opts.watchBinary) {
      // The directory, not the file: a deploy renames a new file over the path, and a watch on the
      // file would stay on the old inode after the first one. 300 ms lets a copy finish.
      let t: NodeJS.Timeout | undefined;
      watcher = watch(dirname(binaryPath), (_event, name) => {
        if (name !== basename(binaryPath)) return;
        clearTimeout(t);
        t = setTimeout(onReloadSignal, 300);
      });
    }
    await new Promise<void>((resolveStop) => {
      const stop = (sig: NodeJS.Signals) => {
        logger.info(`${sig}: draining generation ${supervisor.current?.generation ?? "-"} and exiting`);
        resolveStop();
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
    watcher?.close();
    process.off("SIGHUP", onReloadSignal);
    process.off("SIGUSR2", onReloadSignal);
    await supervisor.stop();
    await ui?.close();
    control.close();
    journal.close();
    process.exitCode = 0;
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
