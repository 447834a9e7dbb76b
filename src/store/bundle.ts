/**
 * A crash bundle: one directory per crash (or live snapshot) holding everything needed to debug it
 * later on another day: meta.json, the compressed core, the output tails, report.json. The binary
 * lives once in binaries/<sha256>/<name> and meta.json names it.
 *
 * meta.json is written first with state "capturing" and rewritten (temp file + rename, never torn)
 * as "complete" or "partial" at the end, so a hotdump killed mid-capture leaves a bundle that says
 * so, and `hotdump crashes` can finish or flag it.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { chmod, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { z } from "zod";
import {
  type Bundle,
  type BundleState,
  type CoreInfo,
  type CrashMeta,
  headline,
  type ListedBundle,
  META_SCHEMA_VERSION,
  type ProcessInfo,
  type Report,
} from "../contracts/index.js";
import { HotdumpError } from "../errors.js";
import { renderJson } from "../report/json.js";
import { reportSchema } from "../report/reportSchema.js";
import { type Journal, openJournal } from "./journal.js";
import { crashDir, DIR_MODE, FILE_MODE, isCrashId, newCrashId, type StoreLayout } from "./layout.js";
import { crashMetaSchema } from "./metaSchema.js";
import { readStoreFile } from "./storeFile.js";

export * from "../contracts/index.js";

async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, data, { mode: FILE_MODE });
    await chmod(tmp, FILE_MODE);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function createBundle(
  layout: StoreLayout,
  init: Omit<CrashMeta, "schemaVersion" | "id" | "state" | "createdAt" | "problems"> & {
    problems?: CrashMeta["problems"];
  },
): Promise<Bundle> {
  let id = newCrashId();
  let dir = crashDir(layout, id);
  for (let i = 0; ; i++) {
    try {
      mkdirSync(dir, { mode: DIR_MODE });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || i > 20) throw e;
      id = newCrashId();
      dir = crashDir(layout, id);
    }
  }
  const meta: CrashMeta = {
    schemaVersion: META_SCHEMA_VERSION,
    id,
    state: "capturing",
    createdAt: new Date().toISOString(),
    problems: [],
    ...init,
  };
  await saveMeta(dir, meta);
  return { id, dir, meta };
}

export const saveMeta = (dir: string, meta: CrashMeta) =>
  writeFileAtomic(join(dir, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`);

export async function writeBundleFile(bundle: Bundle, name: string, data: string | Buffer): Promise<void> {
  await writeFileAtomic(join(bundle.dir, name), data);
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

/**
 * A store file that is there but cannot be used: what is wrong first (a listing cut to a column
 * still says it), then the file; every schema problem with --verbose.
 */
function damaged(
  code: string,
  file: string,
  what: string,
  o: { issues?: z.core.$ZodIssue[]; cause?: unknown; remedy?: string } = {},
): HotdumpError {
  const where = (i: z.core.$ZodIssue) => (i.path.length ? i.path.join(".") : "(top)");
  const first = o.issues?.[0];
  const problem = first ? `${where(first)}: ${first.message}` : what;
  return new HotdumpError(
    "store",
    code,
    `${basename(file)} is damaged: ${problem} (${file}${o.remedy ? `; ${o.remedy}` : ""})`,
    {
      ...(o.cause === undefined ? {} : { cause: o.cause }),
      ...(o.issues ? { details: o.issues.map((i) => `${where(i)}: ${i.message}`).join("\n") } : {}),
    },
  );
}

