/**
 * `hotdump analyze`: the post-mortem on any binary + core pair (a core from elsewhere, a customer's
 * box), or again on a stored crash (`--crash ID`, e.g. after hotdump was stopped mid-analysis or
 * with a newer Delve).
 */
import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { analyzeCrash } from "../analyze/analyze.js";
import { memoryMapOf } from "../analyze/memoryMap.js";
import type { Mapping } from "../contracts/report.js";
import { compareCoreToBinary, openCore, readBinaryIdentity } from "../elf/index.js";
import { HotdumpError, usageError } from "../errors.js";
import type { CoreInfo } from "../store/index.js";
import {
  binaryPath,
  bundleFile,
  decompressFile,
  ensureStore,
  openBundle,
  saveMeta,
  writeBundleFile,
} from "../store/index.js";
import { type CommonOptions, storeDirFrom, storeOption } from "./common.js";
import { emitReport, parseFormat, resolveCrashId } from "./report.js";

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
      redact: Boolean(opts.redact),
      force: Boolean(opts.force),
      useDelve: opts.delve !== false,
      useGdb: opts.gdb !== false,
    };
    if (opts.crash) {
      const storeDir = storeDirFrom(opts);
      const layout = ensureStore(storeDir);
      const bundle = openBundle(layout, resolveCrashId(storeDir, opts.crash));
      const { meta } = bundle;
      const bin = meta.binary?.sha256 ? binaryPath(layout, meta.binary.sha256) : null;
      const core = join(layout.cache, `${bundle.id}.core`);
      if (meta.core.stored) await decompressFile(join(bundle.dir, meta.core.stored), core);
      try {
        const report = await analyzeCrash({
          ...common,
          ...(bin && existsSync(bin) ? { binary: bin } : {}),
          ...(meta.core.stored ? { core } : {}),
          stderr: readFileSync(bundleFile(bundle, "stderr.txt"), "utf8"),
          coreInfo: meta.core,
          identity: bin && existsSync(bin) ? await readBinaryIdentity(bin) : null,
          ...(meta.binary?.sha256 ? { sha256: meta.binary.sha256 } : {}),
        });
        report.next.unshift(`hotdump report ${bundle.id}`, `hotdump debug ${bundle.id}`);
        await writeBundleFile(bundle, "report.json", `${JSON.stringify(report, null, 2)}\n`);
        if (meta.state === "capturing") await saveMeta(bundle.dir, { ...meta, state: "partial" });
        emitReport(report, format, opts.out);
      } finally {
        await rm(core, { force: true });
      }
      return;
    }
    if (!opts.binary || !opts.core)
      throw usageError("give --binary BIN --core CORE (or --crash ID for a stored crash)");
    const binary = resolve(opts.binary);
    const corePath = resolve(opts.core);
    if (!existsSync(binary)) throw notFound("binary", binary);
    if (!existsSync(corePath)) throw notFound("core", corePath);
    const identity = await readBinaryIdentity(binary);
    const coreInfo: CoreInfo = { found: true, originalPath: corePath };
    const c = await openCore(corePath);
    let memoryMap: Mapping[] = [];
    try {
      memoryMap = memoryMapOf(c);
      coreInfo.truncated = c.truncated !== null;
      const cmp = await compareCoreToBinary(c, identity);
      coreInfo.buildIdMatch = cmp.match;
      coreInfo.buildIdReason = cmp.reason;
    } finally {
      await c.close();
    }
    if (coreInfo.buildIdMatch === false && !opts.force)
      throw new HotdumpError(
        "usage",
        "E_BUILD_ID_MISMATCH",
        `${opts.core} was not produced by ${opts.binary} (${coreInfo.buildIdReason}): analysis refused; --force to try anyway`,
      );
    const report = await analyzeCrash({
      ...common,
      binary,
      core: corePath,
      coreInfo,
      identity,
      ...(opts.stderr ? { stderr: readFileSync(opts.stderr, "utf8") } : {}),
    });
    if (report.memoryMap.length === 0) report.memoryMap = memoryMap;
    report.next.push(`dlv core ${binary} ${corePath}`);
    emitReport(report, format, opts.out);
  });
}
