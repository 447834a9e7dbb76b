/**
 * Scanning a stored core without decompressing it to disk: `zstd -dc` (or zlib for a .gz core)
 * streams the core through this searcher. A core's ELF header and program headers come first in
 * the file (fs/binfmt_elf.c writes headers, notes, then segments), so the file-offset → address
 * map is known before any segment byte arrives. Each match is searched within one segment's file
 * range only: segments that touch in the file are not contiguous in memory.
 *
 * Delve's cores (`hotdump snapshot`) are the other way round: pkg/proc/core/dump.go writes the
 * segments first and the notes and program headers last (a 79 MB snapshot: program headers at
 * offset 82,796,164 of 82,797,116). Waiting for them by growing one buffer chunk by chunk copied
 * the whole core again for every 64 KiB pipe chunk: 80 s for that 79 MB snapshot, against 0.4 s for
 * a kernel core. For such a core the whole file is searched as one range while it streams, the
 * program-header bytes are picked out as they pass, and at the end each hit is mapped to its
 * segment (hits outside every segment, or across a segment's end, are dropped; context is cut at
 * the segment's edges).
 */
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { CoreSegment } from "../elf/index.js";
import { PT, parseElfHeader, parseProgramHeaders } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import { findZstd } from "../store/index.js";
import type { RawHit, ScanOptions, ScanPattern, ScanStats } from "./scanTypes.js";

const streamFailed = (path: string, why: string) =>
  new HotdumpError("forensics", "E_SCAN_STREAM", `could not stream the core ${path}: ${why}`);

