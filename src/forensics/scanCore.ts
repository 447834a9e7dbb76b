/**
 * Finding bytes anywhere in a core: every dumped byte of every PT_LOAD segment, in 64 MiB chunks
 * read by positioned reads and searched with Buffer.indexOf (memchr-based in V8: bench/scan.mjs
 * measures several GB/s over a warm core, bench/README.md has the figures). Chunks overlap by the pattern length - 1, so a match across a
 * chunk boundary is seen exactly once. Naming where each hit lies is regions.ts's job.
 */

import { join } from "node:path";
import { createDelveSession, type DelveSession } from "../analyze/delve/index.js";
import { type Core, openCore } from "../elf/index.js";
import { openBundle, readStore } from "../store/index.js";
import { badAddress, badPattern, noStoredCore } from "./errors.js";
import { createRegionIndex, describeRegion, type Region } from "./regions.js";
import type { RawHit, ScanOptions, ScanPattern, ScanStats } from "./scanTypes.js";
import { openStoredCapture } from "./stored.js";
import { openCoreStream, scanCoreStream } from "./streamScan.js";

export type { RawHit, ScanOptions, ScanPattern, ScanStats };

interface PatternInput {
  hex?: string;
  text?: string;
  pointer?: string;
}

const MAX_PATTERN = 4096;

export function parseAddress(text: string): bigint {
  const t = text.trim().toLowerCase();
  if (!/^(0x)?[0-9a-f]{1,16}$/.test(t)) throw badAddress(text);
  return BigInt(t.startsWith("0x") ? t : `0x${t}`);
}

/** Exactly one of hex, text, pointer. Hex is bytes in file order (`efbeadde` = 0xdeadbeef LE). */
export function parsePattern(input: PatternInput): ScanPattern {
  const given = [input.hex, input.text, input.pointer].filter((v) => v !== undefined);
  if (given.length !== 1)
    throw badPattern("give exactly one of --pattern HEX, --string TEXT, --pointer ADDR");
  let bytes: Buffer;
  let describe: string;
  if (input.hex !== undefined) {
    const h = input.hex.replace(/^0x/i, "").replace(/[\s:]/g, "");
    if (!/^([0-9a-fA-F]{2})+$/.test(h))
      throw badPattern(`${JSON.stringify(input.hex)} is not whole hex bytes`);
    bytes = Buffer.from(h, "hex");
    describe = `hex ${h.toLowerCase()}`;
  } else if (input.text !== undefined) {
    bytes = Buffer.from(input.text, "utf8");
    describe = `string ${JSON.stringify(input.text)}`;
  } else {
    const addr = parseAddress(input.pointer!);
    bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(addr);
    describe = `pointer 0x${addr.toString(16)}`;
  }
  if (bytes.length === 0) throw badPattern("empty");
  if (bytes.length > MAX_PATTERN) throw badPattern(`longer than ${MAX_PATTERN} bytes`);
  return { bytes, describe };
}

async function scanCore(
  core: Core,
  pattern: ScanPattern,
  opts: ScanOptions = {},
): Promise<{ hits: RawHit[]; stats: ScanStats }> {
  const t0 = performance.now();
  const max = opts.max ?? 1000;
  const ctx = opts.context ?? 16;
  const p = pattern.bytes;
  const hits: RawHit[] = [];
  let bytes = 0;
  let capped = false;
  const segs = new Set<number>();
  let lastHit = -1n;
  const overlap = p.length - 1;
  for await (const chunk of core.chunks({
    overlap,
    ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
  })) {
    const d = chunk.data;
    // Count each byte once even though chunks overlap.
    bytes += chunk.addr === chunk.segment.vaddr ? d.length : d.length - overlap;
    segs.add(chunk.segment.index);
    for (let at = d.indexOf(p); at !== -1; at = d.indexOf(p, at + 1)) {
      const addr = chunk.addr + BigInt(at);
      if (addr <= lastHit) continue; // already reported from the previous chunk's overlap
      lastHit = addr;
      const segStart = chunk.segment.vaddr;
      const beforeLen = Math.min(ctx, Number(addr - segStart));
      const afterAvail = Number(chunk.segment.vaddr + BigInt(chunk.segment.available) - addr) - p.length;
      const afterLen = Math.max(0, Math.min(ctx, afterAvail));
      // Context inside this chunk is copied now (the buffer is reused); past its edges it is read.
      const before =
        at >= beforeLen
          ? Buffer.from(d.subarray(at - beforeLen, at))
          : await core.readMemory(addr - BigInt(beforeLen), beforeLen, { partial: true });
      const after =
        at + p.length + afterLen <= d.length
          ? Buffer.from(d.subarray(at + p.length, at + p.length + afterLen))
          : await core.readMemory(addr + BigInt(p.length), afterLen, { partial: true });
      hits.push({ addr, segment: chunk.segment, before, match: Buffer.from(p), after });
      if (hits.length >= max) {
        capped = true;
        break;
      }
    }
    if (capped) break;
  }
  return { hits, stats: { bytes, segments: segs.size, ms: performance.now() - t0, capped } };
}

