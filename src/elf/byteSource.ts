/**
 * Random-access bytes: a file read through one handle with positioned reads (cores are GBs; we
 * never read a whole file), or a Buffer (a page read out of a core, or a fuzz case). Both give
 * the parsers the same contract: `read` returns exactly the bytes asked for, or throws
 * E_ELF_TRUNCATED naming what needed them.
 */

import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { elfIo, elfTruncated } from "./errors.js";

export interface ByteSource {
  /** For messages: the path, or a description such as "core memory at 0x400000". */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes at `offset`; `what` names the structure for the error message. */
  read(offset: number, length: number, what: string): Promise<Buffer>;
  /** Fill `buf[0..length)` from `position`; returns the count read (short only at end of file). */
  readInto(buf: Buffer, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export async function createFileSource(path: string): Promise<ByteSource> {
  let fh: FileHandle;
  let size: number;
  try {
    fh = await open(path, "r");
    size = (await fh.stat()).size;
  } catch (e) {
    throw elfIo(path, e);
  }
  let closed = false;
  const readInto = async (buf: Buffer, length: number, position: number): Promise<number> => {
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (e) {
      throw elfIo(path, e);
    }
    return done;
  };
  return {
    name: path,
    size,
    readInto,
    async read(offset, length, what) {
      checkRange(path, size, offset, length, what);
      const buf = Buffer.allocUnsafe(length);
      const n = await readInto(buf, length, offset);
      if (n < length) throw elfTruncated(path, what, offset + length, offset + n);
      return buf;
    },
    async close() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

export function createBufferSource(bytes: Buffer, name: string): ByteSource {
  return {
    name,
    size: bytes.length,
    async readInto(buf, length, position) {
      if (position >= bytes.length) return 0;
      return bytes.copy(buf, 0, position, Math.min(bytes.length, position + length));
    },
    async read(offset, length, what) {
      checkRange(name, bytes.length, offset, length, what);
      return bytes.subarray(offset, offset + length);
    },
    async close() {},
  };
}

function checkRange(name: string, size: number, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw elfTruncated(name, what, Number.MAX_SAFE_INTEGER, size);
  }
  if (offset + length > size) throw elfTruncated(name, what, offset + length, size);
}