/** The decompressed bytes of a stored core, as a stream (nothing written to disk). */
export function openCoreStream(path: string): { stream: Readable; done: Promise<void>; stop(): void } {
  if (path.endsWith(".gz")) {
    const stream = createReadStream(path).pipe(createGunzip());
    const done = new Promise<void>((resolve, reject) =>
      stream.on("end", resolve).on("close", resolve).on("error", reject),
    );
    return { stream, done, stop: () => stream.destroy() };
  }
  const zstd = findZstd();
  if (!zstd) throw streamFailed(path, "zstd is not installed (apt-get install zstd)");
  const p = spawn(zstd, ["-dcq", path], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  let stopped = false;
  p.stderr.on("data", (c) => {
    err += c;
  });
  // Once stopped, any end is the one asked for: zstd inherits Node's ignored SIGPIPE, so a write
  // to the pipe destroyed by stop() can end it with EPIPE (exit 1) before the SIGTERM arrives.
  const done = new Promise<void>((resolve, reject) =>
    p.on("close", (code, sig) =>
      stopped || code === 0 || sig === "SIGPIPE" || sig === "SIGTERM"
        ? resolve()
        : reject(streamFailed(path, err.trim() || `zstd exited ${code ?? sig}`)),
    ),
  );
  return {
    stream: p.stdout,
    done,
    // A scan that stopped early (--max) leaves zstd blocked on a full pipe: end it.
    stop: () => {
      stopped = true;
      p.stdout.destroy();
      if (p.exitCode === null) p.kill("SIGTERM");
    },
  };
}

/** The dumped segments (PT_LOAD with bytes in the file), in file order: the order they stream in. */
function segmentsOf(ph: Buffer, phnum: number, phentsize: number, name: string): CoreSegment[] {
  return parseProgramHeaders(ph, phnum, phentsize, name)
    .filter((x) => x.type === PT.LOAD && x.filesz > 0)
    .map((x, index) => ({
      index,
      vaddr: x.vaddr,
      end: x.vaddr + BigInt(x.memsz),
      memsz: x.memsz,
      filesz: x.filesz,
      offset: x.offset,
      flags: x.flags,
      available: x.filesz,
    }))
    .sort((a, b) => a.offset - b.offset);
}

/** One range over the whole file, searched by file offset until headers at its end arrive (Delve's dumps). */
const WHOLE_FILE: CoreSegment = {
  index: 0,
  vaddr: 0n,
  end: BigInt(Number.MAX_SAFE_INTEGER),
  memsz: Number.MAX_SAFE_INTEGER,
  filesz: Number.MAX_SAFE_INTEGER,
  offset: 0,
  flags: 0,
  available: Number.MAX_SAFE_INTEGER,
};

export async function scanCoreStream(
  stream: Readable,
  pattern: ScanPattern,
  opts: ScanOptions & { name?: string } = {},
): Promise<{ hits: RawHit[]; stats: ScanStats }> {
  const t0 = performance.now();
  const name = opts.name ?? "core stream";
  const max = opts.max ?? 1000;
  const ctx = opts.context ?? 16;
  const p = pattern.bytes;
  const hits: RawHit[] = [];
  let segments: CoreSegment[] | null = null;
  let head: Buffer = Buffer.alloc(0);
  // `work` holds undecided bytes: [ctx bytes of before-context][unsearched bytes]; its first byte
  // is at file offset `workStart`, and the first unsearched one at `searchFrom`.
  let work: Buffer = Buffer.alloc(0);
  let workStart = 0;
  let searchFrom = 0;
  let scanned = 0;
  const touched = new Set<number>();
  let capped = false;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  // Headers at the end (Delve): the file offset of the next chunk, and the program-header bytes.
  let deferred: { phoff: number; phnum: number; phentsize: number; ph: Buffer; got: number } | null = null;
  let streamOff = 0;
  const slack = 64;

  const search = (final: boolean) => {
    // Hold back what a match could still need from the next chunk: the rest of the pattern and
    // its after-context.
    const keep = final ? 0 : p.length - 1 + ctx;
    const limit = work.length - keep;
    if (limit <= searchFrom) return;
    for (const seg of segments!) {
      const segFrom = Math.max(seg.offset - workStart, searchFrom);
      const segTo = Math.min(seg.offset + seg.filesz - workStart, work.length);
      if (segTo <= segFrom) continue;
      touched.add(seg.index);
      const view = work.subarray(0, segTo);
      for (let at = view.indexOf(p, segFrom); at !== -1 && at < limit; at = view.indexOf(p, at + 1)) {
        const fileOff = workStart + at;
        const segStartInWork = seg.offset - workStart;
        const b = Math.max(at - ctx, segStartInWork, 0);
        hits.push({
          addr: seg.vaddr + BigInt(fileOff - seg.offset),
          segment: seg,
          before: Buffer.from(work.subarray(b, at)),
          match: Buffer.from(p),
          after: Buffer.from(work.subarray(at + p.length, Math.min(at + p.length + ctx, segTo))),
        });
        if (hits.length >= (deferred ? max + slack : max)) {
          capped = true;
          return;
        }
      }
    }
    scanned += limit - searchFrom;
    // Keep ctx bytes of before-context plus the held-back tail.
    const from = Math.max(0, limit - ctx);
    work = work.subarray(from);
    workStart += from;
    searchFrom = limit - from;
  };

  const loadSegments = (ph: Buffer, phnum: number, phentsize: number) =>
    segmentsOf(ph, phnum, phentsize, name);
  /** Copies the part of a chunk (at file offset `off`) that holds program headers. */
  const pickHeaders = (chunk: Buffer, off: number) => {
    if (!deferred) return;
    const from = Math.max(deferred.phoff, off);
    const to = Math.min(deferred.phoff + deferred.ph.length, off + chunk.length);
    if (to <= from) return;
    chunk.copy(deferred.ph, from - deferred.phoff, from - off, to - off);
    deferred.got += to - from;
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const chunkOff = streamOff;
    streamOff += chunk.length;
    if (deferred) {
      pickHeaders(chunk, chunkOff);
      // Capped: only the headers at the end are still needed.
      if (capped) continue;
    }
    if (!segments) {
      head = Buffer.concat([head, chunk]);
      if (head.length < 64) continue;
      const h = parseElfHeader(head, name);
      if (h.type !== "core") throw streamFailed(name, `not a core file (ELF type ${h.type})`);
      const need = h.phoff + h.phnum * h.phentsize;
      if (head.length < need && h.phoff < 1 << 20) continue;
      if (head.length >= need) segments = loadSegments(head.subarray(h.phoff, need), h.phnum, h.phentsize);
      else {
        deferred = {
          phoff: h.phoff,
          phnum: h.phnum,
          phentsize: h.phentsize,
          ph: Buffer.alloc(h.phnum * h.phentsize),
          got: 0,
        };
        // One range over the whole file; hits are mapped to segments once the headers arrive.
        segments = [WHOLE_FILE];
        pickHeaders(head, 0);
      }
      work = head;
      workStart = 0;
      searchFrom = 0;
    } else {
      // Pipe chunks are 64 KiB: gather them and join once per 8 MiB, not once per chunk.
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < 8 << 20) continue;
      work = Buffer.concat([work, ...pending]);
      pending = [];
      pendingBytes = 0;
    }
    if (work.length >= 8 << 20) search(false);
    if (capped && !deferred) break;
  }
  if (!segments) throw streamFailed(name, "it ended before its ELF headers");
  if (pending.length) work = Buffer.concat([work, ...pending]);
  if (!capped) search(true);
  if (deferred) {
    if (deferred.got < deferred.ph.length) throw streamFailed(name, "it ended before its program headers");
    const real = loadSegments(deferred.ph, deferred.phnum, deferred.phentsize);
    const mapped = mapFileHits(hits, real, p.length, ctx);
    const bytes = real.reduce((n, s) => n + s.filesz, 0);
    return {
      hits: mapped.slice(0, max),
      stats: {
        bytes: capped ? Math.min(bytes, scanned) : bytes,
        segments: capped ? new Set(mapped.map((h) => h.segment.index)).size : real.length,
        ms: performance.now() - t0,
        capped: capped || mapped.length > max,
      },
    };
  }
  const bytes = segments.reduce((n, s) => n + s.filesz, 0);
  return {
    hits,
    stats: { bytes: Math.min(bytes, scanned), segments: touched.size, ms: performance.now() - t0, capped },
  };
}

/** Hits found by file offset (addr = offset) → hits in segments, context cut at segment edges. */
function mapFileHits(hits: RawHit[], segments: CoreSegment[], len: number, ctx: number): RawHit[] {
  const out: RawHit[] = [];
  for (const h of hits) {
    const off = Number(h.addr);
    const seg = segments.find((s) => s.offset <= off && off + len <= s.offset + s.filesz);
    if (!seg) continue;
    const before = Math.min(ctx, off - seg.offset, h.before.length);
    const after = Math.min(ctx, seg.offset + seg.filesz - (off + len), h.after.length);
    out.push({
      addr: seg.vaddr + BigInt(off - seg.offset),
      segment: seg,
      before: h.before.subarray(h.before.length - before),
      match: h.match,
      after: h.after.subarray(0, after),
    });
  }
  return out;
}
