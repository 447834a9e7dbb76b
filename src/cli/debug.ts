import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { resolveDlvPath } from "../analyze/delve/index.js";
import {
  binaryUnderProcessName,
  goroot,
  interactiveGdbArgs,
  runtimeGdbScript,
} from "../analyze/gdb/index.js";
import type { Bundle } from "../contracts/index.js";
import { culpritScope, type Report } from "../contracts/index.js";
import { HotdumpError } from "../errors.js";
import {
  binaryPath,
  decompressFile,
  openBundle,
  readBundleReport,
  readStore,
  storeCache,
} from "../store/index.js";
import { type CommonOptions, storeDirFrom, storeOption } from "./common.js";
import { resolveCrashId } from "./report.js";

interface DebugOptions extends CommonOptions {
  gdb?: boolean;
  vscode?: boolean;
  force?: boolean;
}

export function registerDebug(program: Command): void {
  storeOption(
    program
      .command("debug")
      .description(
        "open an interactive debugger (dlv core, or gdb) on a stored crash's exact binary and core",
      )
      .argument("[crash-id]", "as listed by hotdump crashes (default: the latest)")
      .option("--gdb", "use gdb instead of Delve")
      .option(
        "--vscode",
        "write a VS Code launch configuration instead of starting a debugger (Go's mode: core; with --gdb, cppdbg)",
      )
      .option("--force", "debug even though the core's build ID does not match the binary"),
  ).action(async (idArg: string | undefined, opts: DebugOptions) => {
    const storeDir = storeDirFrom(opts);
    const layout = readStore(storeDir);
    const bundle = openBundle(layout, resolveCrashId(storeDir, idArg ?? "latest"));
    const { meta } = bundle;
    if (!meta.core.stored)
      throw new HotdumpError(
        "usage",
        "E_NO_CORE",
        `crash ${bundle.id} has no core: ${meta.core.reason ?? "none was captured"}`,
      );
    if (!meta.binary?.sha256 || !existsSync(binaryPath(layout, meta.binary.sha256)))
      throw new HotdumpError(
        "store",
        "E_NO_BINARY",
        `crash ${bundle.id} has no stored binary (it was not an ELF program, or was evicted)`,
      );
    if (meta.core.buildIdMatch === false && !opts.force)
      throw new HotdumpError(
        "usage",
        "E_BUILD_ID_MISMATCH",
        `the core of ${bundle.id} does not match its binary (${meta.core.buildIdReason ?? "build IDs differ"}); --force to debug anyway`,
      );
    const bin = binaryPath(layout, meta.binary.sha256);
    const core = join(storeCache(layout), `${bundle.id}.core`);
    if (!existsSync(core)) {
      process.stderr.write(`hotdump: decompressing the core to ${core}\n`);
      await decompressFile(join(bundle.dir, meta.core.stored), core);
    }
    const report = storedReport(bundle);
    // Delve reads only Go programs: on another one's core (a C program under exec) it prints "no
    // debug info found" and has no stack; gdb is the debugger for it.
    const notGo = meta.binary.goVersion === null && !meta.goVersion;
    const useGdb = opts.gdb || notGo;
    const culprit = report && culpritScope(report) ? report.culprit : null;
    const gdbDir = join(storeCache(layout), `${bundle.id}.gdb`);
    const gdb = async () => {
      const script = await runtimeGdbScript(bin, await goroot());
      const exe = binaryUnderProcessName(bin, meta.binary?.path ?? meta.cmdline[0] ?? "", gdbDir);
      return { script, exe };
    };
    if (opts.vscode) {
      if (!useGdb) return writeVscodeConfig(goConfig(bundle.id, bin, core, meta.cwd), core);
      const { script, exe } = await gdb();
      return writeVscodeConfig(
        cppdbgConfig(bundle.id, exe, core, meta.cwd, script?.path ?? null, culprit?.function),
        core,
      );
    }
    // Delve refuses a non-terminal stdin unless told: allow it, so `printf 'bt\nexit\n' | hotdump
    // debug ID` scripts a session.
    const dlvArgs = [
      "core",
      bin,
      core,
      ...(process.stdin.isTTY ? [] : ["--allow-non-terminal-interactive=true"]),
    ];
    // Start on the goroutine that crashed and its culprit frame, not on the thread that raised
    // SIGABRT (frame 0 is runtime.raise, whose locals are empty).
    const at = report ? culpritScope(report) : null;
    const init = join(layout.cache, `${bundle.id}.dlv-init`);
    if (at !== null) {
      const lines = [`goroutine ${at.goroutine}`, ...(at.frame !== undefined ? [`frame ${at.frame}`] : [])];
      writeFileSync(init, `${lines.join("\n")}\n`, { mode: 0o600 });
      dlvArgs.push("--init", init);
    }
    if (notGo && !opts.gdb)
      process.stderr.write(`hotdump: ${meta.cmdline[0] ?? "the program"} is not a Go program: opening gdb\n`);
    let cmd: string;
    let args: string[];
    if (useGdb) {
      const { script, exe } = await gdb();
      [cmd, args] = ["gdb", interactiveGdbArgs({ binary: exe, core, script, culprit: culprit?.function })];
      if (!script && !notGo)
        process.stderr.write("hotdump: Go's runtime-gdb.py is not on this machine: no goroutine helpers\n");
      if (culprit?.function && culprit.frame !== undefined)
        process.stderr.write(
          `hotdump: gdb opens on the culprit ${culprit.function}, the report's frame #${culprit.frame} (gdb numbers its own frames, signal frames included)\n`,
        );
    } else [cmd, args] = [resolveDlvPath(), dlvArgs];
    process.stderr.write(`hotdump: ${cmd} ${args.join(" ")}\n`);
    const code = await new Promise<number>((resolve) => {
      const p = spawn(cmd, args, { stdio: "inherit", cwd: existsSync(meta.cwd) ? meta.cwd : process.cwd() });
      p.on("error", (e) => {
        process.stderr.write(`hotdump: could not start ${cmd}: ${e.message}\n`);
        resolve(127);
      });
      p.on("close", (c) => resolve(c ?? 1));
    });
    // The decompressed core is a cache: it holds secrets and can be made again from the bundle.
    rmSync(core, { force: true });
    rmSync(init, { force: true });
    rmSync(gdbDir, { recursive: true, force: true });
    process.exitCode = code;
  });
}

