/**
 * libc through koffi (a prebuilt FFI, no compiler needed), loaded once for every caller (this
 * module's prctl and waitpid, supervise/netsys.ts's socket calls), and the two system calls Node
 * does not offer: prctl(PR_SET_CHILD_SUBREAPER) and waitpid() on one pid. Both are optional:
 * without koffi's prebuilt binary (another libc, another architecture) hotdump still tracks
 * descendants by polling /proc, it just cannot collect the exit status of orphans.
 */
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";

type Koffi = typeof import("koffi");

interface LibcHandle {
  koffi: Koffi;
  lib: ReturnType<Koffi["load"]>;
}

let handle: LibcHandle | null | undefined;
let handleError: string | undefined;

/** koffi and libc.so.6, or null (libcUnavailable() says why) where koffi cannot load. */
export function loadLibc(): LibcHandle | null {
  if (handle !== undefined) return handle;
  try {
    const koffi = createRequire(import.meta.url)("koffi") as Koffi;
    handle = { koffi, lib: koffi.load("libc.so.6") };
  } catch (e) {
    handleError = (e as Error).message.split("\n")[0];
    handle = null;
  }
  return handle;
}

export function libcUnavailable(): string | undefined {
  loadLibc();
  return handleError;
}

/** prctl(2): PR_SET_CHILD_SUBREAPER = 36 (include/uapi/linux/prctl.h). */
const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

interface Rlimit {
  cur: number | bigint;
  max: number | bigint;
}

interface Libc {
  prctl: (option: number, a: number, b: number, c: number, d: number) => number;
  fcntl: (fd: number, cmd: number, arg: number) => number;
  waitpid: (pid: number, status: number[], options: number) => number;
  getrlimit: (resource: number, out: Rlimit) => number;
  setrlimit: (resource: number, lim: Rlimit) => number;
  linkat: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number) => number;
  errno: () => number;
}

/** RLIMIT_CORE (asm-generic/resource.h). */
const RLIMIT_CORE = 4;

let libc: Libc | null | undefined;
let loadError = "";

function load(): Libc | null {
  if (libc !== undefined) return libc;
  const h = loadLibc();
  const lib = h?.lib;
  libc = null;
  if (!h || !lib) return libc;
  const { koffi } = h;
  try {
    libc = {
      prctl: lib.func("int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)"),
      fcntl: lib.func("int fcntl(int, int, int)"),
      waitpid: lib.func("int waitpid(int, _Out_ int *, int)"),
      linkat: lib.func("int linkat(int, const char *, int, const char *, int)"),
      errno: () => koffi.errno(),
      ...(() => {
        koffi.struct("hotdump_rlimit", { cur: "uint64", max: "uint64" });
        return {
          getrlimit: lib.func("int getrlimit(int, _Out_ hotdump_rlimit *)"),
          setrlimit: lib.func("int setrlimit(int, const hotdump_rlimit *)"),
        };
      })(),
    };
  } catch (e) {
    libc = null;
    loadError = (e as Error).message.split("\n")[0] ?? "";
  }
  return libc;
}

/** Why koffi could not reach libc (for `hotdump doctor`), or null when it can. */
export function nativeProblem(): string | null {
  if (load()) return null;
  return libcUnavailable() ?? (loadError || "koffi did not load");
}

let subreaper = false;

/**
 * Make this process the subreaper of everything it starts: a descendant whose parent exits (a
 * wrapper script that started a server in the background, then ended) is reparented to hotdump
 * instead of init, so it stays visible under /proc/self/task/{@literal *}/children and its exit
 * status can be collected here. Process-wide and permanent (prctl(2)); idempotent.
 */
export function becomeSubreaper(): boolean {
  if (subreaper) return true;
  const c = load();
  if (!c) return false;
  subreaper = c.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0;
  return subreaper;
}

interface WaitStatus {
  exitCode: number | null;
  /** Signal number that ended it. */
  signal: number | null;
  coreDumped: boolean;
}

