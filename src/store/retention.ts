/**
 * The store's size budget, after systemd-coredump's coredump.conf: MaxUse (default 10% of the
 * file system, capped at 4 GiB) and KeepFree (default 15%, capped at 4 GiB). Oldest bundles go
 * first; the crash just captured is never deleted, and binaries go only when no remaining bundle
 * (or generation the caller pins) names them and no process runs them. A bundle queued for the
 * fleet and not yet delivered (`undelivered`, from the journal's outbox) is never deleted: the
 * local store is the fleet's outbox. Eviction is counted by the caller in the journal, so
 * an evicted crash is still counted.
 */
import { readdirSync, readlinkSync, rmSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import { listBundles } from "./bundle.js";
import type { StoreLayout } from "./layout.js";

const GiB = 1024 ** 3;

export interface Budget {
  maxUse: number;
  keepFree: number;
}

export function defaultBudget(root: string): Budget {
  const s = statfsSync(root);
  const total = s.blocks * s.bsize;
  return { maxUse: Math.min(total * 0.1, 4 * GiB), keepFree: Math.min(total * 0.15, 4 * GiB) };
}

/** Bytes really used on disk (sparse files count their blocks, not their length). */
export function diskUsage(path: string): number {
  let total = 0;
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return Number(st.blocks) * 512;
  total += Number(st.blocks) * 512;
  for (const name of readdirSync(path)) total += diskUsage(join(path, name));
  return total;
}

export function freeBytes(root: string): number {
  const s = statfsSync(root);
  return s.bavail * s.bsize;
}

export interface Eviction {
  evicted: string[];
  removedBinaries: string[];
  usedBefore: number;
  usedAfter: number;
}

export function enforceBudget(
  layout: StoreLayout,
  budget: Budget,
  opts: { protect?: string[]; pinnedBinaries?: string[]; undelivered?: string[] } = {},
): Eviction {
  const protect = new Set([...(opts.protect ?? []), ...(opts.undelivered ?? [])]);
  const bundles = listBundles(layout).reverse(); // oldest first
  const sizes = new Map(bundles.map((b) => [b.id, diskUsage(b.dir)]));
  const binSize = (sha: string) => diskUsage(join(layout.binaries, sha));
  let used = [...sizes.values()].reduce((a, b) => a + b, 0) + diskUsage(layout.binaries);
  const usedBefore = used;
  const over = () => used > budget.maxUse || freeBytes(layout.root) < budget.keepFree;
  const evicted: string[] = [];
  for (const b of bundles) {
    if (!over()) break;
    if (protect.has(b.id)) continue;
    rmSync(b.dir, { recursive: true, force: true });
    used -= sizes.get(b.id) ?? 0;
    evicted.push(b.id);
  }
  const removedBinaries: string[] = [];
  if (evicted.length > 0) {
    const referenced = new Set([...(opts.pinnedBinaries ?? []), ...runningFromStore(layout)]);
    for (const b of listBundles(layout)) if (b.meta?.binary?.sha256) referenced.add(b.meta.binary.sha256);
    for (const sha of readdirSync(layout.binaries)) {
      if (referenced.has(sha) || !/^[0-9a-f]{64}$/.test(sha)) continue;
      used -= binSize(sha);
      rmSync(join(layout.binaries, sha), { recursive: true, force: true });
      removedBinaries.push(sha);
    }
  }
  return { evicted, removedBinaries, usedBefore, usedAfter: used };
}

/**
 * SHA-256 names of stored binaries some process is executing now, read from /proc/PID/exe: a
 * generation started from binaries/<sha256> by any supervisor on this store (a handoff keeps the
 * old one running beside the new; `run` in another terminal), or from its pinned second name in
 * tmp/, whatever its bookkeeping says. Its
 * next crash needs that exact file. The link reads "<path> (deleted)" once the file is gone.
 */
export function runningFromStore(layout: StoreLayout): string[] {
  const prefix = `${layout.binaries}/`;
  const pinned = `${layout.tmp}/hotdump-start-`;
  const out = new Set<string>();
  let pids: string[];
  try {
    pids = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue;
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      continue; // gone, a kernel thread, or not ours to see
    }
    // Started from its pinned name: tmp/hotdump-start-PID-<sha256>-XXXXXX/<name> (supervise/pinnedProgram.ts).
    if (exe.startsWith(pinned)) {
      const sha = /^\d+-([0-9a-f]{64})-/.exec(exe.slice(pinned.length))?.[1];
      if (sha) out.add(sha);
      continue;
    }
    if (!exe.startsWith(prefix)) continue;
    // binaries/<sha256>/<name> (binaries/<sha256> in stores written before programs kept their names).
    const sha =
      exe
        .slice(prefix.length)
        .replace(/ \(deleted\)$/, "")
        .split("/")[0] ?? "";
    if (/^[0-9a-f]{64}$/.test(sha)) out.add(sha);
  }
  return [...out];
}

/**
 * Binaries `hotdump dev` no longer needs: every stored binary not named in `keep` (the serving
 * generation's, the one before it, every generation with a crash), not named by a bundle, and not
 * executing now (runningFromStore). The journal keeps each generation's SHA-256 and build IDs, so
 * `history` still lists them; only the file goes. Returns the removed SHA-256s and bytes freed.
 */
export function pruneBinaries(
  layout: StoreLayout,
  keep: Iterable<string>,
): { removed: string[]; bytes: number } {
  const kept = new Set([...keep, ...runningFromStore(layout)]);
  for (const b of listBundles(layout)) if (b.meta?.binary?.sha256) kept.add(b.meta.binary.sha256);
  const removed: string[] = [];
  let bytes = 0;
  let names: string[];
  try {
    names = readdirSync(layout.binaries);
  } catch {
    return { removed, bytes };
  }
  for (const sha of names) {
    if (kept.has(sha) || !/^[0-9a-f]{64}$/.test(sha)) continue;
    const path = join(layout.binaries, sha);
    const size = diskUsage(path);
    try {
      // binaries/<sha256>/<name>, or binaries/<sha256> in an older store
      rmSync(path, { recursive: true });
    } catch {
      continue;
    }
    bytes += size;
    removed.push(sha);
  }
  return { removed, bytes };
}
