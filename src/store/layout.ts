/**
 * Where things live in a store. Cores hold secrets (Delve reads locals back from a core:
 * test/delve.test.ts gets the dlvcrash fixture's `secret="tok-12345"`), so every directory is 0700 and every file 0600; binaries are 0500: `run` starts
 * them from the store, and nothing may change them.
 *
 *   <store>/binaries/<sha256>     content-addressed copies of every binary that ran
 *   <store>/crashes/<id>/         one bundle per crash or snapshot (meta.json, core.zst, ...)
 *   <store>/journal.db            SQLite (WAL): every build, generation and crash event
 *   <store>/cache/                decompressed cores for a debugger, removed after use
 *   <store>/tmp/                  build output before it is adopted into binaries/
 */
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { HotdumpError } from "../errors.js";

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

export interface StoreLayout {
  root: string;
  binaries: string;
  crashes: string;
  cache: string;
  /** Build output before it is adopted (same file system as binaries/, so renames are atomic). */
  tmp: string;
  journal: string;
  control: string;
}

export function resolveStoreDir(cwd: string, dir?: string): string {
  return resolve(cwd, dir ?? ".hotdump");
}

export function storeLayout(root: string): StoreLayout {
  return {
    root,
    binaries: join(root, "binaries"),
    crashes: join(root, "crashes"),
    cache: join(root, "cache"),
    tmp: join(root, "tmp"),
    journal: join(root, "journal.db"),
    control: join(root, "control.sock"),
  };
}

/** Create the store's directories (0700). Throws a typed error the caller can keep as a reason. */
export function ensureStore(root: string): StoreLayout {
  const layout = storeLayout(root);
  try {
    for (const d of [layout.root, layout.binaries, layout.crashes, layout.cache, layout.tmp]) {
      mkdirSync(d, { recursive: true, mode: DIR_MODE });
      if ((statSync(d).mode & 0o777) !== DIR_MODE) chmodSync(d, DIR_MODE);
    }
  } catch (cause) {
    throw storeUnwritable(root, cause);
  }
  return layout;
}

export const storeUnwritable = (root: string, cause: unknown) =>
  new HotdumpError(
    "store",
    "E_STORE_UNWRITABLE",
    `cannot write the store at ${root}: ${(cause as NodeJS.ErrnoException)?.code ?? (cause as Error)?.message} (use --store DIR on a writable disk)`,
    { cause },
  );

/** Crash ids sort by time: 20261129-123456-3fa2. Validated wherever one arrives from outside. */
const ID_RE = /^\d{8}-\d{6}-[0-9a-f]{4}$/;

export function newCrashId(now = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const date = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`;
  const time = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  const rand = Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, "0");
  return `${date}-${time}-${rand}`;
}

export function isCrashId(id: string): boolean {
  return ID_RE.test(id);
}

export function crashDir(layout: StoreLayout, id: string): string {
  if (!isCrashId(id)) throw badCrashId(id);
  return join(layout.crashes, id);
}

export const badCrashId = (id: string) =>
  new HotdumpError(
    "usage",
    "E_BAD_CRASH_ID",
    `not a crash id: ${JSON.stringify(id.slice(0, 80))} (ids look like 20261129-123456-3fa2; see hotdump crashes)`,
  );
