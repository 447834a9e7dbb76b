/**
 * A stored capture made ready for a debugger or a scanner: the bundle, its archived binary, and
 * its core decompressed into <store>/cache (zstd writes it sparse, so a 1 GB mostly-empty stack
 * costs its real data). The cached core holds the process's secrets, so release() removes it.
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type Bundle,
  binaryPath,
  decompressFile,
  openBundle,
  readStore,
  type StoreLayout,
  storeCache,
} from "../store/index.js";
import { buildIdMismatch, noStoredBinary, noStoredCore } from "./errors.js";

interface StoredCapture {
  bundle: Bundle;
  layout: StoreLayout;
  /** The archived binary; null when the bundle has none (scan still works, without names). */
  binary: string | null;
  core: string;
  /** Remove the decompressed core; idempotent. */
  release(): Promise<void>;
}

interface OpenStoredOptions {
  /** Fail without a stored binary (eval, mem). */
  requireBinary?: boolean;
  /** Use a core whose build ID does not match its binary. */
  force?: boolean;
}

export async function openStoredCapture(
  storeDir: string,
  id: string,
  opts: OpenStoredOptions = {},
): Promise<StoredCapture> {
  const layout = readStore(storeDir);
  const bundle = openBundle(layout, id);
  const { meta } = bundle;
  if (!meta.core.stored) throw noStoredCore(bundle.id, meta.core.reason);
  const sha = meta.binary?.sha256;
  const binary = sha && existsSync(binaryPath(layout, sha)) ? binaryPath(layout, sha) : null;
  if (!binary && opts.requireBinary) throw noStoredBinary(bundle.id);
  if (binary && meta.core.buildIdMatch === false && !opts.force)
    throw buildIdMismatch(bundle.id, meta.core.buildIdReason);
  // One file per command run: two commands on the same capture must not share (or delete) one.
  const core = join(storeCache(layout), `${bundle.id}.${process.pid}.${Date.now().toString(36)}.core`);
  await decompressFile(join(bundle.dir, meta.core.stored), core);
  let released = false;
  return {
    bundle,
    layout,
    binary,
    core,
    async release() {
      if (released) return;
      released = true;
      await rm(core, { force: true });
    },
  };
}
