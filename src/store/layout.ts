/**
 * Where things live in a store. Cores hold secrets (Delve reads locals back from a core:
 * test/delve.test.ts gets the dlvcrash fixture's `secret="tok-12345"`), so every directory is 0700 and every file 0600; binaries are 0500: `run` starts
 * them from the store, and nothing may change them.
 *
 *   <store>/binaries/<sha256>/<name>  every binary that ran, by content, under its own name
 *   <store>/crashes/<id>/         one bundle per crash or snapshot (meta.json, core.zst, ...)
 *   <store>/journal.db            SQLite (WAL): every build, generation and crash event
 *   <store>/cache/                decompressed cores for a debugger, removed after use
 *   <store>/tmp/                  build output before it is adopted into binaries/
 *   <store>/.gitignore            `*`: nothing in a store is ever committed
 */
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { HotdumpError } from "../errors.js";
import { assertTrustedStore } from "./trust.js";

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

const STORE_NAME = ".hotdump";

/**
 * The store a command uses: --store when given; else, under systemd, $STATE_DIRECTORY (the unit's
 * StateDirectory=); else, like git finds .git, the nearest `.hotdump` store in `cwd` or a parent
 * (so `hotdump crashes` from a package subdirectory sees the project's crashes); else `.hotdump` in
 * `cwd`, created on first write. The walk stops at a repository root (a directory holding .git),
 * at $HOME and at a file-system boundary, and never looks in `/`: a `/.hotdump` made once by a
 * command run from `/` (systemd's default WorkingDirectory) was adopted by every later invocation
 * outside a repository. From `/` itself the default is /var/lib/hotdump for root and
 * ~/.local/state/hotdump for anyone else. Whichever it is, it is used only if trusted
 * (assertTrustedStore, store/trust.ts).
 */
export function resolveStoreDir(cwd: string, dir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (dir !== undefined) return resolve(cwd, dir);
  const state = env.STATE_DIRECTORY?.split(":")[0];
  if (state && isAbsolute(state)) return state;
  const here = resolve(cwd);
  const found = findStoreUpwards(here, env.HOME);
  if (found) return found;
  if (here === "/")
    return process.getuid?.() === 0 || !env.HOME
      ? "/var/lib/hotdump"
      : join(env.HOME, ".local", "state", "hotdump");
  return join(here, STORE_NAME);
}

function findStoreUpwards(start: string, home?: string): string | null {
  const stopAt = home && isAbsolute(home) ? resolve(home) : null;
  let d = start;
  let dev: number | undefined;
  for (;;) {
    if (d === "/") return null;
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(d);
    } catch {
      return null;
    }
    if (dev !== undefined && st.dev !== dev) return null;
    dev = st.dev;
    const candidate = join(d, STORE_NAME);
    if (isStore(candidate)) return candidate;
    if (existsSync(join(d, ".git")) || d === stopAt) return null;
    const up = dirname(d);
    if (up === d) return null;
    d = up;
  }
}

/** A directory hotdump made: it has the journal or the crashes directory, not just the name. */
function isStore(path: string): boolean {
  try {
    if (!statSync(path).isDirectory()) return false;
  } catch {
    return false;
  }
  return existsSync(join(path, "journal.db")) || existsSync(join(path, "crashes"));
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

/**
 * Create the store's directories (0700), after checking that nobody else could have placed or
 * could swap them (E_STORE_UNTRUSTED). Throws a typed error the caller can keep as a reason.
 */
export function ensureStore(root: string): StoreLayout {
  assertTrustedStore(root);
  const layout = storeLayout(root);
  try {
    for (const d of [layout.root, layout.binaries, layout.crashes, layout.cache, layout.tmp]) {
      makeDirs(d);
      if ((statSync(d).mode & 0o777) !== DIR_MODE) chmodSync(d, DIR_MODE);
    }
    // Cores hold secrets and weigh MBs: a store inside a repository must never be committed, even
    // by `git add -A` in a project whose .gitignore does not know hotdump.
    const ignore = join(layout.root, ".gitignore");
    if (!existsSync(ignore))
      writeFileSync(ignore, "# written by hotdump: crash cores and binaries stay out of git\n*\n", {
        mode: FILE_MODE,
      });
  } catch (cause) {
    throw storeUnwritable(root, cause);
  }
  return layout;
}

/**
 * `mkdir -p` that always ends. Node 20's recursive mkdirSync spins forever where mkdir(2) says
 * ENOENT for a child of a directory that exists: under /proc (`--store /proc/x` burned a CPU for
 * ten minutes with Node 20.20.2, strace showing mkdir /proc/x ENOENT, mkdir /proc EEXIST, again),
 * since it reads ENOENT as "create the parent first". Here each missing component is made once, and
 * any error but EEXIST is thrown.
 */
function makeDirs(dir: string, mode = DIR_MODE): void {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      statSync(d);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || dirname(d) === d) throw e;
      missing.push(d);
    }
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
}

const noStore = (root: string, why: string) =>
  new HotdumpError(
    "store",
    "E_NO_STORE",
    `no hotdump store at ${root} (${why}): check --store, or run hotdump there first`,
  );

/**
 * For the commands that only read a store (`crashes`, `history`): a path that is not a directory
 * is a mistake to say, not an empty list. An existing directory with nothing in it yet is an empty
 * store (it is where the next crash will go).
 */
export function assertStoreDir(root: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(root);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw noStore(root, code === "ENOENT" || code === "ENOTDIR" ? "it does not exist" : `${code}`);
  }
  if (!st.isDirectory()) throw noStore(root, "not a directory");
}

/**
 * The store of a command that only reads (report, debug, diff, scan, eval, mem, analyze --crash):
 * one that exists, never made here. --store naming no store is E_NO_STORE, not a new empty store.
 */
export function readStore(root: string): StoreLayout {
  assertStoreDir(root);
  assertTrustedStore(root);
  return storeLayout(root);
}

/**
 * The cache a reading command decompresses a core into: made inside the store (which exists: see
 * readStore) when it is not there yet, as ensureStore would have.
 */
export function storeCache(layout: StoreLayout): string {
  try {
    makeDirs(layout.cache);
  } catch (cause) {
    throw storeUnwritable(layout.root, cause);
  }
  return layout.cache;
}

const storeUnwritable = (root: string, cause: unknown) =>
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

const badCrashId = (id: string) =>
  new HotdumpError(
    "usage",
    "E_BAD_CRASH_ID",
    `not a crash id: ${JSON.stringify(id.slice(0, 80))} (ids look like 20261129-123456-3fa2; see hotdump crashes)`,
  );
