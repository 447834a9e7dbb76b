/**
 * Starting the file that was checked, not whatever its path names a moment later. The program is
 * opened once without following a symlink, hashed from that descriptor, and given a second name in
 * a private directory (0700, made by hotdump) through the descriptor itself (linkat of
 * /proc/self/fd/N): the kernel then starts the inode that was hashed, and a file renamed over the
 * original path after the check changes nothing. A hard link freezes the bytes only when nobody
 * but you or root can write the file; another owner's file (or one on another file system) is
 * copied instead, hashed while it is copied. The second name is the program's own, so argv[0]'s
 * base name and /proc/PID/comm (what ps, pgrep, top and core_pattern's %e show) stay right; Node
 * cannot execveat(2) a descriptor, and exec of /proc/self/fd/N names the process "N".
 */
import { createHash } from "node:crypto";
import { constants, lstatSync, readdirSync, realpathSync, rmSync, type Stats } from "node:fs";
import { type FileHandle, mkdtemp, open, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { HotdumpError } from "../errors.js";
import { programName, storeTrustProblem } from "../store/index.js";
import { linkDescriptor } from "../util/native.js";

export interface PinnedProgram {
  /** What to start: <private dir>/<name>, the inode that was hashed (or a copy of its bytes). */
  path: string;
  sha256: string;
  bytes: number;
  /**
   * link: a second name for the hashed file; copy: the hashed bytes written by hotdump; path: the
   * file sits where only you or root can change or replace it (inPlaceIfTrusted, or no private
   * directory could be made: a full disk), so it starts from its own path.
   */
  how: "link" | "copy" | "path";
  /** Remove the private directory once the process has ended; idempotent. */
  release(): void;
}

export interface PinOptions {
  /** Where to make the private directory, in order (the store's tmp/, then the system's). */
  under: readonly string[];
  /** The program's name (default: the file's own as given). */
  name?: string;
  /**
   * Start from its own path when nobody but you or root can replace or change it (the trusted
   * store rule, store/trust.ts, for the file and every directory above it): `exec`, whose programs
   * may find their files next to their own executable (`go` finds GOROOT so).
   */
  inPlaceIfTrusted?: boolean;
}

const PREFIX = "hotdump-start-";
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

const myUid = () => process.getuid?.() ?? 0;

/** Only you or root can change its bytes: a second name of it is as good as a copy. */
const ownBytes = (st: Stats) => (st.uid === myUid() || st.uid === 0) && (st.mode & 0o022) === 0;

const programRefused = (path: string, why: string, cause?: unknown) =>
  new HotdumpError("exec", "E_PROGRAM_UNVERIFIABLE", `not starting ${path}: ${why}`, {
    ...(cause ? { cause } : {}),
  });

export async function pinProgram(src: string, o: PinOptions): Promise<PinnedProgram> {
  const name = o.name ?? programName(src);
  // A symlinked command (/usr/bin/x -> /opt/x/bin/x) is resolved once; the file itself must then
  // not be a symlink when it is opened (O_NOFOLLOW), or something was swapped in between.
  let real: string;
  let fh: FileHandle;
  try {
    real = realpathSync(src);
    fh = await open(real, FLAGS);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw programRefused(src, "it became a symbolic link while it was checked", cause);
    throw new HotdumpError(
      "exec",
      "E_BINARY_UNREADABLE",
      `cannot read the program ${src}: ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw programRefused(src, "it is not a regular file");
    const sha256 = await hashOf(fh);
    // The path is as safe as a pin only when nobody but you or root can change the file, replace
    // it or rename any directory above it.
    // Both the directory of the name as given (a symlink /bin/sh lives there) and the file's own.
    const trust = storeTrustProblem(dirname(real)) ?? storeTrustProblem(dirname(resolve(src)));
    // Started by the name as given: /bin/sh stays /bin/sh in argv[0], not /usr/bin/dash.
    if (o.inPlaceIfTrusted && ownBytes(st) && !trust)
      return { path: resolve(src), sha256, bytes: st.size, how: "path", release: () => {} };
    const dir = await privateDir(o.under, sha256);
    if (!dir) {
      // No directory could be made (a full disk).
      if (!ownBytes(st) || trust)
        throw programRefused(
          src,
          `no private copy could be made (${o.under.join(", ")} not writable) and ${trust ? `${trust.path} is open to others` : "another user can write it"}`,
        );
      return { path: real, sha256, bytes: st.size, how: "path", release: () => {} };
    }
    const release = once(() => rmSync(dir, { recursive: true, force: true }));
    const dest = join(dir, name);
    try {
      if (ownBytes(st) && linkDescriptor(fh.fd, dest) === 0) {
        const linked = await stat(dest);
        if (linked.ino === st.ino && linked.dev === st.dev)
          return { path: dest, sha256, bytes: st.size, how: "link", release };
        rmSync(dest, { force: true });
      }
      // Read again to copy: bytes that changed since they were hashed are refused, not started.
      if ((await copyOf(fh, dest)) !== sha256) throw programRefused(src, "it changed while it was read");
      return { path: dest, sha256, bytes: st.size, how: "copy", release };
    } catch (e) {
      release();
      throw e instanceof HotdumpError
        ? e
        : programRefused(src, `cannot make its private copy: ${(e as Error).message}`, e);
    }
  } finally {
    await fh.close();
  }
}

async function hashOf(fh: FileHandle): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of fh.createReadStream({ start: 0, highWaterMark: 1 << 20, autoClose: false }))
    h.update(chunk as Buffer);
  return h.digest("hex");
}

/** The bytes hashed are the bytes written: one read of the descriptor feeds both. */
async function copyOf(fh: FileHandle, dest: string): Promise<string> {
  const h = createHash("sha256");
  const out = await open(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o700);
  try {
    for await (const chunk of fh.createReadStream({ start: 0, highWaterMark: 1 << 20, autoClose: false })) {
      h.update(chunk as Buffer);
      await out.write(chunk as Buffer);
    }
    await out.chmod(0o500);
  } finally {
    await out.close();
  }
  return h.digest("hex");
}

const swept = new Set<string>();

/**
 * A new 0700 directory in the first of `under` that takes one; null when none does. Its name
 * carries the SHA-256 (hotdump-start-PID-SHA256-XXXXXX), so a process started from it is known to
 * run that stored binary (store/retention.ts keeps it while it runs).
 */
async function privateDir(under: readonly string[], sha256: string): Promise<string | null> {
  for (const parent of under) {
    sweep(parent);
    try {
      return await mkdtemp(join(parent, `${PREFIX}${process.pid}-${sha256}-`));
    } catch {
      // the next one
    }
  }
  return null;
}

/** Directories of hotdumps that are gone (SIGKILLed before they could remove them). */
function sweep(parent: string): void {
  if (swept.has(parent)) return;
  swept.add(parent);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(/^hotdump-start-(\d+)-/.exec(n)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    // Only our own: another user's entry in a shared /tmp is theirs to keep.
    const st = lstatSync(join(parent, n), { throwIfNoEntry: false });
    if (st?.isDirectory() && st.uid === myUid()) rmSync(join(parent, n), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    try {
      fn();
    } catch {
      // a leftover directory is swept by the next start
    }
  };
}
