/**
 * Shared by the fault and security tests: who is still running on a test's files, and whether the
 * journal survived.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { withinTest } from "./testLimit.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Live processes (not zombies, not `except`) whose command line names `needle`. */
export function processesMentioning(needle: string, except: number[] = []): string[] {
  const out: string[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d) || except.includes(Number(d)) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").replace(/\0/g, " ");
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state !== "Z" && cmd.includes(needle)) out.push(`${d}: ${cmd}`);
    } catch {}
  }
  return out;
}

/** SQLite's own check of <store>/journal.db: "ok" when sound. */
export function integrityCheck(store: string): string {
  const db = new Database(join(store, "journal.db"), { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma("integrity_check", { simple: true }));
  } finally {
    db.close();
  }
}

export async function until<T>(fn: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + withinTest(ms);
  while (Date.now() < end) {
    const v = fn();
    if (v !== undefined) return v;
    await sleep(15);
  }
  throw new Error(`timed out: ${what}`);
}
