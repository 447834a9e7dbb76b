/**
 * The command tree. Each command lives in its own file in cli/ and only parses flags, calls a
 * stage and prints. Errors: one line for people (the HotdumpError's shortMessage), the chain with
 * --verbose, never a stack trace for a user mistake.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { describeChain, isHotdumpError } from "../errors.js";

type Register = (program: Command) => void;

/**
 * Each command's module, loaded only when that command runs: importing every stage at start cost
 * ~0.2 s before any command did anything (`hotdump --version` 0.22 s against 0.06 s for `node -e 0`).
 * The key is the command's name (run.ts also registers `reload`).
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  exec: async () => (await import("./exec.js")).registerExec,
  dev: async () => (await import("./dev.js")).registerDev,
  run: async () => (await import("./run.js")).registerRun,
  reload: async () => (await import("./run.js")).registerRun,
  crashes: async () => (await import("./crashes.js")).registerCrashes,
  history: async () => (await import("./history.js")).registerHistory,
  init: async () => (await import("./init.js")).registerInit,
  report: async () => (await import("./report.js")).registerReport,
  analyze: async () => (await import("./analyze.js")).registerAnalyze,
  debug: async () => (await import("./debug.js")).registerDebug,
  doctor: async () => (await import("./doctor.js")).registerDoctor,
  snapshot: async () => (await import("./snapshot.js")).registerSnapshot,
  profile: async () => (await import("./profile.js")).registerProfile,
  scan: async () => (await import("./scan.js")).registerScan,
  diff: async () => (await import("./diff.js")).registerDiff,
  eval: async () => (await import("./eval.js")).registerEval,
  mem: async () => (await import("./mem.js")).registerMem,
  cheatsheet: async () => (await import("./cheatsheet.js")).registerCheatsheet,
  ui: async () => (await import("./ui.js")).registerUi,
  push: async () => (await import("./push.js")).registerPush,
  fleet: async () => (await import("./fleet.js")).registerFleet,
};

/**
 * The commands argv needs: none for `--version`, the one named, every one for help, a bare
 * `hotdump` or a name commander must reject with suggestions.
 */
function commandsFor(argv: readonly string[]): string[] {
  const all = Object.keys(COMMANDS).filter((n) => n !== "reload");
  const name = argv.find((a) => !a.startsWith("-"));
  if (name === undefined) return argv.some((a) => a === "-V" || a === "--version") ? [] : all;
  return name in COMMANDS ? [name] : all;
}

/** hotdump's own version, from the package.json beside src/ and dist/. */
function hotdumpVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    ).version;
  } catch {
    return "unknown";
  }
}

/**
 * Every command and flag (or only those `argv` needs); the README's command table is checked
 * against the full tree (test/readme.test.ts).
 */
export async function createProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command("hotdump")
    .description(
      "Never lose a Go crash: run, reload and supervise Go services, capture every crash with its exact binary, and explain it.",
    )
    .option("-v, --verbose", "print the full error chain and debug logs")
    .version(hotdumpVersion(), "-V, --version", "print hotdump's version")
    .exitOverride()
    .showHelpAfterError("(run hotdump --help for usage)")
    .enablePositionalOptions();
  const names = argv ? commandsFor(argv) : Object.keys(COMMANDS).filter((n) => n !== "reload");
  const registers = await Promise.all(names.map((n) => (COMMANDS[n] as () => Promise<Register>)()));
  for (const register of new Set(registers)) register(program);
  // -v/--verbose is read from argv above; every subcommand accepts it wherever it is typed.
  for (const c of program.commands) c.option("-v, --verbose", "print the full error chain and debug logs");
  return program;
}

export async function run(argv: string[]): Promise<number> {
  const verbose = argv.includes("--verbose") || argv.includes("-v");
  let code = 0;
  try {
    const program = await createProgram(argv);
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
