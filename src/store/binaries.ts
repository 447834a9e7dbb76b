/**
 * Content-addressed binaries: every binary that ran is copied once to binaries/<sha256>, however
 * many crashes or generations share it. The copy is taken before the program starts, so a deploy
 * or rebuild that overwrites the original path can never break the analysis of a later core.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
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
  try {
    const s = await stat(dest);
    if (s.size === data.length) return { sha256, path: dest, bytes: data.length, added: false };
  } catch {
    // not stored yet
  }
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
  /** Already computed from this file. */
  knownSha256?: string,
): Promise<{ path: string; sha256: string; reused: boolean }> {
  const sha256 = knownSha256 ?? (await sha256File(tmpPath));
  const dest = binaryPath(layout, sha256);
  const exists = await stat(dest).then(
    () => true,
    () => false,
  );
  // An identical copy replaces the stored one (rename over it) rather than being deleted: the
  // program may already run from tmpPath, and after the rename /proc/PID/exe names the store.
  await chmod(tmpPath, 0o500);
  await rename(tmpPath, dest);
  return { path: dest, sha256, reused: exists };
}
