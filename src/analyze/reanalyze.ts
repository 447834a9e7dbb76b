/**
 * The steps between "there is a core" and "there is a report", shared by a capture (the core the
 * kernel just wrote) and `hotdump analyze` (a core from elsewhere, or a stored crash again): open
 * the core once for its memory map, its truncation and the build-ID proof, then analyse, keeping
 * the memory map read from the core when the debuggers gave none.
 */

import { existsSync, lstatSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Bundle, CoreInfo, Mapping, Report } from "../contracts/index.js";
import { readBinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import {
  binaryPath,
  bundleFile,
  decompressFile,
  finishBundle,
  processInfoOf,
  readStoreFile,
  type StoreLayout,
  storeCache,
} from "../store/index.js";
import type { AnalyzeOptions } from "./analyzeCrash.js";
import { analyzeWithMap, readCoreFacts } from "./coreFacts.js";
import { describeSnapshot } from "./describeSnapshot.js";
import { signatureOf } from "./signature.js";
import { findRecoveredPanics, recoveredTraceback } from "./traceback/index.js";

export { analyzeWithMap, readCoreFacts } from "./coreFacts.js";

type ReanalyzeOptions = Omit<AnalyzeOptions, "binary" | "core" | "stderr" | "coreInfo" | "identity">;

/**
 * A stored crash analysed again (hotdump stopped mid-analysis, a newer Delve, --redact): its core
 * decompressed to the store's cache, its archived binary, its stderr; finished as a capture is
 * (finishBundle: report.json, meta.json's summary, the journal row), its problems kept. A bundle
 * left "capturing" by a killed hotdump is completed from what it holds: a core.zst there is whole
 * (compressFile writes core.zst.partial and renames it only after fsync), so it is adopted and
 * analysed, and the bundle is "complete" when a debugger read it (else "partial").
 */
export async function reanalyzeBundle(
  layout: StoreLayout,
  bundle: Bundle,
  o: ReanalyzeOptions,
): Promise<Report> {
  const meta = { ...bundle.meta, core: adoptStoredCore(bundle) };
  const bin = meta.binary?.sha256 ? binaryPath(layout, meta.binary.sha256) : null;
  const hasBinary = bin !== null && existsSync(bin);
  const identity = hasBinary ? await readBinaryIdentity(bin) : null;
  const core = join(storeCache(layout), `${bundle.id}.core`);
  try {
    let coreInfo: CoreInfo = meta.core;
    let memoryMap: Mapping[] = [];
    if (meta.core.stored) {
      await decompressFile(join(bundle.dir, meta.core.stored), core);
      const facts = await readCoreFacts(core, identity);
      memoryMap = facts.memoryMap;
      coreInfo = {
        ...meta.core,
        truncated: Boolean(meta.core.truncated) || facts.truncated,
        ...(facts.buildIdMatch !== undefined
          ? { buildIdMatch: facts.buildIdMatch, buildIdReason: facts.buildIdReason }
          : {}),
      };
    }
    // An interrupted capture may have stopped before writing the tails.
    const stderr = existsSync(bundleFile(bundle, "stderr.txt"))
      ? readStoreFile(bundleFile(bundle, "stderr.txt"), "utf8")
      : "";
    // A recovered panic's stderr.txt is the block the service logged, not a crash's traceback.
    const recovered = meta.kind === "recovered" ? (findRecoveredPanics(stderr)[0] ?? null) : null;
    const report = await analyzeWithMap(
      {
        ...o,
        ...(hasBinary ? { binary: bin } : {}),
        ...(meta.core.stored ? { core } : {}),
        stderr,
        ...(recovered ? { traceback: recoveredTraceback(recovered) } : {}),
        coreInfo,
        identity,
        // Where the crashed process ran: the local go.mod of a -trimpath build is found from here.
        ...(meta.cwd ? { cwd: meta.cwd } : {}),
        ...(meta.binary?.sha256 ? { sha256: meta.binary.sha256 } : {}),
      },
      memoryMap,
    );
    if (meta.type === "snapshot") describeSnapshot(report, meta.pid ?? 0);
    if (recovered) {
      report.kind = "recovered";
      report.recovered = {
        by: recovered.form,
        ...(recovered.remoteAddr ? { remoteAddr: recovered.remoteAddr } : {}),
      };
    }
    report.fingerprint = meta.fingerprint ?? signatureOf(report).fingerprint;
    report.process = processInfoOf(meta);
    // Without a core (a race detector's exit) there is nothing for a debugger to open.
    report.next.unshift(
      `hotdump report ${bundle.id}`,
      ...(meta.core.stored ? [`hotdump debug ${bundle.id}`] : []),
    );
    const readCore = report.sources.delve.used || report.sources.gdb.used;
    const failed = await finishBundle(layout, bundle, report, {
      problems: meta.problems,
      state:
        meta.state === "capturing" ? (readCore || !meta.core.stored ? "complete" : "partial") : meta.state,
      core: coreInfo,
    });
    const first = failed[0];
    if (first) throw new HotdumpError("store", first.code, first.message);
    return report;
  } finally {
    await rm(core, { force: true });
  }
}

/**
 * The core a bundle holds, also when meta.json still says "still capturing": a core.zst (or
 * core.gz) beside it is whole, since it is renamed into place only once written and synced.
 */
function adoptStoredCore(bundle: Bundle): CoreInfo {
  const { core } = bundle.meta;
  if (core.stored || bundle.meta.state !== "capturing") return core;
  for (const [name, compression] of [
    ["core.zst", "zstd"],
    ["core.gz", "gzip"],
  ] as const) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(join(bundle.dir, name));
    } catch {
      continue;
    }
    if (st.isFile()) return { found: true, stored: name, compression, storedBytes: st.size };
  }
  return core;
}