/** The crash's report; null without a usable one (the debugger opens as dlv does). */
function storedReport(bundle: Bundle): Report | null {
  try {
    return readBundleReport(bundle);
  } catch {
    return null;
  }
}

/** vscode-go's core mode (Delve). */
function goConfig(id: string, program: string, coreFilePath: string, cwd: string): Record<string, unknown> {
  return {
    name: `hotdump crash ${id}`,
    type: "go",
    request: "launch",
    mode: "core",
    program,
    coreFilePath,
    cwd,
  };
}

/**
 * The C/C++ extension's gdb configuration on a core (cppdbg: `coreDumpPath`), with Go's
 * runtime-gdb.py sourced; the culprit's frame is selected once the core is loaded.
 */
function cppdbgConfig(
  id: string,
  program: string,
  coreDumpPath: string,
  cwd: string,
  script: string | null,
  culprit: string | undefined,
): Record<string, unknown> {
  return {
    name: `hotdump crash ${id} (gdb)`,
    type: "cppdbg",
    request: "launch",
    program,
    coreDumpPath,
    cwd,
    MIMode: "gdb",
    miDebuggerPath: "gdb",
    setupCommands: [
      { description: "pretty printers", text: "-enable-pretty-printing", ignoreFailures: true },
      ...(script
        ? [{ description: "Go's runtime-gdb.py", text: `source ${script}`, ignoreFailures: true }]
        : []),
    ],
    ...(culprit
      ? { postRemoteConnectCommands: [{ text: `frame function ${culprit}`, ignoreFailures: true }] }
      : {}),
  };
}

function writeVscodeConfig(config: Record<string, unknown>, coreFilePath: string): void {
  const dir = join(process.cwd(), ".vscode");
  const file = join(dir, "launch.json");
  mkdirSync(dir, { recursive: true });
  let launch: { version: string; configurations: Record<string, unknown>[] } = {
    version: "0.2.0",
    configurations: [],
  };
  if (existsSync(file)) {
    try {
      launch = JSON.parse(readFileSync(file, "utf8"));
    } catch (cause) {
      throw new HotdumpError(
        "usage",
        "E_VSCODE_LAUNCH",
        `${file} is not plain JSON (comments?): add the configuration by hand`,
        {
          cause,
        },
      );
    }
  }
  const name = config.name as string;
  launch.configurations = (launch.configurations ?? []).filter((c) => c.name !== name);
  launch.configurations.push(config);
  writeFileSync(file, `${JSON.stringify(launch, null, 2)}\n`);
  process.stdout.write(`wrote "${name}" to ${file} (the decompressed core stays at ${coreFilePath})\n`);
}