/** meta.json, checked against the contract: a damaged one is E_BUNDLE_CORRUPT naming the file. */
export function readMeta(dir: string): CrashMeta {
  const file = join(dir, "meta.json");
  let text: string;
  try {
    text = readStoreFile(file, "utf8");
  } catch (cause) {
    if (cause instanceof HotdumpError) throw cause;
    throw new HotdumpError("store", "E_BUNDLE_MISSING", `no crash bundle at ${dir}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw damaged("E_BUNDLE_CORRUPT", file, "not valid JSON", { cause });
  }
  const parsed = crashMetaSchema.safeParse(json);
  if (!parsed.success)
    throw damaged("E_BUNDLE_CORRUPT", file, "not a hotdump meta.json", { issues: parsed.error.issues });
  return parsed.data;
}

export function openBundle(layout: StoreLayout, id: string): Bundle {
  const dir = crashDir(layout, id);
  try {
    return { id, dir, meta: readMeta(dir) };
  } catch (e) {
    if (e instanceof HotdumpError && e.code === "E_BUNDLE_MISSING")
      throw new HotdumpError(
        "usage",
        "E_CRASH_NOT_FOUND",
        `no crash ${id} in ${layout.root} (see hotdump crashes)`,
        {
          cause: e,
        },
      );
    throw e;
  }
}

/** The report's process facts from a bundle's meta.json (reports older than them lack them). */
export function processInfoOf(meta: CrashMeta): ProcessInfo {
  return {
    pid: meta.pid ?? null,
    generation: meta.generation,
    command: meta.cmdline,
    startedAt: meta.startedAt ?? null,
    time: meta.endedAt ?? meta.createdAt,
  };
}

/**
 * A bundle's report.json, checked against the contract and brought up to it: the one place reports
 * written by an older hotdump are upgraded. Missing: E_REPORT_MISSING; damaged: E_REPORT_CORRUPT,
 * naming the file; either way `hotdump analyze --crash ID` writes it again.
 */
export function readBundleReport(bundle: Bundle): Report {
  const file = bundleFile(bundle, "report.json");
  const again = `run: hotdump analyze --crash ${bundle.id}`;
  let text: string;
  try {
    text = readStoreFile(file, "utf8");
  } catch (cause) {
    if (cause instanceof HotdumpError) throw cause;
    throw new HotdumpError(
      "store",
      "E_REPORT_MISSING",
      `crash ${bundle.id} has no readable report.json (was hotdump stopped while analysing? ${again})`,
      { cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw damaged("E_REPORT_CORRUPT", file, "not valid JSON", { cause, remedy: again });
  }
  const parsed = reportSchema.safeParse(json);
  if (!parsed.success)
    throw damaged("E_REPORT_CORRUPT", file, "not a hotdump report", {
      issues: parsed.error.issues,
      remedy: again,
    });
  return upgradeReport(parsed.data, bundle);
}

/**
 * Reports written before these existed: a snapshot claimed a culprit and named its temporary dump
 * (removed right after) as the core; every report lacked the process facts (the schema's defaults
 * leave races [] and process null).
 */
function upgradeReport(report: Report, bundle: Bundle): Report {
  const { meta } = bundle;
  const stored = meta.core.stored ? join(bundle.dir, meta.core.stored) : null;
  if (meta.type === "snapshot" && report.kind !== "snapshot") {
    report.kind = "snapshot";
    report.culprit = null;
    report.message ||= `snapshot of pid ${meta.pid ?? "?"}: the process kept running`;
  }
  if (report.core?.path && !existsSync(report.core.path) && stored)
    report.core = { ...report.core, path: stored };
  report.process ??= processInfoOf(meta);
  return report;
}

export interface Problem {
  code: string;
  message: string;
}

export interface BundleEnd {
  /** What went wrong before (kept in meta.json); what goes wrong here is added. */
  problems: Problem[];
  /** meta.json's state; by default "complete" when there is no problem, else "partial". */
  state?: BundleState;
  /** The core's facts, when they changed since meta.json was written. */
  core?: CoreInfo;
  /** The caller's journal (a supervisor's holds writes a full disk refuses); else one is opened. */
  journal?: Journal;
}

const meta0Time = (b: Bundle) => b.meta.endedAt ?? b.meta.createdAt;

const problemOf = (e: unknown, fallbackCode: string): Problem => ({
  code: e instanceof HotdumpError ? e.code : fallbackCode,
  message: e instanceof HotdumpError ? e.shortMessage : ((e as Error)?.message ?? String(e)),
});

/**
 * The end of a capture or of a re-analysis, the same for both: report.json in the text
 * `hotdump report -f json` prints, meta.json's summary of it (state, core, kind, message, culprit,
 * problems), and the journal's row. Each step is tried even when one before it failed; the problems
 * of these steps are returned (and those before the meta.json write are in it), never thrown.
 */
export async function finishBundle(
  layout: StoreLayout,
  bundle: Bundle,
  report: Report,
  end: BundleEnd,
): Promise<Problem[]> {
  const failed: Problem[] = [];
  try {
    await writeBundleFile(bundle, "report.json", renderJson(report));
  } catch (e) {
    failed.push(problemOf(e, "E_STORE_WRITE"));
  }
  const problems = [...end.problems, ...failed];
  const meta: CrashMeta = {
    ...bundle.meta,
    state: end.state ?? (problems.length === 0 ? "complete" : "partial"),
    core: end.core ?? bundle.meta.core,
    kind: report.kind,
    message: headline(report),
    culprit: report.culprit,
    problems,
    ...(report.fingerprint ? { fingerprint: report.fingerprint } : {}),
    // A recovered panic starts its count here; the recorder raises it (capture/recoveredRecorder.ts).
    ...(report.recovered
      ? {
          recoveredBy: report.recovered.by,
          count: bundle.meta.count ?? 1,
          lastSeen: bundle.meta.lastSeen ?? report.process?.time ?? meta0Time(bundle),
        }
      : {}),
  };
  bundle.meta = meta;
  try {
    await saveMeta(bundle.dir, meta);
  } catch (e) {
    failed.push(problemOf(e, "E_STORE_WRITE"));
  }
  try {
    const journal = end.journal ?? openJournal(layout);
    try {
      journal.recordCrash({
        id: bundle.id,
        ts: meta.createdAt,
        generation: meta.generation,
        outcome: meta.outcome,
        signal: meta.signal,
        kind: report.kind,
        message: report.message,
        culprit: report.culprit
          ? `${report.culprit.function} ${report.culprit.file}:${report.culprit.line}`
          : null,
        binarySha256: meta.binary?.sha256 ?? null,
        fingerprint: report.fingerprint ?? null,
        ...(meta.count ? { count: meta.count, lastSeen: meta.lastSeen ?? null } : {}),
      });
    } finally {
      if (!end.journal) journal.close();
    }
  } catch (e) {
    failed.push(problemOf(e, "E_JOURNAL"));
  }
  return failed;
}

/** Every bundle, newest first. Unreadable ones are listed with their error, not dropped. */
export function listBundles(layout: StoreLayout): ListedBundle[] {
  let names: string[];
  try {
    names = readdirSync(layout.crashes);
  } catch {
    return [];
  }
  return names
    .filter(isCrashId)
    .sort()
    .reverse()
    .map((id) => {
      const dir = join(layout.crashes, id);
      try {
        return { id, dir, meta: readMeta(dir) };
      } catch (e) {
        if (isEmptyDir(dir))
          return {
            id,
            dir,
            meta: null,
            error: "nothing was written: the capture could not even write meta.json (a full disk?)",
            empty: true as const,
          };
        return { id, dir, meta: null, error: (e as HotdumpError).shortMessage ?? String(e) };
      }
    });
}

export function bundleFile(bundle: Bundle, name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith(".."))
    throw new HotdumpError("store", "E_BAD_NAME", `bad bundle file name ${name}`);
  return join(bundle.dir, name);
}
