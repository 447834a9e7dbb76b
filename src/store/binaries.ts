/**
 * Content-addressed binaries: every binary that ran is copied once to binaries/<sha256>/<name>,
 * however many crashes or generations share it. The copy is taken before the program starts, so a
 * deploy or rebuild that overwrites the original path can never break the analysis of a later
 * core. The file keeps the program's name because `run` and `dev` start it from there: argv[0]
 * and /proc/PID/comm (what ps, pgrep, ss and top show) are the name, not a hash. Stores written
 * before this hold binaries/<sha256> as the file itself; binaryPath finds either.
 */
import { createHash } from "node:crypto";
import { constants, createReadStream, readdirSync, readlinkSync, statSync } from "node:fs";
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { HotdumpError } from "../errors.js";
import { DIR_MODE, type StoreLayout } from "./layout.js";

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

const checkSha = (sha256: string) => {
  if (!/^[0-9a-f]{64}$/.test(sha256))
    throw new HotdumpError("store", "E_BAD_SHA256", `not a SHA-256: ${sha256}`);
};

/**
 * The stored binary with this SHA-256: binaries/<sha256>/<name>, or binaries/<sha256> itself in an
 * older store. When none is stored, the old-layout path (which does not exist).
 */
export const binaryPath = (layout: StoreLayout, sha256: string): string => {
  checkSha(sha256);
  const at = join(layout.binaries, sha256);
  try {
    if (!statSync(at).isDirectory()) return at;
    const name = readdirSync(at).find((n) => !n.endsWith(".partial"));
    if (name) return join(at, name);
  } catch {
    // not stored
  }
  return at;
};

/**
 * The program's name for its stored copy: the file's own name, or for /proc/PID/exe and
 * /proc/self/fd/N the name of the file they link to. A name that is not usable (empty, a dot file)
 * becomes `program`.
 */
export function programName(src: string, name?: string): string {
  let n = name ?? basename(src);
  if (!name && /^\/proc\/(self|\d+)\/(exe|fd\/\d+)$/.test(src)) {
    try {
      n = basename(readlinkSync(src).replace(/ \(deleted\)$/, ""));
    } catch {
      n = "program";
    }
  }
  n = n.replace(/[^A-Za-z0-9._+-]/g, "_");
  return n && !n.startsWith(".") ? n : "program";
}

/** Where a new binary goes; an older store's file for the same SHA-256 is used as it is. */
async function destination(layout: StoreLayout, sha256: string, name: string): Promise<string> {
  checkSha(sha256);
  const dir = join(layout.binaries, sha256);
  const old = await stat(dir).catch(() => null);
  if (old && !old.isDirectory()) return dir;
  if (old) {
    const have = readdirSync(dir).find((n) => !n.endsWith(".partial"));
    if (have) return join(dir, have);
  }
  await mkdir(dir, { mode: DIR_MODE }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e;
  });
  return join(dir, name);
}

export async function archiveBinary(
  layout: StoreLayout,
  src: string,
  name?: string,
): Promise<ArchivedBinary> {
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
  let dest: string;
  try {
    dest = await destination(layout, sha256, programName(src, name));
    // A stored copy is reused only when its own bytes hash to its name: a file of the same size
    // planted under the name was once started as root.
    if (await storedBinaryMatches(dest, sha256))
      return { sha256, path: dest, bytes: data.length, added: false };
    await stat(dest);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT")
      throw new HotdumpError(
        "store",
        "E_STORE_WRITE",
        `could not store the binary: ${(cause as Error).message}`,
        { cause },
      );
    dest ??= join(layout.binaries, sha256, programName(src, name));
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
  name: string,
  /** Already computed from this file. */
  knownSha256?: string,
): Promise<{ path: string; sha256: string; reused: boolean }> {
  const sha256 = knownSha256 ?? (await sha256File(tmpPath));
  const dest = await destination(layout, sha256, programName(name, name));
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

/**
 * Whether binaries/<sha256> is a regular file (not a symlink: opened O_NOFOLLOW) whose bytes hash
 * to its name. Anything else under the name is not trusted, and the caller writes the real copy
 * over it (a rename replaces the entry whatever it was).
 */
async function storedBinaryMatches(path: string, sha256: string): Promise<boolean> {
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
