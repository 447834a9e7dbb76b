/**
 * Turning a crash into a bundle. Order matters, because nothing may be lost:
 *   1. the bundle directory and meta.json ("capturing") and the output tails, first;
 *   2. the core, found wherever core_pattern put it, compressed into the bundle (a hotdump killed
 *      after this point leaves a bundle that has everything and says "capturing");
 *   3. the core ↔ binary build-ID proof;
 *   4. analysis (Delve, then gdb, then the traceback alone);
 *   5. the original core removed (only a plain file the kernel wrote: a pipe handler's copy is its own);
 *   6. finishBundle: report.json, meta.json "complete" (or "partial" with each problem), the
 *      journal row; then the store budget.
 * A store that cannot be written (read-only, full) loses the bundle, never the crash: the report is
 * still made from the traceback and the core (left where the kernel put it), and the reason is said.
 */
import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  type AnalyzeOptions,
  analyzeWithMap,
  describeHang,
  describeSnapshot,
  readCoreFacts,
  redactReport,
  reportFromTracebackOnly,
} from "../analyze/index.js";
import { signatureOf } from "../analyze/signature.js";
import type { Traceback } from "../analyze/traceback/index.js";
import type { Mapping, Race, RecoveredBy, Report } from "../contracts/index.js";
import { describeSignal, type Ended, headline } from "../contracts/index.js";
import type { BinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import { renderJson } from "../report/json.js";
import {
  type Bundle,
  type CoreInfo,
  compressFile,
  createBundle,
  decompressFile,
  defaultBudget,
  enforceBudget,
  finishBundle,
  type Journal,
  openJournal,
  type StoreLayout,
  saveMeta,
  writeBundleFile,
} from "../store/index.js";
import type { Logger } from "../util/log.js";
import { type Redactor, redactorFor } from "../util/redactor.js";
import { coreLimitOf } from "./coreLimit.js";
import { type CoreSearch, locateCore } from "./locateCore.js";
import type { ProcessSnapshot } from "./processFacts.js";

export interface CrashFacts {
  pid: number;
  ended: Ended;
  startedAt: Date;
  endedAt: Date;
  cmdline: string[];
  cwd: string;
  envNames: string[];
  /** The path the program started from, and its archived copy (binaries/<sha256>/<name>) when stored. */
  binary: { path: string; archived?: string; sha256?: string; identity?: BinaryIdentity | null } | null;
  stdoutTail: string;
  stderrTail: string;
  traceback: Traceback | null;
  /** Race reports seen while it ran (all of them; stderrTail may hold only the last few). */
  races?: Race[];
  generation?: number | null;
  type?: "crash" | "snapshot";
  /** Set when hotdump made a hung process dump itself (liveness, watchdog): the report is a hang. */
  hang?: { reason: string };
  /** The core, when the caller already has it (a snapshot). */
  corePath?: string;
  /** corePath is the caller's temporary file, removed after capture: the report points at the bundle's copy. */
  coreTemporary?: boolean;
  /** /proc facts taken while it ran (exact comm, namespaced pid, RLIMIT_CORE): find the core surely. */
  process?: ProcessSnapshot;
  /** The core as claimCore() found (and set aside) it when the process ended. */
  claimed?: CoreSearch | null;
  /**
   * A panic the process recovered and kept running (ended.outcome "recovered"): `traceback` is
   * the stack it printed, and there is no core to look for.
   */
  recovered?: { by: RecoveredBy; remoteAddr?: string };
  /** The bundle opened with a first report while the core was still being written (firstReport.ts). */
  early?: FirstReportBundle | null;
}

/** What is known of a process that is still dumping its core: all of CrashFacts but its end. */
export type DumpingFacts = Pick<
  CrashFacts,
  "pid" | "startedAt" | "cmdline" | "cwd" | "envNames" | "binary" | "stdoutTail" | "stderrTail" | "generation"
>;

/** A bundle holding the first report: report.json from the traceback alone. */
export interface FirstReportBundle {
  bundle: Bundle;
  report: Report;
  /** When its report.json was written. */
  at: Date;
}

export interface CaptureOptions {
  layout: StoreLayout | null;
  /** Why the store cannot be used (layout null). */
  storeError?: HotdumpError;
  analyze?: Omit<AnalyzeOptions, "binary" | "core" | "stderr">;
  /** Analyse at all (default true). */
  runAnalysis?: boolean;
  /** Keep the kernel's original core file (default: removed once safely stored). */
  keepOriginal?: boolean;
  budget?: { maxUse: number; keepFree: number };
  pinnedBinaries?: string[];
  logger?: Logger;
  /**
   * Epoch ms by which this capture should be done (a supervisor's queue): analysis gets what is
   * left, and is skipped (the core still stored, the report from the traceback) once it is past.
   */
  deadline?: number;
  /** The supervisor's own journal (holds writes a full disk refuses); else one is opened here. */
  journal?: Journal;
}

export interface Captured {
  bundle: Bundle | null;
  report: Report;
  core: CoreInfo;
  problems: { code: string; message: string }[];
}

function findCrashCore(f: CrashFacts, waitMs?: number): Promise<CoreSearch | null> {
  if (f.ended.outcome !== "crash" || !f.ended.signal) return Promise.resolve(null);
  const selfHard = coreLimitOf("self")?.hard;
  return locateCore({
    pid: f.pid,
    cwd: f.cwd,
    exe: f.binary?.path ?? f.cmdline[0] ?? "",
    signal: f.ended.signal,
    startedAt: f.startedAt,
    endedAt: f.endedAt,
    // /proc facts taken while it ran: exact comm, namespaced pid, RLIMIT_CORE.
    ...(f.process ? { snapshot: f.process } : {}),
    // Without them (it died before they were taken): the child's soft limit is hotdump's hard
    // limit, since the launch prelude raised it there.
    ...(!f.process && selfHard !== undefined ? { coreLimit: { soft: selfHard, hard: selfHard } } : {}),
    ...(waitMs === undefined ? {} : { waitMs }),
  });
}

/**
 * Make a crash's core safe from the next crash before the service is restarted, without waiting
 * for compression or analysis (captureCrash does those later, from a queue). With a pattern that
 * has no %p (the default `core`) the restarted generation's core would replace this one: the
 * kernel unlinks an existing core file before writing a new one (fs/coredump.c, for a non-setuid
 * dumper), so it is renamed to `core.PID` in the same directory (a rename needs no space and
 * cannot cross file systems). Only a file core is claimed, never waited for: a core handed to a
 * pipe handler (systemd-coredump, apport) is looked up by the later capture. Never throws.
 */
export async function claimCore(f: CrashFacts): Promise<CoreSearch | null> {
  let s: CoreSearch | null;
  try {
    s = await findCrashCore(f, 0);
  } catch {
    return null;
  }
  if (!s?.found || !s.path || s.result?.found !== true || s.result.via !== "file") return null;
  if (!s.removable || basename(s.path).includes(String(f.pid))) return s;
  const aside = `${s.path}.${f.pid}`;
  try {
    await rename(s.path, aside);
    return { ...s, path: aside, result: { ...s.result, path: aside } };
  } catch {
    return s;
  }
}

type Problems = { code: string; message: string }[];

/** A step's failure kept as a problem of the capture: nothing that goes wrong loses the crash. */
const problemOf = (e: unknown, fallbackCode: string) => {
  const he = e instanceof HotdumpError ? e : undefined;
  return {
    code: he?.code ?? fallbackCode,
    message: he?.shortMessage ?? (e as Error)?.message ?? String(e),
  };
};

export async function captureCrash(f: CrashFacts, o: CaptureOptions): Promise<Captured> {
  const problems: Problems = [];
  const problem = (e: unknown, fallbackCode: string) => problems.push(problemOf(e, fallbackCode));
  if (o.storeError) problem(o.storeError, "E_STORE_UNWRITABLE");
  // --redact: one policy for every file of the bundle but the core, and for the journal.
  const redactor = redactorFor(o.analyze);
  const bundle = f.early
    ? await adoptFirstReport(f, f.early, problem, redactor)
    : o.layout
      ? await openCrashBundle(f, o.layout, problem, redactor)
      : null;
  const { core, search, compressing } = await storeCore(f, bundle, problem);
  const memoryMap = await proveCore(f, core, search, problem);
  let report = await reportOf(f, o, core, memoryMap, problems);
  await compressing;
  // Whatever path made it (the traceback fallback too), with what was added here (argv).
  if (redactor.active) report = redactReport(report, redactor);
  if (bundle) pointAtBundle(report, bundle, core, f.coreTemporary || (search?.removable && !o.keepOriginal));

  // The kernel's own copy goes once ours is safe (report.json names the bundle's copy). Unlinking
  // a 1.2 GB core took 0.3 s here (bench/crash-to-report.mjs), so it runs beside writing
  // report.json and meta.json, not before them; the capture ends when both are done. meta.json
  // says it is gone; a removal that fails is still a problem of the capture, in its result.
  const original = core.originalPath;
  const removing =
    bundle && core.stored && search?.removable && !o.keepOriginal && original
      ? rm(original, { force: true }).catch((e) => problem(e, "E_CORE_REMOVE"))
      : undefined;
  if (removing) core.originalPath = undefined;
  if (bundle && o.layout) await finishCapture(o, o.layout, bundle, report, core, problems);
  await removing;
  return { bundle, report, core, problems };
}

/** 1. The bundle (meta.json "capturing") and the output tails, before anything can fail. */
async function openCrashBundle(
  f: CrashFacts,
  layout: StoreLayout,
  problem: (e: unknown, code: string) => void,
  redactor: Redactor,
): Promise<Bundle | null> {
  let bundle: Bundle | null = null;
  try {
    bundle = await createBundle(layout, metaOf(f, redactor));
    await writeOutput(bundle, f, redactor);
  } catch (e) {
    problem(e, "E_STORE_WRITE");
  }
  return bundle;
}

/** The output tails, as text files of the bundle (rewritten when a first report's bundle is adopted). */
async function writeOutput(
  bundle: Bundle,
  f: Pick<CrashFacts, "stdoutTail" | "stderrTail">,
  redactor: Redactor,
): Promise<void> {
  await writeBundleFile(bundle, "stdout.txt", redactor.text(f.stdoutTail));
  await writeBundleFile(bundle, "stderr.txt", redactor.text(f.stderrTail));
}

/** meta.json's facts of the process (the end as known: the first report's has none yet). */
function metaOf(
  f: DumpingFacts & Partial<Pick<CrashFacts, "ended" | "endedAt" | "type">>,
  redactor: Redactor,
) {
  return {
    type: f.type ?? "crash",
    outcome: f.ended?.outcome ?? "crash",
    pid: f.pid,
    exitCode: f.ended?.exitCode ?? null,
    signal: f.ended?.signal ?? null,
    startedAt: f.startedAt.toISOString(),
    ...(f.endedAt ? { endedAt: f.endedAt.toISOString() } : {}),
    cmdline: redactor.deep(f.cmdline),
    cwd: f.cwd,
    envNames: f.envNames,
    goVersion: f.binary?.identity?.goVersion ?? null,
    binary: f.binary
      ? {
          path: f.binary.path,
          ...(f.binary.sha256 ? { sha256: f.binary.sha256 } : {}),
          goBuildId: f.binary.identity?.goBuildId ?? null,
          gnuBuildId: f.binary.identity?.gnuBuildId ?? null,
          goVersion: f.binary.identity?.goVersion ?? null,
          hasDwarf: f.binary.identity?.hasDwarf ?? false,
        }
      : null,
    core: { found: false, reason: "still capturing" },
    generation: f.generation ?? null,
  } satisfies Parameters<typeof createBundle>[1];
}

/**
 * The first report: the bundle opened while the kernel still writes the core, with report.json
 * from the traceback alone (culprit, panic value, goroutine groups). The capture that follows the
 * exit adopts the bundle (captureCrash) and replaces the report with the full one. Null when
 * there is no store or it cannot be written: the capture then goes the usual way.
 */
export async function openFirstReport(
  f: DumpingFacts,
  traceback: Traceback,
  o: Pick<CaptureOptions, "layout" | "analyze">,
): Promise<FirstReportBundle | null> {
  if (!o.layout) return null;
  const redactor = redactorFor(o.analyze);
  let bundle: Bundle | null = null;
  try {
    bundle = await createBundle(o.layout, metaOf(f, redactor));
    await writeOutput(bundle, f, redactor);
    const at = new Date();
    let report = reportFromTracebackOnly(
      traceback,
      {
        found: false,
        reason: "the kernel is still writing the core: this report is from the traceback alone",
      },
      f.binary?.identity?.modulePath ?? null,
    );
    report.process = {
      pid: f.pid,
      generation: f.generation ?? null,
      command: f.cmdline,
      startedAt: f.startedAt.toISOString(),
      time: at.toISOString(),
    };
    report.fingerprint = signatureOf(report).fingerprint;
    if (redactor.active) report = redactReport(report, redactor);
    await writeBundleFile(bundle, "report.json", renderJson(report));
    // `hotdump crashes` lists it (incomplete) with its culprit while the core is written.
    bundle.meta = {
      ...bundle.meta,
      kind: report.kind,
      message: headline(report),
      culprit: report.culprit,
      ...(report.fingerprint ? { fingerprint: report.fingerprint } : {}),
      firstReportAt: at.toISOString(),
    };
    await saveMeta(bundle.dir, bundle.meta);
    return { bundle, report, at };
  } catch {
    if (bundle) await rm(bundle.dir, { recursive: true, force: true }).catch(() => {});
    return null;
  }
}

/** A first report nobody adopted (the process did not crash after all, another one did). */
export async function discardFirstReport(e: FirstReportBundle): Promise<void> {
  await rm(e.bundle.dir, { recursive: true, force: true }).catch(() => {});
}

/** The first report's bundle, now with the process's end and its final output. */
async function adoptFirstReport(
  f: CrashFacts,
  e: FirstReportBundle,
  problem: (e: unknown, code: string) => void,
  redactor: Redactor,
): Promise<Bundle> {
  const { bundle } = e;
  bundle.meta = { ...bundle.meta, ...metaOf(f, redactor), firstReportAt: e.at.toISOString() };
  try {
    await saveMeta(bundle.dir, bundle.meta);
    await writeOutput(bundle, f, redactor);
  } catch (err) {
    problem(err, "E_STORE_WRITE");
  }
  return bundle;
}

/** 2. The core, found wherever core_pattern put it, compressed into the bundle. */
async function storeCore(
  f: CrashFacts,
  bundle: Bundle | null,
  problem: (e: unknown, code: string) => void,
): Promise<{ core: CoreInfo; search: CoreSearch | null; compressing?: Promise<void> }> {
  let search: CoreSearch | null = null;
  if (f.corePath) {
    search = { found: true, path: f.corePath, removable: false };
  } else if (f.claimed?.found) {
    search = f.claimed;
  } else if (f.ended.outcome === "crash" && f.ended.signal) {
    try {
      search = await findCrashCore(f);
    } catch (e) {
      problem(e, "E_CORE_FIND");
    }
  }
  if (!search?.found || !search.path)
    return {
      search,
      core: {
        found: false,
        reason:
          search?.reason ?? f.ended.note ?? (f.ended.outcome === "crash" ? "no core was found" : "no crash"),
        ...(search?.code ? { code: search.code } : {}),
      },
    };
  const core: CoreInfo = { found: true, originalPath: search.path };
  if (search.compressed) {
    // hotdump's core handler compressed it while the kernel wrote it: the bundle takes it by a
    // rename (incoming/ is in the store), and Delve and gdb read a sparse decompressed copy.
    try {
      let zst = search.path;
      if (bundle) {
        zst = join(bundle.dir, "core.zst");
        await rename(search.path, zst);
        Object.assign(core, {
          stored: "core.zst",
          compression: "zstd",
          storedBytes: (await stat(zst)).size,
        });
      }
      const raw = join(bundle?.dir ?? dirname(zst), `core.${f.pid}.raw`);
      await decompressFile(zst, raw);
      core.bytes = (await stat(raw)).size;
      core.originalPath = raw;
      search = { ...search, path: raw, removable: true };
    } catch (e) {
      problem(e, "E_STORE_COMPRESS");
    }
    return { core, search };
  }
  if (!bundle) return { core, search };
  // Compressed while the core is proven and analysed (zstd and Delve each take a CPU); the
  // caller awaits it before the report names the stored core.
  const into = bundle.dir;
  const compressing = compressFile(search.path, into).then(
    (c) => {
      Object.assign(core, {
        stored: c.path.slice(into.length + 1),
        compression: c.compression,
        bytes: c.originalBytes,
        storedBytes: c.storedBytes,
      });
    },
    (e) => problem(e, "E_STORE_COMPRESS"),
  );
  return { core, search, compressing };
}

/** 3. Proof that the core and the binary belong together; the core's memory map, read once. */
async function proveCore(
  f: CrashFacts,
  core: CoreInfo,
  search: CoreSearch | null,
  problem: (e: unknown, code: string) => void,
): Promise<Mapping[]> {
  if (!core.found || !core.originalPath) return [];
  try {
    const facts = await readCoreFacts(core.originalPath, f.binary?.identity);
    // A core cut by RLIMIT_CORE keeps its full apparent size (the rest reads as holes), so the
    // ELF reader alone cannot tell: the finder compares the size with the limit too.
    core.truncated = facts.truncated || Boolean(search?.possiblyTruncated);
    if (facts.buildIdMatch !== undefined) {
      core.buildIdMatch = facts.buildIdMatch;
      core.buildIdReason = facts.buildIdReason;
    }
    return facts.memoryMap;
  } catch (e) {
    problem(e, "E_CORE_READ");
    return [];
  }
}

/** 4. Analysis (Delve, then gdb, then the traceback alone), within the capture's deadline. */
async function reportOf(
  f: CrashFacts,
  o: CaptureOptions,
  core: CoreInfo,
  memoryMap: Mapping[],
  problems: Problems,
): Promise<Report> {
  let report: Report;
  let runAnalysis = o.runAnalysis !== false;
  let analyzeOpts = o.analyze ?? {};
  if (o.deadline !== undefined && runAnalysis && core.found) {
    const left = o.deadline - Date.now();
    if (left < 1000) {
      runAnalysis = false;
      problems.push({
        code: "E_CAPTURE_DEADLINE",
        message: `core analysis skipped: the capture deadline passed (crashes queued behind each other); the report is from the traceback${core.stored ? ", and `hotdump analyze` can still read the stored core" : ""}`,
      });
    } else analyzeOpts = { ...analyzeOpts, timeoutMs: Math.min(analyzeOpts.timeoutMs ?? left, left) };
  }
  const binaryForAnalysis = f.binary?.archived ?? f.binary?.path;
  try {
    report = await analyzeWithMap(
      {
        ...analyzeOpts,
        ...(binaryForAnalysis ? { binary: binaryForAnalysis } : {}),
        ...(core.found && core.originalPath && runAnalysis ? { core: core.originalPath } : {}),
        stderr: f.stderrTail,
        traceback: f.traceback,
        ...(f.races ? { races: f.races } : {}),
        coreInfo: core,
        identity: f.binary?.identity ?? null,
        cwd: f.cwd,
        ...(f.binary?.sha256 ? { sha256: f.binary.sha256 } : {}),
      },
      memoryMap,
    );
  } catch (e) {
    problems.push(problemOf(e, "E_ANALYZE"));
    report = reportFromTracebackOnly(f.traceback, core, f.binary?.identity?.modulePath ?? null);
    report.memoryMap = memoryMap;
  }
  report.process = {
    pid: f.pid,
    generation: f.generation ?? null,
    command: f.cmdline,
    startedAt: f.startedAt.toISOString(),
    time: f.endedAt.toISOString(),
  };
  // A program that printed nothing (not Go, or killed before the runtime could speak) still died
  // of something: say of what.
  if (!report.message && f.ended.signal) {
    report.message = describeSignal(f.ended.signal);
    if (report.kind === "unknown") report.kind = "signal";
    report.signal ??= { name: f.ended.signal };
  }
  if (f.type === "snapshot") describeSnapshot(report, f.pid);
  if (f.hang) describeHang(report, f.traceback, f.hang.reason);
  if (f.recovered) {
    report.kind = "recovered";
    report.recovered = f.recovered;
  }
  // The same bug, the same fingerprint, whichever generation, process or host it happened in.
  report.fingerprint = signatureOf(report).fingerprint;
  return report;
}

/**
 * The report's commands for a stored crash. The kernel's copy goes away (or the snapshot's
 * temporary dump): point at the bundle's core, and at hotdump debug, which decompresses it for dlv.
 */
function pointAtBundle(report: Report, bundle: Bundle, core: CoreInfo, originalGoes: boolean | undefined) {
  if (core.stored && originalGoes) {
    report.next = report.next.filter((n) => !(core.originalPath && n.includes(core.originalPath)));
    report.core = { ...(report.core ?? {}), path: join(bundle.dir, core.stored) };
  }
  // Without a core (a race detector's exit, a panic with GOTRACEBACK other than crash) there is
  // nothing for a debugger to open.
  report.next.unshift(`hotdump report ${bundle.id}`, ...(core.stored ? [`hotdump debug ${bundle.id}`] : []));
}

/** 6. report.json, meta.json and the journal row (finishBundle), then the store's budget. */
async function finishCapture(
  o: CaptureOptions,
  layout: StoreLayout,
  bundle: Bundle,
  report: Report,
  core: CoreInfo,
  problems: Problems,
): Promise<void> {
  // One journal for the crash's row and the budget's evictions. One that cannot be opened is
  // tried again by finishBundle, which says why (after meta.json: the bundle itself is whole).
  let journal: Journal | undefined;
  try {
    journal = o.journal ?? openJournal(layout);
  } catch {
    journal = undefined;
  }
  try {
    const failed = await finishBundle(layout, bundle, report, {
      problems: [...problems],
      core,
      ...(journal ? { journal } : {}),
    });
    problems.push(...failed);
    if (!journal) return;
    try {
      const ev = enforceBudget(layout, o.budget ?? defaultBudget(layout.root), {
        protect: [bundle.id],
        undelivered: journal.undelivered(),
        pinnedBinaries: o.pinnedBinaries ?? [],
      });
      if (ev.evicted.length) {
        journal.markEvicted(ev.evicted);
        journal.append({ event: "evicted", crashIds: ev.evicted, bytesFreed: ev.usedBefore - ev.usedAfter });
      }
    } catch (e) {
      problems.push(problemOf(e, "E_JOURNAL"));
    }
    const held = journal.held();
    if (held > 0) {
      const why = journal.writeError();
      problems.push({
        code: "E_JOURNAL_HELD",
        message: `the journal cannot be written (${why ? describeWrite(why) : "unknown error"}): this crash is held in memory and journalled when space returns`,
      });
    }
  } finally {
    if (!o.journal) journal?.close();
  }
}

const describeWrite = (e: Error) => {
  const code = (e as { code?: string }).code;
  return code === "SQLITE_FULL" || code === "ENOSPC"
    ? `disk full: ${code}`
    : code
      ? `${code}: ${e.message}`
      : e.message;
};
