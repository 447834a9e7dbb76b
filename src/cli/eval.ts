import type { Command } from "commander";
import { evalInCapture } from "../forensics/inspect.js";
import { type CommonOptions, intFlag, printJson, storeDirFrom, storeOption } from "./common.js";
import { resolveCrashId } from "./report.js";

export function registerEval(program: Command): void {
  storeOption(
    program
      .command("eval")
      .description("evaluate a Go expression in a stored capture (Delve Eval on the exact binary and core)")
      .argument("<id>", "a crash or snapshot id (or 'latest')")
      .argument("<expr>", "a Go expression: a variable, a field, runtime.gcController.heapInUse, ...")
      .option("--goroutine <n>", "the goroutine whose frame to use (default: the crash's)")
      .option("--frame <k>", "the frame, numbered as the report shows it (#K; default: the culprit's)")
      .option("--force", "evaluate even though the core's build ID does not match the binary")
      .option("--json", "print Delve's variable as JSON"),
  ).action(
    async (
      idArg: string,
      expr: string,
      opts: CommonOptions & { goroutine?: string; frame?: string; force?: boolean },
    ) => {
      const storeDir = storeDirFrom(opts);
      const goroutine = intFlag(opts.goroutine, "--goroutine", true);
      const frame = intFlag(opts.frame, "--frame", true);
      const r = await evalInCapture(storeDir, resolveCrashId(storeDir, idArg), expr, {
        force: opts.force ?? false,
        ...(goroutine !== undefined ? { goroutine } : {}),
        ...(frame !== undefined ? { frame } : {}),
      });
      if (opts.json) return printJson(r);
      process.stdout.write(`${r.text}\n`);
    },
  );
}
