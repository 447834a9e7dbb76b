/**
 * A bounded record of a byte stream: the last `limit` bytes (a tail), plus, once the stream shows
 * the first line of a Go crash (`panic: `, `fatal error: `, ...), the bytes from that line on, up
 * to `limit` more (a head). A chatty child can run for days without hotdump growing (at most twice
 * `limit`), and a crash dump larger than the tail still keeps its start: with GOTRACEBACK=all and
 * 5,000 parked goroutines Go 1.26 printed 834 KB, and the `panic:` line with the crashing
 * goroutine (always printed first) sat 570 KB before a 256 KiB tail began.
 */

import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/** Lines the Go runtime prints first for each way of dying (see analyze/traceback isCrashStart). */
const DUMP_START =
  /^(panic: |fatal error: |unexpected fault address |runtime: goroutine stack exceeds|SIG[A-Z0-9]+: )/;
/** Bytes of a line needed to decide DUMP_START. */
const PROBE = 40;

interface TailOptions {
  /** Keep the head of a crash dump as well (default true). */
  dumpHead?: boolean;
}

export class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes pushed in all. */
  private total = 0;
  private readonly dumpHead: boolean;
  /** The head of the first dump: bytes [headStart, headStart + headSize) of the stream. */
  private head: Buffer[] = [];
  private headSize = 0;
  private headStart = -1;
  /** Start of the current line (absolute offset) while its first bytes are still being read. */
  private probeAt = 0;
  private probe = "";
  /** The byte just before the tail (-1 while the tail holds the stream's start). */
  private beforeTail = -1;

  constructor(
    readonly limit: number,
    opts: TailOptions = {},
  ) {
    this.dumpHead = opts.dumpHead ?? true;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const base = this.total;
    if (this.dumpHead) {
      if (this.headStart < 0) this.scan(chunk, base);
      if (this.headStart >= 0 && this.headSize < this.limit) {
        // Bytes of the head already in the tail (a line split across chunks), then this chunk's.
        const parts: Buffer[] = [];
        if (this.headStart < base && this.headSize === 0) parts.push(this.slice(this.headStart, base));
        parts.push(chunk.subarray(Math.max(0, this.headStart - base)));
        for (const p of parts) {
          const room = this.limit - this.headSize;
          if (room <= 0) break;
          const take = p.length > room ? p.subarray(0, room) : p;
          this.head.push(Buffer.from(take));
          this.headSize += take.length;
        }
      }
    }
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.size += chunk.length;
    // Keep exactly the last `limit` bytes: whole chunks go, then the front of the oldest is cut.
    while (this.size > this.limit) {
      const first = this.chunks[0]!;
      const over = this.size - this.limit;
      if (first.length <= over) {
        this.beforeTail = first[first.length - 1]!;
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.beforeTail = first[over - 1]!;
        this.chunks[0] = Buffer.from(first.subarray(over));
        this.size -= over;
      }
    }
  }

  /** Finds the first dump line in `chunk` (which starts at `base`), line starts carried across chunks. */
  private scan(chunk: Buffer, base: number): void {
    let i = 0;
    while (i < chunk.length && this.headStart < 0) {
      if (this.probeAt >= 0) {
        const nl = chunk.indexOf(10, i);
        const lineEnd = nl < 0 ? chunk.length : nl;
        const end = Math.min(lineEnd, i + (PROBE - this.probe.length));
        this.probe += chunk.toString("latin1", i, end);
        if (this.probe.length >= PROBE || end === nl) {
          if (DUMP_START.test(this.probe)) {
            this.headStart = this.probeAt;
            return;
          }
          this.probeAt = -1;
        }
        i = end;
        if (i >= chunk.length) return;
      }
      const nl = chunk.indexOf(10, i);
      if (nl < 0) return;
      this.probeAt = base + nl + 1;
      this.probe = "";
      i = nl + 1;
    }
  }

  /** Bytes [from, to) of the stream, from the tail (only what it still holds). */
  private slice(from: number, to: number): Buffer {
    const all = Buffer.concat(this.chunks);
    const tailStart = this.total - all.length;
    return all.subarray(Math.max(0, from - tailStart), Math.max(0, to - tailStart));
  }

  toBuffer(): Buffer {
    const tail = Buffer.concat(this.chunks);
    const tailStart = this.total - tail.length;
    if (this.headStart < 0 || this.headStart >= tailStart) return this.fromLineStart(tail);
    const head = Buffer.concat(this.head);
    const headEnd = this.headStart + head.length;
    if (headEnd >= tailStart) return Buffer.concat([head, tail.subarray(headEnd - tailStart)]);
    // A gap: the head up to its last whole line, a marker, the tail from its first line start.
    const hnl = head.lastIndexOf(10);
    const headKept = hnl >= 0 ? head.subarray(0, hnl + 1) : head;
    const tailKept = this.fromLineStart(tail);
    const elided = tail.length - tailKept.length + (tailStart - this.headStart - headKept.length);
    return Buffer.concat([headKept, Buffer.from(elisionLine(elided)), tailKept]);
  }

  /** The tail from its first whole line: cut to the first newline when one is near, unless the tail already starts a line. */
  private fromLineStart(tail: Buffer): Buffer {
    if (this.beforeTail === -1 || this.beforeTail === 10) return tail;
    const nl = tail.indexOf(10);
    return nl >= 0 && nl < 4096 ? tail.subarray(nl + 1) : tail;
  }

  toString(): string {
    return this.toBuffer().toString("utf8");
  }
}

/**
 * The last `max` bytes of a file as text, from a line start (Tail's rule: cut to the first newline
 * unless the byte before the tail ends a line); null when the file cannot be opened. One byte more
 * than kept is read, so the tail knows whether it starts a line.
 */
export function readFileTail(path: string, max: number): string | null {
  let fd: number;
  try {
    // Never through a symlink (a store file pointing at /etc/shadow), never blocking on a FIFO.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const size = fstatSync(fd).size;
    const len = Math.min(size, max + 1);
    const buf = Buffer.alloc(len);
    const got = readSync(fd, buf, 0, len, size - len);
    const tail = new Tail(max, { dumpHead: false });
    tail.push(buf.subarray(0, got));
    return tail.toString();
  } finally {
    closeSync(fd);
  }
}

/** The line put where a dump's middle was not kept; the traceback parser knows it (ELISION_RE). */
const elisionLine = (bytes: number) =>
  `...hotdump: ${bytes} bytes of output elided here (kept: the start of the crash dump and the last part)...\n`;

export const ELISION_RE = /^\.\.\.hotdump: (\d+) bytes of output elided here/;
