/**
 * The store's crashes grouped by signature (src/analyze/signature.ts), each group with where it
 * first appeared: the first generation it was seen in, that build's `vcs.revision` and
 * `vcs.modified` (Go's build info), and the files changed between the last generation that ran
 * without it and the first with it ("first seen in generation 14, after editing orders.go,
 * cart.go"). A signature seen again after a generation that had fixed it is a regression.
 *
 * A generation "fixed" a signature when it ran, did not show it, and either changed the culprit's
 * file (dev records the files each build changed) or, where nothing records changed files (a
 * `run` deploy), simply ran without it. A dev generation that changed other files and was never
 * asked the request that crashes is no evidence of a fix.
 */
import type { Report } from "../contracts/index.js";
import { readBinaryIdentity } from "../elf/index.js";
import {
  type CrashListing,
  type GenerationListing,
  listCrashes,
  listGenerations,
  readBundleReport,
  readMeta,
} from "../store/index.js";
import { signatureOf } from "./signature.js";

export interface FirstSeen {
  generation: number;
  /** The build's `vcs.revision` / `vcs.modified` (null when the build carries no VCS stamp). */
  revision: string | null;
  modified: boolean | null;
  /** The last generation before it that ran without it (null: none ran before). */
  after: number | null;
  /** Files changed in the generations after `after` up to `generation` (dev's per-build list). */
  changed: string[];
}

export interface SignatureGroup {
  fingerprint: string;
  kind: string | null;
  message: string | null;
  culprit: string | null;
  /** Occurrences: crashes, plus every recount of a recovered panic. */
  count: number;
  crashIds: string[];
  firstSeen: string | null;
  lastSeen: string | null;
  generations: number[];
  first: FirstSeen | null;
  /** Back after a generation had fixed it: the fixing generation and the one it came back in. */
  regression: { fixedIn: number; backIn: number } | null;
}

/** A crash stored before signatures: its fingerprint from its report, else from what is listed. */
function fingerprintOf(c: CrashListing): string {
  if (c.fingerprint) return c.fingerprint;
  // Unreadable or cut short: nothing to compare, a group of its own (listed, never hidden).
  if (c.error || c.state === "capturing") return `${c.error ? "unreadable" : "incomplete"}:${c.id}`;
  if (c.dir) {
    try {
      const r = readBundleReport({ id: c.id, dir: c.dir, meta: readMeta(c.dir) });
      return r.fingerprint ?? signatureOf(r).fingerprint;
    } catch {
      // no readable report: what the listing says
    }
  }
  const fn = c.culprit?.split(" ")[0];
  return signatureOf({
    kind: (c.kind ?? "unknown") as Report["kind"],
    message: c.message ?? "",
    culprit: fn ? { function: fn, file: "", line: 0 } : null,
    goroutine: null,
    races: [],
  }).fingerprint;
}

const ran = (g: GenerationListing) => g.pids.length > 0;

function touches(g: GenerationListing, culprit: string | null): boolean {
  const file = culprit?.split(" ")[1]?.replace(/:\d+$/, "");
  if (!file) return false;
  return g.changed.some((c) => file === c || file.endsWith(`/${c.replace(/^\.\//, "")}`));
}

export async function listSignatureGroups(storeDir: string): Promise<SignatureGroup[]> {
  const crashes = listCrashes(storeDir);
  const gens = listGenerations(storeDir);
  const byN = new Map(gens.map((g) => [g.generation, g]));
  const groups = new Map<string, SignatureGroup>();
  for (const c of [...crashes].reverse()) {
    if (c.kind === "snapshot") continue;
    const fp = fingerprintOf(c);
    let g = groups.get(fp);
    if (!g) {
      g = {
        fingerprint: fp,
        kind: c.error ? "unreadable" : c.state === "capturing" ? "incomplete" : c.kind,
        message:
          c.error ??
          (c.state === "capturing" ? "capture interrupted: hotdump stopped before the report" : c.message),
        culprit: c.culprit,
        count: 0,
        crashIds: [],
        firstSeen: c.time,
        lastSeen: null,
        generations: [],
        first: null,
        regression: null,
      };
      groups.set(fp, g);
    }
    g.count += c.count;
    g.crashIds.unshift(c.id);
    const last = c.lastSeen ?? c.time;
    if (last && (!g.lastSeen || last > g.lastSeen)) g.lastSeen = last;
    if (c.generation !== null && !g.generations.includes(c.generation)) g.generations.push(c.generation);
    // The newest crash's words describe the group.
    if (!c.error && c.state !== "capturing") g.message = c.message ?? g.message;
    g.culprit = c.culprit ?? g.culprit;
  }
  const identities = new Map<string, Promise<Record<string, string> | null>>();
  const settingsOf = (path: string) => {
    let p = identities.get(path);
    if (!p) {
      p = readBinaryIdentity(path).then(
        (id) => id.buildSettings,
        () => null,
      );
      identities.set(path, p);
    }
    return p;
  };
  for (const g of groups.values()) {
    g.generations.sort((a, b) => a - b);
    const n = g.generations[0];
    const gen = n === undefined ? undefined : byN.get(n);
    if (n !== undefined && gen) {
      const before = gens.filter((x) => x.generation < n && ran(x) && !g.generations.includes(x.generation));
      const after = before.at(-1)?.generation ?? null;
      const changed = [
        ...new Set(
          gens
            .filter((x) => x.generation > (after ?? Number.NEGATIVE_INFINITY) && x.generation <= n)
            .flatMap((x) => x.changed),
        ),
      ];
      const settings = await settingsOf(gen.binary);
      const modified = settings?.["vcs.modified"];
      g.first = {
        generation: n,
        revision: settings?.["vcs.revision"] ?? null,
        modified: modified === undefined ? null : modified === "true",
        after,
        changed,
      };
    }
    for (let i = 1; i < g.generations.length; i++) {
      const a = g.generations[i - 1] as number;
      const b = g.generations[i] as number;
      const fixer = gens.find(
        (x) =>
          x.generation > a &&
          x.generation < b &&
          ran(x) &&
          (x.source === "run" ? true : touches(x, g.culprit)),
      );
      if (fixer) g.regression = { fixedIn: fixer.generation, backIn: b };
    }
  }
  return [...groups.values()].sort((a, b) => (b.lastSeen ?? "").localeCompare(a.lastSeen ?? ""));
}

/** "first seen in generation 14 (a1b2c3d4e5f6, modified), after editing orders.go, cart.go" */
export function firstSeenText(g: SignatureGroup): string {
  const f = g.first;
  if (!f) return "";
  const rev = f.revision ? ` (${f.revision.slice(0, 12)}${f.modified ? ", modified" : ""})` : "";
  const files = f.changed.map((c) => c.split("/").pop() ?? c);
  const edits =
    files.length > 0
      ? `, after editing ${files.slice(0, 4).join(", ")}${files.length > 4 ? ` +${files.length - 4}` : ""}`
      : "";
  return `first seen in generation ${f.generation}${rev}${edits}`;
}
