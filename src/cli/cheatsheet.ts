import type { Command } from "commander";
import { CHEATSHEET, renderCheatsheet } from "../forensics/debuggerCheatsheet.js";
import { printJson } from "./common.js";

export function registerCheatsheet(program: Command): void {
  program
    .command("cheatsheet")
    .description("the Delve and gdb commands that matter on a Go core, each verified against a real core")
    .option("--dlv", "Delve only")
    .option("--gdb", "gdb only")
    .option("--json", "print JSON")
    .action((opts: { dlv?: boolean; gdb?: boolean; json?: boolean }) => {
      const tool = opts.gdb && !opts.dlv ? "gdb" : opts.dlv && !opts.gdb ? "dlv" : undefined;
      if (opts.json) return printJson(CHEATSHEET.filter((e) => !tool || e.tool === tool));
      process.stdout.write(renderCheatsheet(tool));
    });
}
