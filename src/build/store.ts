/**
 * The content-addressed binary store: `<store>/binaries/<sha256>`. A build writes into
 * `<store>/tmp/` (same file system, so the final rename is atomic) and identical binaries are
 * kept once. Go builds are reproducible for identical inputs (source, flags, toolchain, and the
 * absolute source path unless -trimpath), so an unchanged rebuild lands on the same file.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";

export const binariesDir = (storeDir: string) => join(storeDir, "binaries");
export const buildTmpDir = (storeDir: string) => join(storeDir, "tmp");

/** Store directories are private (0700): binaries may embed secrets and cores certainly do. */
export async function ensureStoreDirs(storeDir: string): Promise<void> {
  for (const d of [storeDir, binariesDir(storeDir), buildTmpDir(storeDir)]) {
    await mkdir(d, { recursive: true, mode: 0o700 });
    await chmod(d, 0o700);
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Move a finished build into the store; returns its path and whether an identical one was there. */
export async function storeBinary(
  tmpPath: string,
  storeDir: string,
): Promise<{ path: string; sha256: string; reused: boolean }> {
  const sha256 = await sha256File(tmpPath);
  const path = join(binariesDir(storeDir), sha256);
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) {
    await unlink(tmpPath);
    return { path, sha256, reused: true };
  }
  // Read+execute for the owner only: a stored binary is evidence and must not change.
  await chmod(tmpPath, 0o500);
  await rename(tmpPath, path);
  return { path, sha256, reused: false };
}
