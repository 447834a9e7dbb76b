/**
 * Scanning a stored core without decompressing it to disk: `zstd -dc` (or zlib for a .gz core)
 * streams the core through this searcher. A core's ELF header and program headers come first in
 * the file (fs/binfmt_elf.c writes headers, notes, then segments), so the file-offset → address
 * map is known before any segment byte arrives. Each match is searched within one segment's file
 * range only: segments that touch in the file are not contiguous in memory.
 */
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { PT, parseElfHeader, parseProgramHeaders } from "../elf/format.js";
import type { CoreSegment } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import { findZstd } from "../store/compress.js";
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
  p.stderr.on("data", (c) => {
    err += c;
  });
  const done = new Promise<void>((resolve, reject) =>
    p.on("close", (code, sig) =>
      code === 0 || sig === "SIGPIPE" || sig === "SIGTERM"
        ? resolve()
        : reject(streamFailed(path, err.trim() || `zstd exited ${code ?? sig}`)),
    ),
  );
  return {
    stream: p.stdout,
    done,
    // A scan that stopped early (--max) leaves zstd blocked on a full pipe: end it.
    stop: () => {
      p.stdout.destroy();
      if (p.exitCode === null) p.kill("SIGTERM");
    },
  };
}

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
        if (hits.length >= max) {
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

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (!segments) {
      head = Buffer.concat([head, chunk]);
      if (head.length < 64) continue;
      const h = parseElfHeader(head, name);
      if (h.type !== "core") throw streamFailed(name, `not a core file (ELF type ${h.type})`);
      const need = h.phoff + h.phnum * h.phentsize;
      if (head.length < need) continue;
      segments = parseProgramHeaders(head.subarray(h.phoff, need), h.phnum, h.phentsize, name)
        .filter((ph) => ph.type === PT.LOAD && ph.filesz > 0)
        .map((ph, index) => ({
          index,
          vaddr: ph.vaddr,
          end: ph.vaddr + BigInt(ph.memsz),
          memsz: ph.memsz,
          filesz: ph.filesz,
          offset: ph.offset,
          flags: ph.flags,
          available: ph.filesz,
        }))
        .sort((a, b) => a.offset - b.offset);
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
    if (capped) break;
  }
  if (!segments) throw streamFailed(name, "it ended before its ELF headers");
  if (pending.length) work = Buffer.concat([work, ...pending]);
  if (!capped) search(true);
  const bytes = segments.reduce((n, s) => n + s.filesz, 0);
  return {
    hits,
    stats: { bytes: Math.min(bytes, scanned), segments: touched.size, ms: performance.now() - t0, capped },
  };
}
