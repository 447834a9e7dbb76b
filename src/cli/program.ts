/**
 * The command tree. Each command lives in its own file in cli/ and only parses flags, calls a
 * stage and prints. Errors: one line for people (the HotdumpError's shortMessage), the chain with
 * --verbose, never a stack trace for a user mistake.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { describeChain, isHotdumpError } from "../errors.js";
import { registerAnalyze } from "./analyze.js";
import { registerCheatsheet } from "./cheatsheet.js";
import { registerCrashes } from "./crashes.js";
import { registerDebug } from "./debug.js";
import { registerDev } from "./dev.js";
import { registerDiff } from "./diff.js";
import { registerDoctor } from "./doctor.js";
import { registerEval } from "./eval.js";
import { registerExec } from "./exec.js";
import { registerFleet } from "./fleet.js";
import { registerHistory } from "./history.js";
import { registerInit } from "./init.js";
import { registerMem } from "./mem.js";
import { registerProfile } from "./profile.js";
import { registerPush } from "./push.js";
import { registerReport } from "./report.js";
import { registerRun } from "./run.js";
import { registerScan } from "./scan.js";
import { registerSnapshot } from "./snapshot.js";
import { registerUi } from "./ui.js";

/** hotdump's own version, from the package.json beside src/ and dist/. */
export function hotdumpVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    ).version;
  } catch {
    return "unknown";
  }
}

/** Every command and flag; the README's command table is checked against it (test/readme.test.ts). */
export function createProgram(): Command {
  const program = new Command("hotdump")
    .description(
      "Never lose a Go crash: run, reload and supervise Go services, capture every crash with its exact binary, and explain it.",
    )
    .option("-v, --verbose", "print the full error chain and debug logs")
    .version(hotdumpVersion(), "-V, --version", "print hotdump's version")
    .exitOverride()
    .showHelpAfterError("(run hotdump --help for usage)")
    .enablePositionalOptions();
  registerExec(program);
  registerDev(program);
  registerRun(program);
  registerCrashes(program);
  registerHistory(program);
  registerInit(program);
  registerReport(program);
  registerAnalyze(program);
  registerDebug(program);
  registerDoctor(program);
  registerSnapshot(program);
  registerProfile(program);
  registerScan(program);
  registerDiff(program);
  registerEval(program);
  registerMem(program);
  registerCheatsheet(program);
  registerUi(program);
  registerPush(program);
  registerFleet(program);
  // -v/--verbose is read from argv above; every subcommand accepts it wherever it is typed.
  for (const c of program.commands) c.option("-v, --verbose", "print the full error chain and debug logs");
  return program;
}

export async function run(argv: string[]): Promise<number> {
  const verbose = argv.includes("--verbose") || argv.includes("-v");
  const program = createProgram();
  let code = 0;
  try {
    await program.parseAsync(argv, { from: "user" });
    code = typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (isHotdumpError(err)) {
      process.stderr.write(`hotdump: ${err.shortMessage} [${err.code}]\n`);
      if (verbose) process.stderr.write(`${describeChain(err)}\n`);
      return err.exitCode;
    }
    process.stderr.write(`hotdump: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    process.stderr.write(
      verbose ? `${describeChain(err)}\n` : "(run again with --verbose for details, and please report it)\n",
    );
    return 70;
  }
  return code;
}
