import type { Command } from "commander";
import { diffCaptures, renderDiff } from "../forensics/diffCaptures.js";
import { type CommonOptions, printJson, storeDirFrom, storeOption } from "./common.js";
import { resolveCrashId } from "./report.js";

export function registerDiff(program: Command): void {
  storeOption(
    program
      .command("diff")
      .description(
        "compare two captures: goroutine groups that grew, appeared or vanished, totals, heap in use",
      )
      .argument("<id-a>", "the earlier capture")
      .argument("<id-b>", "the later capture (or 'latest')")
      .option("--no-delve", "use report.json only (no heap figure)")
      .option("--regroup", "group every goroutine again from the cores, even when report.json has them all")
      .option("--json", "print JSON"),
  ).action(async (a: string, b: string, opts: CommonOptions & { delve?: boolean; regroup?: boolean }) => {
    const storeDir = storeDirFrom(opts);
    const d = await diffCaptures(storeDir, resolveCrashId(storeDir, a), resolveCrashId(storeDir, b), {
      delve: opts.delve !== false,
      regroup: opts.regroup === true,
    });
    if (opts.json) return printJson(d);
    process.stdout.write(`${renderDiff(d)}\n`);
  });
}
