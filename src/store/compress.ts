/**
 * Core compression. Cores are huge and mostly zeros (a stack overflow dumps its 1 GB stack:
 * a stack-overflow core of 1.15 GB compressed to 32 MB with `zstd -1` in 1.09 s on one core,
 * against `gzip -1`'s 87 MB in 7.5 s, measured on these machines with Go 1.19), and Node 20's zlib has no zstd, so the zstd CLI does the work; gzip through zlib is the
 * fallback when zstd is missing. Decompression writes a sparse file (zstd's default for file
 * output), so a 1 GB core costs its real data on disk, not 1 GB.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, open, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { HotdumpError } from "../errors.js";
import { runCapture } from "../util/child.js";
import { findOnPath } from "../util/which.js";
import { FILE_MODE } from "./layout.js";

type Compression = "zstd" | "gzip";

let zstdPath: string | null | undefined;
export function findZstd(): string | null {
  if (zstdPath !== undefined) return zstdPath;
  zstdPath = findOnPath("zstd");
  return zstdPath;
}

const compressedName = (c: Compression) => (c === "zstd" ? "core.zst" : "core.gz");

interface Compressed {
  path: string;
  compression: Compression;
  originalBytes: number;
  storedBytes: number;
  ms: number;
}

/** Compress `src` into `destNoExt` + .zst/.gz, written under a temp name and renamed when whole. */
export async function compressFile(src: string, destDir: string): Promise<Compressed> {
  const t0 = performance.now();
  const { size } = await stat(src);
  const zstd = findZstd();
  const compression: Compression = zstd ? "zstd" : "gzip";
  const dest = `${destDir}/${compressedName(compression)}`;
  const tmp = `${dest}.partial`;
  try {
    if (zstd) {
      // -1: speed over ratio (a core is captured while the developer waits); -T0: all cores.
      const r = await runCapture(zstd, ["-q", "-1", "-T0", "-f", "-o", tmp, src], { timeoutMs: 30 * 60_000 });
      if (r.end.exitCode !== 0) throw new Error(r.stderr.trim() || `zstd exited ${r.end.exitCode}`);
    } else {
      await pipeline(
        createReadStream(src),
        createGzip({ level: 1 }),
        createWriteStream(tmp, { mode: FILE_MODE }),
      );
    }
    await chmod(tmp, FILE_MODE);
    // The caller deletes the kernel's core once this returns: our copy must be on disk first, not
    // in the page cache. fsync the data before the rename makes the name point at it, then the
    // directory (the new name) and its parent (the bundle directory's own entry), as a rename is
    // durable only once its directory is synced (fsync(2), "Calling fsync() does not necessarily
    // ensure that the entry in the directory containing the file has also reached disk").
    await syncPath(tmp);
    await rename(tmp, dest);
    await syncPath(destDir);
    await syncPath(dirname(destDir));
  } catch (cause) {
    await rm(tmp, { force: true });
    throw new HotdumpError(
      "store",
      "E_STORE_COMPRESS",
      `could not store the core: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const stored = (await stat(dest)).size;
  return { path: dest, compression, originalBytes: size, storedBytes: stored, ms: performance.now() - t0 };
}

/** fsync a file or a directory (opened read-only: Linux allows fsync on a directory fd). */
async function syncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Stream a stored core back out to a (sparse) file a debugger can open. */
export async function decompressFile(src: string, dest: string): Promise<void> {
  const tmp = `${dest}.partial`;
  try {
    if (src.endsWith(".zst")) {
      const zstd = findZstd();
      if (!zstd)
        throw new HotdumpError(
          "store",
          "E_ZSTD_MISSING",
          "zstd is needed to read this core: apt-get install zstd",
        );
      const r = await runCapture(zstd, ["-q", "-d", "-f", "-o", tmp, src], { timeoutMs: 30 * 60_000 });
      if (r.end.exitCode !== 0) throw new Error(r.stderr.trim() || `zstd exited ${r.end.exitCode}`);
    } else if (src.endsWith(".gz")) {
      await pipeline(createReadStream(src), createGunzip(), createWriteStream(tmp, { mode: FILE_MODE }));
    } else {
      throw new Error(`unknown core format: ${src}`);
    }
    await chmod(tmp, FILE_MODE);
    await rename(tmp, dest);
  } catch (cause) {
    await rm(tmp, { force: true });
    if (cause instanceof HotdumpError) throw cause;
    throw new HotdumpError(
      "store",
      "E_STORE_DECOMPRESS",
      `could not read the stored core ${src}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}
