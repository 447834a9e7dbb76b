/** What every command shares: the store flag, JSON output, the logger. */
import { existsSync } from "node:fs";
import { isAbsolute, relative } from "node:path";
import type { Command } from "commander";
import { usageError } from "../errors.js";
import { assertStoreDir, resolveStoreDir } from "../store/layout.js";
import { assertTrustedStore } from "../store/trust.js";
import { createLogger, type Logger } from "../util/log.js";

export interface CommonOptions {
  store?: string;
  json?: boolean;
  verbose?: boolean;
}

export function storeOption(cmd: Command): Command {
  return cmd.option(
    "--store <dir>",
    "the crash store (default: $STATE_DIRECTORY under systemd, else the nearest .hotdump up to the repository root or $HOME, else .hotdump here)",
  );
}

/** The store of a command, refused (E_STORE_UNTRUSTED) when anyone but its user or root could change it. */
export function storeDirFrom(opts: CommonOptions): string {
  const dir = resolveStoreDir(process.cwd(), opts.store);
  assertTrustedStore(dir);
  return dir;
}

export function loggerFor(cmd: Command, stream: NodeJS.WriteStream = process.stderr): Logger {
  const all = cmd.optsWithGlobals() as CommonOptions;
  return createLogger({ level: all.verbose ? "debug" : "info", stream });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

const shellWord = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * ` --store DIR` for a command suggested to the user, when run from `cwd` it would not find
 * `storeRoot` by itself (the default store, found upwards); "" when it would. Without it, the
 * `next hotdump report ID` printed after `exec --store examples/.demo-store` failed with
 * E_CRASH_NOT_FOUND when typed as shown.
 */
export function storeFlagFor(storeRoot: string, cwd = process.cwd()): string {
  if (resolveStoreDir(cwd) === storeRoot) return "";
  const rel = relative(cwd, storeRoot);
  const shown = rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : storeRoot;
  return ` --store ${shellWord(shown)}`;
}

/** The report's `next` commands, runnable from here: hotdump's own get the store they need. */
export function withStoreFlag(next: readonly string[], storeRoot: string, cwd = process.cwd()): string[] {
  const flag = storeFlagFor(storeRoot, cwd);
  return next.map((n) => (flag && n.startsWith("hotdump ") && !n.includes(" --store ") ? `${n}${flag}` : n));
}

/** A whole-number flag (`--pid 42`), undefined when not given; `signed` also takes negatives. */
export function intFlag(v: string | undefined, name: string, signed = false): number | undefined {
  if (v === undefined) return undefined;
  if (!(signed ? /^-?\d+$/ : /^\d+$/).test(v))
    throw usageError(`${name} must be a number, not ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * The store `crashes` and `history` read. A --store that names no store is a mistake to say; no
 * store found by default is just "nothing yet" (exec, dev and run create it): that is printed
 * here, and null returned.
 */
export function readableStoreDir(opts: CommonOptions, noun: string): string | null {
  const dir = storeDirFrom(opts);
  if (opts.store !== undefined) assertStoreDir(dir);
  else if (!existsSync(dir)) {
    if (opts.json) printJson([]);
    else
      process.stdout.write(
        `no ${noun} yet: no .hotdump store here or in a parent directory (hotdump exec, dev and run create one)\n`,
      );
    return null;
  }
  return dir;
}
