/**
 * Content-addressed binaries: every binary that ran is copied once to binaries/<sha256>, however
 * many crashes or generations share it. The copy is taken before the program starts, so a deploy
 * or rebuild that overwrites the original path can never break the analysis of a later core.
 */
import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { chmod, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HotdumpError } from "../errors.js";
import type { StoreLayout } from "./layout.js";

export interface ArchivedBinary {
  sha256: string;
  path: string;
  bytes: number;
  /** False when an identical binary was already stored. */
  added: boolean;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

export const binaryPath = (layout: StoreLayout, sha256: string) => {
  if (!/^[0-9a-f]{64}$/.test(sha256))
    throw new HotdumpError("store", "E_BAD_SHA256", `not a SHA-256: ${sha256}`);
  return join(layout.binaries, sha256);
};

export async function archiveBinary(layout: StoreLayout, src: string): Promise<ArchivedBinary> {
  // One read gives both the hash and the bytes, so what is hashed is exactly what is stored even if
  // the file is replaced meanwhile.
  let data: Buffer;
  try {
    data = await readFile(src);
  } catch (cause) {
    throw new HotdumpError(
      "exec",
      "E_BINARY_UNREADABLE",
      `cannot read the program ${src}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const sha256 = createHash("sha256").update(data).digest("hex");
  const dest = binaryPath(layout, sha256);
  // A stored copy is reused only when its own bytes hash to its name: a file of the same size
  // planted under the name was once started as root.
  if (await storedBinaryMatches(dest, sha256))
    return { sha256, path: dest, bytes: data.length, added: false };
  const tmp = `${dest}.${process.pid}.partial`;
  try {
    await writeFile(tmp, data, { mode: 0o500 });
    await chmod(tmp, 0o500);
    await rename(tmp, dest);
  } catch (cause) {
    await rm(tmp, { force: true });
    throw new HotdumpError(
      "store",
      "E_STORE_WRITE",
      `could not store the binary: ${(cause as Error).message}`,
      { cause },
    );
  }
  return { sha256, path: dest, bytes: data.length, added: true };
}

/**
 * Move a finished build (a temp file on the store's file system, so the rename is atomic) into the
 * store. Go builds are reproducible for identical inputs, so an unchanged rebuild lands on the same
 * file and is kept once. Read+execute for the owner only: a stored binary is evidence.
 */
export async function adoptBinary(
  layout: StoreLayout,
  tmpPath: string,
): Promise<{ path: string; sha256: string; reused: boolean }> {
  const sha256 = await sha256File(tmpPath);
  const dest = binaryPath(layout, sha256);
  if (await storedBinaryMatches(dest, sha256)) {
    await rm(tmpPath, { force: true });
    return { path: dest, sha256, reused: true };
  }
  await chmod(tmpPath, 0o500);
  await rename(tmpPath, dest);
  return { path: dest, sha256, reused: false };
}

/**
 * Whether binaries/<sha256> is a regular file (not a symlink: opened O_NOFOLLOW) whose bytes hash
 * to its name. Anything else under the name is not trusted, and the caller writes the real copy
 * over it (a rename replaces the entry whatever it was).
 */
export async function storedBinaryMatches(path: string, sha256: string): Promise<boolean> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    if (!(await fh.stat()).isFile()) return false;
    const h = createHash("sha256");
    for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false }))
      h.update(chunk as Buffer);
    return h.digest("hex") === sha256;
  } catch {
    return false;
  } finally {
    await fh.close();
  }
}
