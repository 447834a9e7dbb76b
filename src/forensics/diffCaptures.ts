/**
 * What changed between two captures of the same service: goroutine groups (by state and user
 * location, so a leak per reload is one line: `+1000 main.leakyWorker [chan receive] main.go:46`),
 * goroutine totals, and the heap in use. Groups are formed the one way every analyser forms them
 * (src/analyze/goroutineGroups.ts): from each bundle's report.json when it holds every goroutine in groups
 * of that kind, else recomputed from Delve's goroutine list with the same function. Two groups
 * at one line with different wait reasons stay two lines on both sides.
 */
import {
  createDelveSession,
  type DelveSession,
  type dlv,
  listGoroutineGroups,
  targetGoVersion,
} from "../analyze/delve/index.js";
import type { FrameClass, GoroutineGroup, Report } from "../contracts/index.js";
import { readBinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import { openBundle, readBundleReport, readStore } from "../store/index.js";
import { openStoredCapture } from "./stored.js";

export interface GroupCount {
  function: string;
  file: string;
  line: number;
  count: number;
  /** The wait reason or status (`chan receive`, `running`): part of the group's identity. */
  state: string;
  class?: FrameClass;
}

interface CaptureSide {
  id: string;
  type: "crash" | "snapshot";
  createdAt: string;
  generation: number | null;
  goroutines: number;
  /** Bytes in in-use heap spans (runtime.gcController.heapInUse); null when Delve could not say. */
  heapInUse: number | null;
  groups: GroupCount[];
  /** Where the groups came from. */
  source: "report" | "delve";
}

interface GroupChange {
  function: string;
  state: string;
  file: string;
  line: number;
  before: number;
  after: number;
  delta: number;
  change: "grew" | "shrank" | "appeared" | "vanished";
}

export interface CaptureDiff {
  a: CaptureSide;
  b: CaptureSide;
  goroutinesDelta: number;
  heapInUseDelta: number | null;
  /** Largest |delta| first. */
  changes: GroupChange[];
  notes: string[];
}

interface DiffOptions {
  /** Ask Delve for heap-in-use and full groups (default true). */
  delve?: boolean;
  dlvPath?: string;
  /** Group again from Delve's goroutine list even when report.json's groups are complete. */
  regroup?: boolean;
}

const key = (g: GroupCount) => `${g.state}\u0000${g.function}\u0000${g.file}:${g.line}`;

export async function diffCaptures(
  storeDir: string,
  idA: string,
  idB: string,
  o: DiffOptions = {},
): Promise<CaptureDiff> {
  const notes: string[] = [];
  const [a, b] = [await loadSide(storeDir, idA, o, notes), await loadSide(storeDir, idB, o, notes)];
  const before = new Map(a.groups.map((g) => [key(g), g]));
  const after = new Map(b.groups.map((g) => [key(g), g]));
  const changes: GroupChange[] = [];
  for (const k of new Set([...before.keys(), ...after.keys()])) {
    const x = before.get(k);
    const y = after.get(k);
    const n0 = x?.count ?? 0;
    const n1 = y?.count ?? 0;
    if (n0 === n1) continue;
    const g = (y ?? x)!;
    changes.push({
      function: g.function,
      state: g.state,
      file: g.file,
      line: g.line,
      before: n0,
      after: n1,
      delta: n1 - n0,
      change: n0 === 0 ? "appeared" : n1 === 0 ? "vanished" : n1 > n0 ? "grew" : "shrank",
    });
  }
  changes.sort((p, q) => Math.abs(q.delta) - Math.abs(p.delta) || p.function.localeCompare(q.function));
  return {
    a,
    b,
    goroutinesDelta: b.goroutines - a.goroutines,
    heapInUseDelta: a.heapInUse !== null && b.heapInUse !== null ? b.heapInUse - a.heapInUse : null,
    changes,
    notes,
  };
}

async function loadSide(storeDir: string, id: string, o: DiffOptions, notes: string[]): Promise<CaptureSide> {
  const bundle = openBundle(readStore(storeDir), id);
  let report: Report | null = null;
  try {
    report = readBundleReport(bundle);
  } catch (e) {
    const damaged = e instanceof HotdumpError && e.code === "E_REPORT_CORRUPT";
    notes.push(damaged ? e.shortMessage : `${id}: no readable report.json`);
  }
  const reportGroups = report?.goroutines.groups ?? [];
  const total = report?.goroutines.total ?? 0;
  const side: CaptureSide = {
    id,
    type: bundle.meta.type,
    createdAt: bundle.meta.createdAt,
    generation: bundle.meta.generation,
    goroutines: total,
    heapInUse: null,
    groups: reportGroups.map(fromReport),
    source: "report",
  };
  if (o.delve === false) return side;
  // The report's groups are used as they are only when they hold every goroutine and were formed
  // the one way (every group has a `class`; reports written before that carry Delve's own groups,
  // labelled with one member's state).
  const complete =
    reportGroups.length > 0 &&
    reportGroups.reduce((n, g) => n + g.count, 0) === total &&
    reportGroups.every((g) => g.class !== undefined);
  let stored: Awaited<ReturnType<typeof openStoredCapture>> | null = null;
  let session: DelveSession | null = null;
  try {
    stored = await openStoredCapture(storeDir, id, { requireBinary: true });
    session = await createDelveSession({
      binary: stored.binary!,
      core: stored.core,
      ...(o.dlvPath ? { dlvPath: o.dlvPath } : {}),
    });
    side.heapInUse = await heapInUse(session);
    if (side.heapInUse === null)
      notes.push(`${id}: runtime.gcController.heapInUse is not readable with this Go version`);
    if (!complete || o.regroup) {
      const identity = await readBinaryIdentity(stored.binary!).catch(() => null);
      const got = await listGoroutineGroups(session, {
        goVersion: targetGoVersion(session.version),
        classify: { modulePath: identity?.modulePath ?? null },
        maxGroups: Number.POSITIVE_INFINITY,
      });
      side.groups = got.groups.map(fromReport);
      side.goroutines = got.total;
      side.source = "delve";
    }
  } catch (e) {
    notes.push(
      `${id}: Delve unavailable (${(e as { shortMessage?: string }).shortMessage ?? (e as Error).message}); groups from report.json only`,
    );
  } finally {
    await session?.close();
    await stored?.release();
  }
  return side;
}

const fromReport = (g: GoroutineGroup): GroupCount => ({
  function: g.function,
  file: g.file,
  line: g.line,
  count: g.count,
  state: g.state,
  ...(g.class !== undefined ? { class: g.class } : {}),
});

/**
 * runtime.gcController.heapInUse (mgcpacer.go): bytes in in-use heap spans, what MemStats.HeapInuse
 * reports. Verified on Go 1.26 with Delve 1.27.2; runtime.memstats has no heapInUse there. Delve
 * may show the atomic wrapper struct or its value, so the first number inside is taken.
 */
async function heapInUse(s: DelveSession): Promise<number | null> {
  try {
    const v = (
      await s.call("Eval", {
        Scope: { GoroutineID: -1, Frame: 0, DeferredCall: 0 },
        Expr: "runtime.gcController.heapInUse",
        Cfg: {
          FollowPointers: false,
          MaxVariableRecurse: 2,
          MaxStringLen: 0,
          MaxArrayValues: 0,
          MaxStructFields: -1,
        },
      })
    ).Variable;
    const n = firstNumber(v);
    return n === null ? null : Number(n);
  } catch {
    return null;
  }
}

function firstNumber(v: dlv.Variable): string | null {
  if (/^\d+$/.test(v.value)) return v.value;
  for (const c of v.children ?? []) {
    const n = firstNumber(c);
    if (n !== null) return n;
  }
  return null;
}

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

function formatBytesDelta(n: number): string {
  const abs = Math.abs(n);
  const s =
    abs >= 1 << 20
      ? `${(abs / (1 << 20)).toFixed(1)} MB`
      : abs >= 1024
        ? `${(abs / 1024).toFixed(1)} KB`
        : `${abs} B`;
  return `${n < 0 ? "-" : "+"}${s}`;
}

/** The text form: totals, then one line per changed group, largest change first. */
export function renderDiff(d: CaptureDiff): string {
  const lines: string[] = [];
  const side = (s: CaptureSide) =>
    `${s.id} (${s.type}${s.generation !== null ? `, generation ${s.generation}` : ""}): ${s.goroutines} goroutines${s.heapInUse !== null ? `, heap in use ${(s.heapInUse / (1 << 20)).toFixed(1)} MB` : ""}`;
  lines.push(`a ${side(d.a)}`, `b ${side(d.b)}`);
  lines.push(
    `goroutines ${signed(d.goroutinesDelta)}${d.heapInUseDelta !== null ? `, heap in use ${formatBytesDelta(d.heapInUseDelta)}` : ""}`,
  );
  if (d.changes.length === 0) lines.push("no goroutine group changed");
  for (const c of d.changes)
    lines.push(
      `${signed(c.delta).padStart(7)}  ${c.change.padEnd(8)} ${c.function} [${c.state}]  ${c.file}:${c.line}  (${c.before} → ${c.after})`,
    );
  for (const n of d.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}
