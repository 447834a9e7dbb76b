/**
 * A Linux core dump: its loaded segments, decoded notes (threads, process, signal, auxv, mapped
 * files), reads of the crashed process's memory by address, and a streaming walk over all dumped
 * bytes for scanners. A core cut short (disk full, copy interrupted) still opens: the notes come
 * first in the file (fs/binfmt_elf.c writes headers, notes, then segments), and `truncated` says
 * how much is missing.
 */

import type { ByteSource } from "./byteSource.js";
import {
  AT,
  type AuxvEntry,
  decodeAuxv,
  decodeFileNote,
  decodePrpsinfo,
  decodePrstatus,
  decodeSiginfo,
  type MappedFile,
  NT,
  type ProcessInfo,
  type SignalInfo,
  type ThreadStatus,
} from "./coreNotes.js";
import { type ElfHeader, type ElfNote, iterateNotes, PT } from "./elfStructs.js";
import {
  elfBadRange,
  elfCoreTruncated,
  elfCorrupt,
  elfNotCore,
  elfNotDumped,
  elfUnmapped,
} from "./errors.js";
import { MAX_NOTE_BYTES, openElf } from "./file.js";

const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;
const MAX_READ = 1024 * 1024 * 1024;

export interface CoreSegment {
  index: number;
  vaddr: bigint;
  /** vaddr + memsz, exclusive. */
  end: bigint;
  memsz: number;
  filesz: number;
  offset: number;
  /** PF_R=4, PF_W=2, PF_X=1. */
  flags: number;
  /** Bytes of filesz actually present in the file: less than filesz when the core is truncated. */
  available: number;
}

interface CoreTruncation {
  /** The size the segments and notes require. */
  expectedSize: number;
  actualSize: number;
  missingBytes: number;
  /** Segments with some of their file bytes missing. */
  incompleteSegments: number;
}

interface ReadMemoryOptions {
  /** Return the readable prefix instead of throwing when the range runs into a hole. */
  partial?: boolean;
  /** memsz > filesz parts were mapped but not dumped: give zeros (default) or fail. */
  notDumped?: "zeros" | "error";
}

interface CoreChunk {
  segment: CoreSegment;
  /** Address of data[0]. */
  addr: bigint;
  fileOffset: number;
  /** Valid until the iterator is advanced: the buffer is reused. Copy what you keep. */
  data: Buffer;
}

interface ChunkOptions {
  /** Bytes per chunk (default 64 MiB). */
  chunkSize?: number;
  /** Each chunk after a segment's first repeats this many bytes of its predecessor, so a pattern
   * shorter than `overlap + 1` never straddles two chunks unseen. */
  overlap?: number;
  /** Only these segments (default: all with dumped bytes). */
  filter?: (s: CoreSegment) => boolean;
}

export interface Core {
  readonly path: string;
  readonly size: number;
  readonly header: ElfHeader;
  /** PT_LOAD segments sorted by address. */
  readonly segments: readonly CoreSegment[];
  readonly truncated: CoreTruncation | null;
  /** False when the note area itself was cut off or damaged part-way: what came before is kept. */
  readonly notesComplete: boolean;
  /** One per thread, in the kernel's order: the first is the thread that took the fatal signal. */
  readonly threads: readonly ThreadStatus[];
  readonly process: ProcessInfo | null;
  readonly signal: SignalInfo | null;
  readonly auxv: readonly AuxvEntry[];
  readonly entry: bigint | null;
  readonly phdr: bigint | null;
  /** AT_EXECFN read from the dumped stack: the path the program was exec'ed as. */
  readonly execfn: string | null;
  readonly files: readonly MappedFile[];
  readonly notes: readonly ElfNote[];
  segmentAt(addr: bigint): CoreSegment | undefined;
  readMemory(addr: bigint, length: number, opts?: ReadMemoryOptions): Promise<Buffer>;
  chunks(opts?: ChunkOptions): AsyncGenerator<CoreChunk>;
  close(): Promise<void>;
}

export async function openCore(input: string | ByteSource): Promise<Core> {
  const f = await openElf(input, { sections: false });
  try {
    if (f.header.type !== "core") throw elfNotCore(f.path, f.header.type);
    return await buildCore(f.source, f.header, f.programHeaders);
  } catch (e) {
    await f.close();
    throw e;
  }
}

type ProgramHeaders = Awaited<ReturnType<typeof openElf>>["programHeaders"];

