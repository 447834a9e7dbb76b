/**
 * Which stores hotdump may use. A store holds the binaries `run` starts (as root, under systemd),
 * so whoever can write it, or rename any directory above it, can choose what root runs: the rule
 * is OpenSSH's StrictModes and sudo's, applied to the store and every directory above it:
 * - each is owned by the invoking user or by root;
 * - none is writable by group or others, except a root-owned sticky directory such as /tmp above
 *   the store (the sticky bit stops others from renaming or removing entries they do not own, so
 *   /tmp/mine/.hotdump owned by you stays yours; /tmp itself can never be a store).
 * Both the path as given and the directories its symlinks resolve to are checked: a symlink in a
 * directory someone else can write could be pointed anywhere.
 */
import { lstatSync, readFileSync, realpathSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";
import { HotdumpError } from "../errors.js";

export interface TrustProblem {
  /** The directory that fails the rule. */
  path: string;
  owner: number;
  mode: number;
  why: "owner" | "writable";
}

const myUid = () => process.getuid?.() ?? 0;

/** The first directory, from `dir` upwards, that breaks the rule; null when all keep it. */
export function storeTrustProblem(dir: string, uid = myUid()): TrustProblem | null {
  const chains = [resolve(dir)];
  try {
    const real = realpathSync(dir);
    if (real !== chains[0]) chains.push(real);
  } catch {
    // Not there yet: the directories above it are checked, and it is created 0700 by us.
  }
  for (const start of chains) {
    let isStore = true;
    for (let d = start; ; d = dirname(d)) {
      let st: Stats;
      try {
        st = lstatSync(d);
      } catch {
        isStore = false;
        if (dirname(d) === d) break;
        continue;
      }
      // A symlink's own mode means nothing; its target is checked through the resolved chain, and
      // the directory holding it is checked next.
      if (!st.isSymbolicLink()) {
        const p = problemOf(d, st, uid, isStore);
        if (p) return p;
      }
      isStore = false;
      if (dirname(d) === d) break;
    }
  }
  return null;
}

function problemOf(path: string, st: Stats, uid: number, isStore: boolean): TrustProblem | null {
  if (st.uid !== uid && st.uid !== 0) return { path, owner: st.uid, mode: st.mode & 0o7777, why: "owner" };
  const openToOthers = (st.mode & 0o022) !== 0;
  const stickyRoot = (st.mode & 0o1000) !== 0 && st.uid === 0 && !isStore;
  if (openToOthers && !stickyRoot) return { path, owner: st.uid, mode: st.mode & 0o7777, why: "writable" };
  return null;
}

/** Throws E_STORE_UNTRUSTED when `dir` (existing or to be created) breaks the rule. */
export function assertTrustedStore(dir: string, uid = myUid()): void {
  const p = storeTrustProblem(dir, uid);
  if (p) throw storeUntrusted(resolve(dir), p);
}

const storeUntrusted = (store: string, p: TrustProblem) => {
  const where = p.path === store ? "it" : p.path;
  const what =
    p.why === "owner"
      ? `${where} is owned by ${userName(p.owner)}, not by you or root`
      : `${where} is writable by ${(p.mode & 0o020) !== 0 ? "its group" : "others"} (mode ${p.mode.toString(8).padStart(4, "0")})`;
  const fix =
    p.why === "owner"
      ? `use --store DIR in a directory you own, or chown ${p.path} if it is really yours`
      : `chmod go-w ${p.path}, or use --store DIR elsewhere`;
  return new HotdumpError(
    "store",
    "E_STORE_UNTRUSTED",
    `refusing the store ${store}: ${what}, so another user could change what hotdump runs and reads (${fix})`,
  );
};

function userName(uid: number): string {
  try {
    // /etc/passwd is small and world-readable; getpwuid is not reachable from Node.
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[2] === String(uid) && f[0]) return `${f[0]} (uid ${uid})`;
    }
  } catch {
    // fall through
  }
  return `uid ${uid}`;
}
