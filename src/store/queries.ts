/**
 * Questions asked of a store by `crashes`, `history` and the dashboard: what crashed (bundles on
 * disk plus crashes the journal remembers after eviction) and what each generation became.
 */
import { existsSync } from "node:fs";
import { listBundles } from "./bundle.js";
import { type GenerationRow, openJournal } from "./journal.js";
import { storeLayout } from "./layout.js";

export interface CrashListing {
  id: string;
  time: string | null;
  generation: number | null;
  outcome: string | null;
  signal: string | null;
  kind: string | null;
  message: string | null;
  culprit: string | null;
  binarySha256: string | null;
  state: string | null;
  coreStored: boolean;
  buildIdMatch: boolean | null;
  evicted: boolean;
  dir: string | null;
  error?: string;
  empty?: true;
  /** The crash signature; null for crashes stored before signatures. */
  fingerprint: string | null;
  /** How many times it happened: 1, or a recovered panic's storm count. */
  count: number;
  /** When it last happened (a recovered panic's storm), else its time. */
  lastSeen: string | null;
}

/** Bundles on disk, plus crashes the journal still counts after their bundle was evicted. */
export function listCrashes(storeDir: string): CrashListing[] {
  const layout = storeLayout(storeDir);
  const out: CrashListing[] = listBundles(layout).map((b) => {
    // Snapshots stored before they had their own kind said `unknown` with a made-up culprit.
    const snapshot = b.meta?.type === "snapshot";
    return {
      id: b.id,
      time: b.meta?.createdAt ?? null,
      generation: b.meta?.generation ?? null,
      outcome: b.meta?.outcome ?? null,
      signal: b.meta?.signal ?? null,
      kind: snapshot ? "snapshot" : (b.meta?.kind ?? null),
      message: b.meta?.message || (snapshot ? `snapshot of pid ${b.meta?.pid ?? "?"}` : null),
      culprit:
        b.meta?.culprit && !snapshot
          ? `${b.meta.culprit.function} ${b.meta.culprit.file}:${b.meta.culprit.line}`
          : null,
      binarySha256: b.meta?.binary?.sha256 ?? null,
      state: b.meta?.state ?? null,
      coreStored: Boolean(b.meta?.core.stored),
      buildIdMatch: b.meta?.core.buildIdMatch ?? null,
      evicted: false,
      dir: b.dir,
      ...(b.error ? { error: b.error } : {}),
      ...(b.empty ? { empty: true as const } : {}),
      fingerprint: b.meta?.fingerprint ?? null,
      count: b.meta?.count ?? 1,
      lastSeen: b.meta?.lastSeen ?? b.meta?.createdAt ?? null,
    };
  });
  if (existsSync(layout.journal)) {
    const seen = new Set(out.map((c) => c.id));
    const j = openJournal(layout, { readonly: true });
    try {
      for (const c of j.crashes())
        if (!seen.has(c.id))
          out.push({
            id: c.id,
            time: c.ts,
            generation: c.generation,
            outcome: c.outcome,
            signal: c.signal,
            kind: c.kind,
            message: c.message,
            culprit: c.culprit,
            binarySha256: c.binarySha256,
            state: null,
            coreStored: false,
            buildIdMatch: null,
            evicted: true,
            dir: null,
            fingerprint: c.fingerprint ?? null,
            count: c.count ?? 1,
            lastSeen: c.lastSeen ?? c.ts,
          });
    } finally {
      j.close();
    }
  }
  return out.sort((a, b) => (b.time ?? "").localeCompare(a.time ?? ""));
}

/** A journal generation row (its number as `generation`) and what became of it. */
export interface GenerationListing extends Omit<GenerationRow, "n"> {
  generation: number;
  /** What became of it: ready, crashed, rolled back, stopped... (the last lifecycle event). */
  status: string;
  /** How many times it was started again after it ended by itself (crashed or exited). */
  restarts: number;
  pids: number[];
  crashIds: string[];
}

export function listGenerations(storeDir: string): GenerationListing[] {
  const layout = storeLayout(storeDir);
  if (!existsSync(layout.journal)) return [];
  const j = openJournal(layout, { readonly: true });
  try {
    const events = j.events({ limit: 1_000_000 });
    return j.generations().map((g) => {
      const mine = events.filter((e) => e.generation === g.n);
      const starts = mine.filter((e) => e.event === "started");
      const pids = starts.map((e) => e.pid).filter((p): p is number => typeof p === "number");
      const lastPid = pids.at(-1);
      // `run` restarts a crashed generation before its capture ends, so the crash event may be
      // written after the new process's `ready`: an event of an earlier process (runPid, else pid)
      // says what became of that process, not of the generation.
      const earlier = (e: (typeof mine)[number]) => {
        const p = typeof e.runPid === "number" ? e.runPid : e.pid;
        return typeof p === "number" && p !== lastPid && pids.includes(p);
      };
      const last = [...mine]
        .reverse()
        .find(
          (e) =>
            ["ready", "switch", "stopped", "exited", "crash", "rollback", "started"].includes(e.event) &&
            !earlier(e),
        );
      const { n, ...row } = g;
      return {
        generation: n,
        ...row,
        status: last?.event ?? "built",
        restarts: Math.max(0, starts.length - 1),
        pids: [...new Set(pids)],
        // Recovered panics are records of their generation too (it kept running).
        crashIds: mine
          .filter((e) => (e.event === "crash" || e.event === "recovered-panic") && e.crashId)
          .map((e) => e.crashId as string),
      };
    });
  } finally {
    j.close();
  }
}
