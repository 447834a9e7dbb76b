/**
 * `hotdump analyze`: the post-mortem on any binary + core pair (a core from elsewhere, a customer's
 * box), or again on a stored crash (`--crash ID`, e.g. after hotdump was stopped mid-analysis or
 * with a newer Delve).
 */
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { createDelveSession, type DelveSession } from "../analyze/delve/client.js";
import type { CoreInfo } from "../contracts/index.js";
import { type BinaryIdentity, readBinaryIdentity } from "../elf/index.js";
import { HotdumpError, usageError } from "../errors.js";
import { redactOptions } from "../util/redactor.js";
import { type CommonOptions, storeDirFrom, storeOption } from "./common.js";
import { takeEarlyDelve } from "./earlyDelve.js";
import {
  emitReport,
  type Format,
  humanNext,
  parseFormat,
  preloadRenderer,
  resolveCrashId,
} from "./report.js";

interface AnalyzeCliOptions extends CommonOptions {
  binary?: string;
  core?: string;
  crash?: string;
  stderr?: string;
  format?: string;
  out?: string;
  redact?: boolean;
  force?: boolean;
  delve?: boolean;
  gdb?: boolean;
}

const notFound = (what: string, p: string) =>
  new HotdumpError("usage", "E_NOT_FOUND", `${what} ${p} does not exist`);

/** A FIFO or a device would block the reader (analyze hung on a FIFO as --core): files only. */
function assertRegularFile(flag: string, p: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(p);
  } catch {
    throw notFound(flag.slice(2), p);
  }
  if (!st.isFile())
    throw new HotdumpError(
      "usage",
      "E_NOT_A_FILE",
      `${flag} ${p} is ${st.isFIFO() ? "a FIFO" : st.isDirectory() ? "a directory" : st.isSocket() ? "a socket" : "a device"}, not a file`,
    );
}

export function registerAnalyze(program: Command): void {
  storeOption(
    program
      .command("analyze")
      .description(
        "analyse a core with Delve (gdb as the fallback): culprit, panic value, locals, goroutine groups, registers",
      )
      .option("--binary <file>", "the exact binary that produced the core")
      .option("--core <file>", "the core file")
      .option("--crash <id>", "analyse a stored crash again (and rewrite its report.json)")
      .option("--stderr <file>", "the program's stderr (its Go traceback is merged into the report)")
      .option("-f, --format <format>", "text, json, md or html", "text")
      .option("-o, --out <file>", "write to a file instead of stdout")
      .option("--redact", "mask values of secret-looking locals and args")
      .option("--force", "analyse even though the core's build ID does not match the binary")
      .option("--no-delve", "do not use Delve (gdb, then the traceback)")
      .option("--no-gdb", "do not fall back to gdb"),
  ).action(async (opts: AnalyzeCliOptions) => {
    const format = parseFormat(opts.format);
    const common = {
      // No child environment here: the secret-looking variables of this one (the same service's,
      // under systemd) are the ones hunted for.
      ...redactOptions(opts.redact, process.env),
      force: Boolean(opts.force),
      useDelve: opts.delve !== false,
      useGdb: opts.gdb !== false,
    };
    if (opts.crash) {
      // The store (SQLite, zod) and the stored-crash path load only here: a plain analysis of a
      // binary + core starts without them.
      const [{ reanalyzeBundle }, { openBundle, readStore }] = await Promise.all([
        import("../analyze/reanalyze.js"),
        import("../store/index.js"),
      ]);
      const storeDir = storeDirFrom(opts);
      const layout = readStore(storeDir);
      const bundle = openBundle(layout, resolveCrashId(storeDir, opts.crash));
      const report = await reanalyzeBundle(layout, bundle, common);
      await emitReport(humanNext(report, format, storeDir), format, opts.out);
      return;
    }
    if (!opts.binary || !opts.core)
      throw usageError("give --binary BIN --core CORE (or --crash ID for a stored crash)");
    const binary = resolve(opts.binary);
    const corePath = resolve(opts.core);
    assertRegularFile("--binary", binary);
    assertRegularFile("--core", corePath);
    if (opts.stderr) assertRegularFile("--stderr", resolve(opts.stderr));
    // dlv starts first (main.ts started it before the command tree loaded, see earlyDelve.ts),
    // before the binary is even read: it opens the core (~0.3 s for 80 MB, most of an analysis)
    // while the binary's identity is read, the rest of the analysis loads and the build IDs are
    // compared. A refused pair (not ELF, another build) closes it unused.
    const early = common.useDelve
      ? (takeEarlyDelve(binary, corePath) ?? createDelveSession({ binary, core: corePath }))
      : undefined;
    early?.catch(() => undefined);
    // The renderer and the analysis load while Delve opens the core, not after it answered.
    preloadRenderer(format);
    try {
      const identity = await readBinaryIdentity(binary);
      if (!identity.isElf)
        throw new HotdumpError(
          "usage",
          "E_NOT_ELF",
          `--binary ${binary} is not an ELF program (a script? give the Go binary)`,
        );
      await analyzeBinaryAndCore(binary, identity, corePath, opts, common, format, early);
    } finally {
      await early?.then(
        (s) => s.close(),
        () => undefined,
      );
    }
  });
}

async function analyzeBinaryAndCore(
  binary: string,
  identity: BinaryIdentity,
  corePath: string,
  opts: AnalyzeCliOptions,
  common: { redact: boolean; force: boolean; useDelve: boolean; useGdb: boolean },
  format: Format,
  early: Promise<DelveSession> | undefined,
): Promise<void> {
  const { analyzeWithMap, readCoreFacts } = await import("../analyze/coreFacts.js");
  const facts = await readCoreFacts(corePath, identity);
  const coreInfo: CoreInfo = {
    found: true,
    originalPath: corePath,
    truncated: facts.truncated,
    buildIdMatch: facts.buildIdMatch ?? null,
    ...(facts.buildIdReason ? { buildIdReason: facts.buildIdReason } : {}),
  };
  if (coreInfo.buildIdMatch === false && !opts.force)
    throw new HotdumpError(
      "usage",
      "E_BUILD_ID_MISMATCH",
      `${opts.core} was not produced by ${opts.binary} (${coreInfo.buildIdReason}): analysis refused; --force to try anyway`,
    );
  const report = await analyzeWithMap(
    {
      ...common,
      binary,
      core: corePath,
      coreInfo,
      identity,
      cwd: process.cwd(),
      ...(opts.stderr ? { stderr: readFileSync(opts.stderr, "utf8") } : {}),
      ...(early ? { delveSession: early } : {}),
    },
    facts.memoryMap,
  );
  const dlv = `dlv core ${binary} ${corePath}`;
  if (!report.next.includes(dlv)) report.next.push(dlv);
  await emitReport(report, format, opts.out);
}