/** The core's pieces, each read by its own step: segments, truncation, notes, memory, execfn. */
async function buildCore(source: ByteSource, header: ElfHeader, phdrs: ProgramHeaders): Promise<Core> {
  const segments = loadSegments(phdrs, source.size);
  const truncated = truncationOf(phdrs, segments, source.size);
  const { notes, notesComplete } = await readNotes(source, phdrs);
  const { threads, process, signal, auxv, files } = decodeNotes(notes);
  const aux = (t: number) => auxv.find((e) => e.type === t)?.value ?? null;
  const memory = createMemoryReader(source, segments, truncated);
  return {
    path: source.name,
    size: source.size,
    header,
    segments,
    truncated,
    notesComplete,
    threads,
    process,
    signal,
    auxv,
    entry: aux(AT.ENTRY),
    phdr: aux(AT.PHDR),
    execfn: await readExecfn(memory.readMemory, aux(AT.EXECFN)),
    files,
    notes,
    ...memory,
    close: () => source.close(),
  };
}

/** PT_LOAD segments by address; `available` is what the file really holds of each. */
function loadSegments(phdrs: ProgramHeaders, size: number): CoreSegment[] {
  return phdrs
    .filter((p) => p.type === PT.LOAD)
    .map((p) => ({
      index: p.index,
      vaddr: p.vaddr,
      end: p.vaddr + BigInt(p.memsz),
      memsz: p.memsz,
      filesz: Math.min(p.filesz, p.memsz),
      offset: p.offset,
      flags: p.flags,
      available: Math.max(0, Math.min(p.filesz, p.memsz, size - p.offset)),
    }))
    .sort((a, b) => (a.vaddr < b.vaddr ? -1 : a.vaddr > b.vaddr ? 1 : 0));
}

/** Set when the file is shorter than its segments say (RLIMIT_CORE, a full disk). */
function truncationOf(phdrs: ProgramHeaders, segments: CoreSegment[], size: number): CoreTruncation | null {
  let expectedSize = 0;
  for (const p of phdrs)
    if (p.type === PT.LOAD || p.type === PT.NOTE) expectedSize = Math.max(expectedSize, p.offset + p.filesz);
  return expectedSize > size
    ? {
        expectedSize,
        actualSize: size,
        missingBytes: expectedSize - size,
        incompleteSegments: segments.filter((s) => s.available < s.filesz).length,
      }
    : null;
}

/** Every note of every PT_NOTE segment; notesComplete false when one was cut or unreadable. */
async function readNotes(
  source: ByteSource,
  phdrs: ProgramHeaders,
): Promise<{ notes: ElfNote[]; notesComplete: boolean }> {
  const name = source.name;
  const size = source.size;
  const notes: ElfNote[] = [];
  let notesComplete = true;
  for (const p of phdrs) {
    if (p.type !== PT.NOTE || p.filesz === 0) continue;
    if (p.filesz > MAX_NOTE_BYTES) throw elfCorrupt(name, `note segment ${p.index} (${p.filesz} bytes)`);
    const have = Math.max(0, Math.min(p.filesz, size - p.offset));
    if (have < p.filesz) notesComplete = false;
    if (have === 0) continue;
    const area = await source.read(p.offset, have, `note segment ${p.index}`);
    try {
      for (const n of iterateNotes(area, p.align, name)) notes.push(n);
    } catch {
      notesComplete = false;
    }
  }
  return { notes, notesComplete };
}

/** The kernel's notes decoded: threads (NT_PRSTATUS), process, signal, auxv, mapped files. */
function decodeNotes(notes: ElfNote[]): {
  threads: ThreadStatus[];
  process: ProcessInfo | null;
  signal: SignalInfo | null;
  auxv: AuxvEntry[];
  files: MappedFile[];
} {
  const threads: ThreadStatus[] = [];
  let process: ProcessInfo | null = null;
  let signal: SignalInfo | null = null;
  let auxv: AuxvEntry[] = [];
  let files: MappedFile[] = [];
  for (const n of notes) {
    // The kernel names its notes "CORE"; Delve's `dump` (hotdump snapshot) writes them unnamed.
    if (n.name !== "CORE" && n.name !== "") continue;
    if (n.type === NT.PRSTATUS) {
      const t = decodePrstatus(n.desc);
      if (t) threads.push(t);
    } else if (n.type === NT.PRPSINFO) process ??= decodePrpsinfo(n.desc);
    else if (n.type === NT.SIGINFO) signal ??= decodeSiginfo(n.desc);
    else if (n.type === NT.AUXV && auxv.length === 0) auxv = decodeAuxv(n.desc);
    else if (n.type === NT.FILE && files.length === 0) files = decodeFileNote(n.desc) ?? [];
  }
  return { threads, process, signal, auxv, files };
}