/** Decode a wait(2) status word (WIFEXITED / WIFSIGNALED / WCOREDUMP of glibc's bits/waitstatus.h). */
export function decodeWaitStatus(status: number): WaitStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { exitCode: (status >> 8) & 0xff, signal: null, coreDumped: false };
  return { exitCode: null, signal: sig, coreDumped: (status & 0x80) !== 0 };
}

/**
 * Reap `pid` if it is a zombie child of this process. Only ever call it for an adopted orphan:
 * reaping a child that libuv started steals its exit from Node (libuv ignores the ECHILD it then gets).
 */
export function reapChild(pid: number): WaitStatus | null {
  const c = load();
  if (!c) return null;
  const out = [0];
  const r = c.waitpid(pid, out, WNOHANG);
  return r === pid ? decodeWaitStatus(out[0] ?? 0) : null;
}

/** fcntl(2) F_GETFD / F_SETFD and FD_CLOEXEC (include/uapi/asm-generic/fcntl.h). */
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
let fdsClosedOnExec = false;

/**
 * Mark every descriptor above stderr close-on-exec, once: whatever hotdump inherited without the
 * flag (a deploy script's lock file, another service's socket) then never reaches the service.
 * libuv's spawn clears the flag again on the descriptors it is told to pass (stdio entries, the
 * listening sockets at 3, 4, ...: uv__process_child_init), and Node opens its own with O_CLOEXEC,
 * so nothing hotdump means to hand on is lost. Returns the descriptors it changed.
 */
export function closeInheritedOnExec(): number[] {
  if (fdsClosedOnExec) return [];
  fdsClosedOnExec = true;
  const c = load();
  if (!c) return [];
  const changed: number[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc/self/fd");
  } catch {
    return [];
  }
  for (const n of names) {
    const fd = Number(n);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    const flags = c.fcntl(fd, F_GETFD, 0);
    if (flags < 0 || flags & FD_CLOEXEC) continue;
    if (c.fcntl(fd, F_SETFD, flags | FD_CLOEXEC) === 0) changed.push(fd);
  }
  return changed;
}

/**
 * Run `spawn` with this process's soft RLIMIT_CORE raised to its hard limit, then put it back:
 * fork copies the limits, so the child gets cores (Debian's login default is a soft limit of 0)
 * without a shell running `ulimit` first, and hotdump itself never dumps a core of its own. Null
 * when the limits cannot be read or set here (no FFI): the caller raises it another way.
 */
export function withCoreLimitRaised<T>(spawn: () => T): T | null {
  const c = load();
  if (!c) return null;
  const lim: Rlimit = { cur: 0, max: 0 };
  if (c.getrlimit(RLIMIT_CORE, lim) !== 0) return null;
  if (lim.cur === lim.max) return spawn();
  if (c.setrlimit(RLIMIT_CORE, { cur: lim.max, max: lim.max }) !== 0) return null;
  try {
    return spawn();
  } finally {
    c.setrlimit(RLIMIT_CORE, lim);
  }
}

/** AT_FDCWD and AT_SYMLINK_FOLLOW (include/uapi/linux/fcntl.h). */
const AT_FDCWD = -100;
const AT_SYMLINK_FOLLOW = 0x400;

/**
 * Give the file open at `fd` a second name, `dest`: linkat(2) of /proc/self/fd/FD with
 * AT_SYMLINK_FOLLOW links the very inode the descriptor holds (the magic link is followed to it),
 * whatever is at its old path by now. Node's link() is link(2), which never follows the last
 * component. Returns 0, an errno (EXDEV for another file system), or null without the FFI.
 */
export function linkDescriptor(fd: number, dest: string): number | null {
  const c = load();
  if (!c) return null;
  return c.linkat(AT_FDCWD, `/proc/self/fd/${fd}`, AT_FDCWD, dest, AT_SYMLINK_FOLLOW) === 0 ? 0 : c.errno();
}
