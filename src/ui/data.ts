/**
 * What the dashboard's API returns, read from the store on each request (bundles and the journal
 * are the truth; the UI keeps no state of its own). The journal is opened read-only: with WAL a
 * reader sees every commit of a supervisor in another process on its next query.
 */
import { existsSync } from "node:fs";
import { listSignatureGroups, type SignatureGroup } from "../analyze/signatureGroups.js";
import type { Report } from "../contracts/index.js";
import { HotdumpError } from "../errors.js";
import { siteClassText } from "../report/index.js";
import {
  type Bundle,
  bundleFile,
  type CrashMeta,
  type GenerationRow,
  type Journal,
  type JournalEvent,
  openBundle,
  openJournal,
  readBundleReport,
  type StoreLayout,
} from "../store/index.js";
import { type CrashListing, listCrashes } from "../store/queries.js";
import { readFileTail } from "../util/tail.js";

const OVERVIEW_EVENTS = 2000;
const OUTPUT_TAIL_BYTES = 16 * 1024;

export type UiEvent = JournalEvent & { id: number };

export interface Overview {
  store: string;
  now: string;
  lastEventId: number;
  generations: GenerationRow[];
  events: UiEvent[];
  crashes: CrashListing[];
  /** The crashes by signature, with where each first appeared (`hotdump crashes`). */
  signatures: SignatureGroup[];
}

export interface CrashDetail {
  id: string;
  meta: CrashMeta;
  report: Report | null;
  reportError?: string;
  stdoutTail: string | null;
  stderrTail: string | null;
  debugCommand: string;
  coreDownload: boolean;
  /** Where the crash happened when not at the culprit ("a dependency", "C code"), named as the
   * text report names it (src/report/present.ts): the dashboard keeps no wording of its own. */
  siteIn: string | null;
}

/** A journal reader that survives the journal not existing yet (a fresh store). */
export interface JournalReader {
  get(): Journal | null;
  close(): void;
}

export function createJournalReader(layout: StoreLayout): JournalReader {
  let j: Journal | null = null;
  return {
    get() {
      if (j) return j;
      if (!existsSync(layout.journal)) return null;
      try {
        j = openJournal(layout, { readonly: true });
      } catch {
        j = null;
      }
      return j;
    },
    close() {
      j?.close();
      j = null;
    },
  };
}

export async function overview(
  layout: StoreLayout,
  journal: Journal | null,
  lastEventId: number,
): Promise<Overview> {
  const events = journal ? journal.events({ sinceId: Math.max(0, lastEventId - OVERVIEW_EVENTS) }) : [];
  return {
    store: layout.root,
    now: new Date().toISOString(),
    lastEventId: events.at(-1)?.id ?? lastEventId,
    generations: journal ? journal.generations() : [],
    events,
    crashes: withGenerations(listCrashes(layout.root), events),
    signatures: await listSignatureGroups(layout.root),
  };
}

/** `hotdump exec` bundles carry no generation; a supervisor's `crash` event names it. */
function withGenerations(crashes: CrashListing[], events: UiEvent[]): CrashListing[] {
  const gen = new Map<string, number>();
  for (const e of events)
    if (
      (e.event === "crash" || e.event === "recovered-panic") &&
      e.crashId &&
      typeof e.generation === "number"
    )
      gen.set(e.crashId, e.generation);
  return crashes.map((c) =>
    c.generation === null && gen.has(c.id) ? { ...c, generation: gen.get(c.id)! } : c,
  );
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function debugCommand(storeDir: string, id: string): string {
  return `hotdump debug ${id} --store ${shellQuote(storeDir)}`;
}

/** The bundle's report (upgraded, checked: readBundleReport), or why the dashboard shows none. */
export function readReport(bundle: Bundle): { report: Report | null; error?: string } {
  try {
    return { report: readBundleReport(bundle) };
  } catch (e) {
    return {
      report: null,
      error:
        e instanceof HotdumpError && e.code === "E_REPORT_MISSING"
          ? "this bundle has no report.json (the capture was interrupted, or analysis was skipped)"
          : (e as HotdumpError).shortMessage,
    };
  }
}

/** Throws the store's typed errors (E_BAD_CRASH_ID, E_CRASH_NOT_FOUND) for the server to map. */
export function crashDetail(
  layout: StoreLayout,
  id: string,
  coreDownload: boolean,
  journal: Journal | null,
): CrashDetail {
  const bundle = openBundle(layout, id);
  if (bundle.meta.generation === null && journal) {
    const ev = journal.events().find((e) => e.event === "crash" && e.crashId === id);
    if (typeof ev?.generation === "number") bundle.meta.generation = ev.generation;
  }
  const { report, error } = readReport(bundle);
  return {
    id,
    meta: bundle.meta,
    report,
    ...(error ? { reportError: error } : {}),
    stdoutTail: readFileTail(bundleFile(bundle, "stdout.txt"), OUTPUT_TAIL_BYTES),
    stderrTail: readFileTail(bundleFile(bundle, "stderr.txt"), OUTPUT_TAIL_BYTES),
    debugCommand: debugCommand(layout.root, id),
    coreDownload: coreDownload && Boolean(bundle.meta.core.stored),
    siteIn: report?.site ? siteClassText(report.site.class) : null,
  };
}