/** Open, scan, close: for callers (and the benchmark) that have only a path. */
export async function scanCoreFile(path: string, pattern: ScanPattern, opts: ScanOptions = {}) {
  const core = await openCore(path);
  try {
    return await scanCore(core, pattern, opts);
  } finally {
    await core.close();
  }
}

/** `de ad be ef` style, 16 bytes a line is for mem; scan shows one line of context. */
export function hexBytes(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
}

interface NamedHit {
  address: string;
  region: Region;
  where: string;
  segment: { start: string; end: string; flags: string };
  before: string;
  match: string;
  after: string;
}

interface CaptureScan {
  id: string;
  pattern: string;
  hits: NamedHit[];
  stats: ScanStats & { gbPerSecond: number };
  notes: string[];
}

/**
 * Scan a stored capture. The search itself streams the compressed core through the scanner
 * (streamScan.ts): nothing is decompressed to disk. Naming where each hit lies is another matter:
 * the goroutine list and heap spans come from Delve on the same core, with random reads, and Delve
 * reads a file. So only when there are hits to name (and `regions` is not false) is the core
 * decompressed to the store's cache (sparse), used, and removed.
 */
export async function scanStoredCapture(
  storeDir: string,
  id: string,
  pattern: ScanPattern,
  o: ScanOptions & { force?: boolean; dlvPath?: string; regions?: boolean } = {},
): Promise<CaptureScan> {
  const layout = readStore(storeDir);
  const bundle = openBundle(layout, id);
  if (!bundle.meta.core.stored) throw noStoredCore(bundle.id, bundle.meta.core.reason);
  const corePath = join(bundle.dir, bundle.meta.core.stored);
  const streamed = openCoreStream(corePath);
  let found: Awaited<ReturnType<typeof scanCoreStream>>;
  try {
    found = await scanCoreStream(streamed.stream, pattern, { ...o, name: corePath });
  } finally {
    streamed.stop();
  }
  if (!found.stats.capped) await streamed.done;
  const { hits, stats } = found;
  const notes: string[] = [];
  const result = (named: NamedHit[]): CaptureScan => ({
    id,
    pattern: pattern.describe,
    hits: named,
    stats: { ...stats, gbPerSecond: stats.bytes / 1e6 / stats.ms },
    notes,
  });
  if (hits.length === 0 || o.regions === false) {
    if (hits.length > 0) notes.push("regions not named (--no-regions): the core was only streamed");
    return result(hits.map((h) => nameHit(h, { kind: "anonymous", writable: (h.segment.flags & 2) !== 0 })));
  }
  const stored = await openStoredCapture(storeDir, id, { force: o.force ?? false });
  try {
    const core = await openCore(stored.core);
    let session: DelveSession | null = null;
    try {
      if (stored.binary)
        session = await createDelveSession({
          binary: stored.binary,
          core: stored.core,
          ...(o.dlvPath ? { dlvPath: o.dlvPath } : {}),
        }).catch((e: unknown) => {
          notes.push(
            `Delve unavailable: ${(e as { shortMessage?: string }).shortMessage ?? (e as Error).message}`,
          );
          return null;
        });
      const index = await createRegionIndex({ core, binary: stored.binary, session });
      notes.push(...index.notes);
      const named: NamedHit[] = [];
      for (const h of hits) named.push(nameHit(h, await index.classify(h.addr)));
      return result(named);
    } finally {
      await session?.close();
      await core.close();
    }
  } finally {
    await stored.release();
  }
}

function nameHit(h: RawHit, region: Region): NamedHit {
  return {
    address: `0x${h.addr.toString(16)}`,
    region,
    where: describeRegion(region),
    segment: {
      start: `0x${h.segment.vaddr.toString(16)}`,
      end: `0x${h.segment.end.toString(16)}`,
      flags: `${h.segment.flags & 4 ? "r" : "-"}${h.segment.flags & 2 ? "w" : "-"}${h.segment.flags & 1 ? "x" : "-"}`,
    },
    before: hexBytes(h.before),
    match: hexBytes(h.match),
    after: hexBytes(h.after),
  };
}