/** Reading the dumped memory: by address (segmentAt, readMemory) or all of it in chunks. */
function createMemoryReader(
  source: ByteSource,
  segments: CoreSegment[],
  truncated: CoreTruncation | null,
): Pick<Core, "segmentAt" | "readMemory" | "chunks"> {
  const name = source.name;
  const segmentAt = (addr: bigint): CoreSegment | undefined => {
    let lo = 0;
    let hi = segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = segments[mid]!;
      if (addr < s.vaddr) hi = mid - 1;
      else if (addr >= s.end) lo = mid + 1;
      else return s;
    }
    return undefined;
  };

  const readMemory = async (addr: bigint, length: number, opts: ReadMemoryOptions = {}): Promise<Buffer> => {
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ) {
      throw elfBadRange(`readMemory length ${length} (0..${MAX_READ})`);
    }
    if (addr < 0n || addr + BigInt(length) > 1n << 64n)
      throw elfBadRange(`readMemory address 0x${addr.toString(16)}`);
    const out = Buffer.alloc(length);
    let filled = 0;
    const stop = (at: number, err: Error): Buffer => {
      if (opts.partial) return out.subarray(0, at);
      throw err;
    };
    while (filled < length) {
      const cur = addr + BigInt(filled);
      const seg = segmentAt(cur);
      if (!seg) return stop(filled, elfUnmapped(name, cur, length - filled));
      const segOff = Number(cur - seg.vaddr);
      const n = Math.min(length - filled, seg.memsz - segOff);
      const inFile = Math.max(0, Math.min(n, seg.filesz - segOff));
      const present = Math.max(0, Math.min(inFile, seg.available - segOff));
      if (present > 0) {
        const got = await source.readInto(out.subarray(filled), present, seg.offset + segOff);
        if (got < present)
          return stop(filled + got, elfCoreTruncated(name, cur, n, truncated?.missingBytes ?? 0));
      }
      if (present < inFile) {
        return stop(filled + present, elfCoreTruncated(name, cur, n, truncated?.missingBytes ?? 0));
      }
      if (inFile < n && opts.notDumped === "error") {
        return stop(filled + inFile, elfNotDumped(name, cur + BigInt(inFile), n - inFile));
      }
      filled += n; // the not-dumped tail stays zero
    }
    return out;
  };

  async function* chunks(opts: ChunkOptions = {}): AsyncGenerator<CoreChunk> {
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const overlap = opts.overlap ?? 0;
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0 || chunkSize > MAX_READ) {
      throw elfBadRange(`chunkSize ${chunkSize}`);
    }
    if (!Number.isSafeInteger(overlap) || overlap < 0 || overlap >= chunkSize) {
      throw elfBadRange(`overlap ${overlap} (0..chunkSize-1)`);
    }
    const jobs: Array<{ seg: CoreSegment; start: number; len: number }> = [];
    for (const seg of segments) {
      if (seg.available === 0 || (opts.filter && !opts.filter(seg))) continue;
      for (let start = 0; ; ) {
        const len = Math.min(chunkSize, seg.available - start);
        jobs.push({ seg, start, len });
        if (start + len >= seg.available) break;
        start += len - overlap;
      }
    }
    if (jobs.length === 0) return;
    const bufSize = Math.max(...jobs.map((j) => j.len));
    // Two buffers: the next chunk is read while the consumer works on the current one.
    const bufs = [Buffer.allocUnsafe(bufSize), Buffer.allocUnsafe(bufSize)] as const;
    const load = async (i: number): Promise<CoreChunk> => {
      const j = jobs[i]!;
      const buf = bufs[i % 2]!;
      const got = await source.readInto(buf, j.len, j.seg.offset + j.start);
      return {
        segment: j.seg,
        addr: j.seg.vaddr + BigInt(j.start),
        fileOffset: j.seg.offset + j.start,
        data: buf.subarray(0, got),
      };
    };
    let pending = load(0);
    for (let i = 0; i < jobs.length; i++) {
      const chunk = await pending;
      if (i + 1 < jobs.length) {
        pending = load(i + 1);
        // If the consumer stops early, the prefetch's failure must not surface as unhandled.
        pending.catch(() => {});
      }
      yield chunk;
    }
  }

  return { segmentAt, readMemory, chunks };
}

/** AT_EXECFN's string, read from the dumped stack; null when it was not dumped. */
async function readExecfn(readMemory: Core["readMemory"], execfnAddr: bigint | null): Promise<string | null> {
  if (execfnAddr === null) return null;
  const b = await readMemory(execfnAddr, 4096, { partial: true, notDumped: "error" }).catch(() => null);
  const nul = b ? b.indexOf(0) : -1;
  return b && nul > 0 ? b.toString("utf8", 0, nul) : null;
}
