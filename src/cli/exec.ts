import type { Command } from "commander";
import { parseCaptureMode } from "../capture/mode.js";
import { usageError } from "../errors.js";
import { finishFleetOutbox, startFleetOutbox } from "../fleet/hook.js";
import { loadFleetFile } from "../fleet/settings.js";
import { runOnce } from "../supervise/runOnce.js";
import { redactingLogger, redactOptions, redactorFor } from "../util/redactor.js";
import { type CommonOptions, loggerFor, printJson, storeDirFrom, storeOption } from "./common.js";
import { crashSummaryLines } from "./summary.js";

interface ExecOptions extends CommonOptions {
  redact?: boolean;
  analyze?: boolean;
  capture?: string;
}

export function registerExec(program: Command): void {
  storeOption(
    program
      .command("exec")
      .description("run a program once under crash capture; exits with the program's own status")
      .usage("[options] -- COMMAND [ARGS...]")
      .argument("[command...]", "the program and its arguments (after --)")
      .option("--json", "print one JSON document on stdout when the program ends (its output goes to stderr)")
      .option(
        "--redact",
        "mask passwords, keys, tokens and secret env values in everything hotdump writes (not in cores)",
      )
      .option("--no-analyze", "keep the core but do not run Delve/gdb")
      .option(
        "--capture <mode>",
        "how the core reaches hotdump: kernel, handler (doctor --fix), tracer (containers) or auto (default)",
      ),
  )
    .passThroughOptions()
    .action(async (argv: string[], opts: ExecOptions, cmd: Command) => {
      const [command, ...args] = argv;
      if (!command) throw usageError("missing command: hotdump exec -- ./your-program [args]");
      const redaction = redactOptions(opts.redact, process.env);
      const redactor = redactorFor(redaction);
      const logger = redactingLogger(loggerFor(cmd), redactor);
      const outbox = await startFleetOutbox(storeDirFrom(opts), logger, () => loadFleetFile(process.cwd()));
      const r = await runOnce({
        command,
        args,
        cwd: process.cwd(),
        env: process.env,
        storeDir: storeDirFrom(opts),
        stdout: opts.json ? process.stderr : process.stdout,
        stderr: process.stderr,
        logger,
        analyze: redaction,
        ...(opts.analyze === false ? { runAnalysis: false } : {}),
        capture: parseCaptureMode(opts.capture),
      });
      const crash = r.crash;
      if (opts.json) {
        printJson(
          redactor.deep({
            outcome: r.ended.outcome,
            exitCode: r.ended.exitCode,
            signal: r.ended.signal,
            crash: crash?.bundle ? { id: crash.bundle.id, dir: crash.bundle.dir } : null,
            // Which process crashed: the program itself, or a descendant (go run, sh -c, a script, make).
            process: r.crashed ?? null,
            capture: r.capture,
            stderrTail: r.stderrTail,
            report: r.report,
            core: crash?.core ?? null,
            problems: crash?.problems ?? (r.storeProblem ? [r.storeProblem.toJSON()] : []),
            // Panics it recovered and went on from: each a bundle without core.
            recovered: r.recovered,
            ...(r.ended.note ? { note: r.ended.note } : {}),
          }),
        );
      } else if (crash) {
        const lines = crashSummaryLines(crash, { cwd: process.cwd() });
        if (r.crashed && !r.crashed.root)
          lines.splice(
            1,
            0,
            `  process  pid ${r.crashed.pid} (${r.crashed.argv.join(" ")}), started by ${[command, ...args].join(" ")}${r.ended.exitCode !== null ? `, which exited with status ${r.ended.exitCode}` : ""}`,
          );
        else if (r.crashed)
          lines.splice(1, 0, `  process  pid ${r.crashed.pid} (${r.crashed.argv.join(" ")})`);
        for (const line of lines) logger.info(line);
      } else if (r.ended.outcome === "killed") {
        logger.info(r.ended.note ?? `killed by ${r.ended.signal}`);
      } else if (r.ended.exitCode !== 0) {
        logger.info(`exited with status ${r.ended.exitCode} (not a crash: no core is kept)`);
      }
      await finishFleetOutbox(outbox, logger);
      process.exitCode = r.ended.status;
    });
}
