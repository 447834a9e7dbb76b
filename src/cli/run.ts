/**
 * `hotdump run`: the production supervisor. With --listen it starts in two stages (sockets.ts):
 * the first binds and hands the sockets over as plain fds, so no hotdump process ever accepts a
 * connection on them; this command then runs again as the second stage.
 */
import { existsSync, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { Command } from "commander";
import { loadConfig, parseDuration, parseSize } from "../config/index.js";
import { HotdumpError, usageError } from "../errors.js";
import { startFleetOutbox } from "../fleet/index.js";
import { archiveBinary, sha256File, storeLayout } from "../store/index.js";
import { sendControl, serveControl } from "../supervise/control.js";
import { startMetrics } from "../supervise/metrics.js";
import { checksumMismatch, expectedSha256, preflightStart, type StartKind } from "../supervise/preflight.js";
import { resolveCommand } from "../supervise/resolveCommand.js";
import {
  announceListening,
  handOffIfListening,
  openSupervisorStore,
  supervisorFlagOptions,
} from "../supervise/start.js";
import { type Build, createSupervisor, type DeployResult } from "../supervise/supervisor.js";
import type { UiServer } from "../ui/index.js";
import { type CommonOptions, loggerFor, storeDirFrom, storeOption } from "./common.js";
import { createGenerationFolds } from "./fold.js";
import { crashSummaryLines } from "./summary.js";
import { addSuperviseFlags, resolveSuperviseFlags, type SuperviseFlags } from "./superviseFlags.js";

interface RunOptions extends CommonOptions, SuperviseFlags {
  metrics?: string;
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
    .option("--allow-stripped", "start a binary without DWARF even though its crashes could not be analysed")
    .option("--watch-binary", "reload when the binary (or script) file changes")
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
    const store = openSupervisorStore(storeDirFrom(opts), logger, Boolean(opts.jsonEvents));
    const { layout, journal, sink } = store;
    const outbox = startFleetOutbox(layout.root, logger, config?.fleet);
    await startMetrics(opts.metrics, { ...store, backlog: outbox ? () => outbox.backlog() : null });
    let ui: UiServer | undefined;
    announceListening(inherited, logger, (e) => sink.emit(e));
    // A name without a slash is a file here first (`run -- svc`), else a command on PATH (`sh`).
    let binaryPath = resolve(binaryArg);
    if (!binaryArg.includes("/") && !existsSync(binaryPath))
      try {
        binaryPath = resolveCommand(binaryArg, process.cwd(), process.env.PATH);
      } catch {
        // said by the preflight: "does not exist"
      }
    // As in `dev`: the other goroutines of a crash dump are folded in the terminal (the bundle's
    // stderr.txt keeps them all, and --verbose shows them).
    const folds = createGenerationFolds(Boolean((c.optsWithGlobals() as CommonOptions).verbose));
    const supervisor = createSupervisor({
      ...supervisorFlagOptions("run", store, sup, inherited, Boolean(opts.redact)),
      emit: (e) => {
        // A restart runs the same generation again before the crash's capture is done: end the
        // fold of the process that died before the new one's output starts.
        if (e.event === "started" && typeof e.generation === "number") {
          const folded = folds.flush(e.generation);
          if (folded) process.stderr.write(`${folded}\n`);
        }
        return sink.emit(e);
      },
      cwd: process.cwd(),
      args,
      stopTimeoutMs: sup.drainMs,
      budget: { maxUse },
      ...(captureDeadlineMs === undefined ? {} : { captureDeadlineMs }),
      onOutput: (g, stream, line) => {
        ui?.appLine(g, stream, line);
        const shown = stream === "stderr" ? folds.line(g, line) : line;
        if (shown === null) return;
        (stream === "stderr" ? process.stderr : opts.jsonEvents ? process.stderr : process.stdout).write(
          `${shown}\n`,
        );
      },
      onCrash: (g, captured) => {
        const folded = folds.flush(g);
        if (folded) process.stderr.write(`${folded}\n`);
        for (const l of crashSummaryLines(captured, { cwd: process.cwd(), generation: g })) logger.info(l);
      },
      onProgram: (g, p) => {
        // The generation is this Go program from now on (history, crashes, the UI).
        journal.setGenerationBinary(g, {
          sha256: p.sha256,
          binary: p.archived ?? p.path,
          goBuildId: p.identity?.goBuildId ?? null,
          gnuBuildId: p.identity?.gnuBuildId ?? null,
        });
        sink.emit({
          event: "program",
          generation: g,
          pid: p.pid,
          binary: p.path,
          sha256: p.sha256,
          goBuildId: p.identity?.goBuildId ?? null,
        });
        logger.info(`generation ${g} runs ${p.path} (pid ${p.pid}, sha256 ${p.sha256.slice(0, 12)}…)`);
      },
    });
    let told: StartKind["kind"] | null = null;

    const report = (r: DeployResult): DeployResult => {
      if (r.ok)
        logger.info(
          `generation ${r.generation} is serving (pid ${r.pid}, ready in ${Math.round(r.readyMs)} ms)`,
        );
      else logger.warn(`generation ${r.generation} rolled back: ${r.reason}`);
      return r;
    };

    /** Copy, check and start the binary (or the script) as a new generation. */
    const reload = async (
      first = false,
    ): Promise<DeployResult | { ok: false; reason: string; code: string }> => {
      try {
        const start = await preflightStart(binaryPath, { allowStripped: Boolean(opts.allowStripped) });
        if (start.kind !== "go") {
          if (start.kind === "shell" && (opts.sha256 || opts.watchBinary))
            throw new HotdumpError(
              "supervise",
              "E_RUN_SHELL_FLAG",
              `${opts.sha256 ? "--sha256" : "--watch-binary"} is about the file run starts, here the shell ${binaryPath}: name a script instead (its file is checked and watched), or run the Go binary directly`,
            );
          if (told !== start.kind)
            logger.info(
              `${binaryArg} is ${start.kind === "script" ? "a script" : "a shell"}, not a Go binary: hotdump follows the Go programs it starts (their crashes, binaries and cores)`,
            );
          told = start.kind;
          // The script's own bytes are what --sha256 checks; its Go program is stored once found.
          const sha256 = await sha256File(binaryPath);
          const want = start.kind === "script" ? expectedSha256(binaryPath, opts.sha256) : null;
          if (want && sha256 !== want) throw checksumMismatch(binaryPath, want, sha256);
          const g = journal.newGeneration({
            sha256,
            binary: binaryPath,
            goBuildId: null,
            gnuBuildId: null,
            changed: [],
            buildMs: null,
            source: "run",
          });
          const build: Build = {
            generation: g.n,
            binary: binaryPath,
            sha256,
            identity: null,
            launcher: start.kind,
          };
          return report(await supervisor.deploy(build));
        }
        const identity = start.identity;
        const want = expectedSha256(binaryPath, opts.sha256);
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
        return report(await supervisor.deploy(build));
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
    // Listen for SIGTERM/SIGINT before the first generation starts: a signal that arrives while it is
    // still switching (the ready event is out, the drain wait is not over) must stop us gracefully,
    // not kill this process with the signal's default action.
    let stopSignal: NodeJS.Signals = "SIGTERM";
    const stopRequested = new Promise<void>((resolveStop) => {
      const stop = (sig: NodeJS.Signals) => {
        stopSignal = sig;
        resolveStop();
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
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
    await stopRequested;
    logger.info(`${stopSignal}: draining generation ${supervisor.current?.generation ?? "-"} and exiting`);
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
