/**
 * inotify(7) itself, through koffi (the prebuilt FFI hotdump already uses for prctl/waitpid): one
 * watch per directory, events read from the inotify descriptor by a blocking read(2) on one libuv
 * pool thread, delivered as soon as the kernel has them. No extra debounce here: @parcel/watcher
 * (2.6.0) holds every batch until 50 ms pass without an event (its src/Debounce.hh), more than the
 * whole budget hotdump's dev loop has over a build by hand (bench/dev-latency.mjs), and its
 * `ignore` option takes paths and globs, not gitignore's rules with negations.
 */
import { close as fsClose, read as fsRead } from "node:fs";
import { loadLibc } from "../util/native.js";

// include/uapi/linux/inotify.h
const IN_MODIFY = 0x2;
export const IN_ATTRIB = 0x4;
export const IN_CLOSE_WRITE = 0x8;
export const IN_MOVED_FROM = 0x40;
export const IN_MOVED_TO = 0x80;
export const IN_CREATE = 0x100;
export const IN_DELETE = 0x200;
const IN_DELETE_SELF = 0x400;
const IN_MOVE_SELF = 0x800;
export const IN_Q_OVERFLOW = 0x4000;
export const IN_IGNORED = 0x8000;
export const IN_ONLYDIR = 0x01000000;
const IN_EXCL_UNLINK = 0x04000000;
export const IN_ISDIR = 0x40000000;
/** inotify_init1 flag: O_CLOEXEC (asm-generic/fcntl.h), so the services hotdump starts do not inherit it. */
const IN_CLOEXEC = 0o2000000;

/** What a watched directory reports: its entries changing, and itself going away. */
const DIR_MASK =
  IN_MODIFY |
  IN_ATTRIB |
  IN_CLOSE_WRITE |
  IN_MOVED_FROM |
  IN_MOVED_TO |
  IN_CREATE |
  IN_DELETE |
  IN_DELETE_SELF |
  IN_MOVE_SELF |
  IN_ONLYDIR |
  IN_EXCL_UNLINK;

export interface InotifyEvent {
  wd: number;
  mask: number;
  cookie: number;
  /** Entry name inside the watched directory; "" for events about the directory itself. */
  name: string;
}

interface Calls {
  init1: (flags: number) => number;
  addWatch: (fd: number, path: string, mask: number) => number;
  rmWatch: (fd: number, wd: number) => number;
  /** ioctl(fd, FIONREAD, &n): bytes of events queued in the kernel. */
  queued: (fd: number, request: number, out: number[]) => number;
  errno: () => number;
}

/** asm-generic/ioctls.h */
const FIONREAD = 0x541b;

let calls: Calls | null | undefined;

function load(): Calls | null {
  if (calls !== undefined) return calls;
  const h = loadLibc();
  if (!h) {
    calls = null;
    return calls;
  }
  try {
    const { koffi, lib } = h;
    calls = {
      init1: lib.func("int inotify_init1(int)"),
      addWatch: lib.func("int inotify_add_watch(int, const char *, uint32_t)"),
      rmWatch: lib.func("int inotify_rm_watch(int, int)"),
      queued: lib.func("int ioctl(int, unsigned long, _Out_ int *)"),
      errno: () => koffi.errno(),
    };
  } catch {
    calls = null;
  }
  return calls;
}

/** errno names the watcher tells apart (asm-generic/errno-base.h). */
const ERRNO: Record<number, string> = {
  2: "ENOENT",
  13: "EACCES",
  20: "ENOTDIR",
  24: "EMFILE",
  28: "ENOSPC",
};

const errnoError = (syscall: string, errno: number, path?: string): NodeJS.ErrnoException => {
  const code = ERRNO[errno] ?? `errno ${errno}`;
  const e: NodeJS.ErrnoException = new Error(`${code}: ${syscall}${path ? ` '${path}'` : ""}`);
  e.code = code;
  e.errno = errno;
  e.syscall = syscall;
  if (path !== undefined) e.path = path;
  return e;
};

export interface Inotify {
  /** Watch a directory; returns its watch descriptor (the same one for the same inode). Throws an ErrnoException. */
  add(path: string, mask?: number): number;
  remove(wd: number): void;
  /** Stop reading and close the descriptor; resolves once the pending read has returned. */
  close(): Promise<void>;
}

/**
 * An inotify instance whose events go to `onEvents` in kernel order, one call per read (a burst
 * can take several: `more` says so). Null when
 * the FFI is unavailable (another libc or architecture without koffi's prebuilt binary); the
 * caller then polls.
 */
export function openInotify(
  /** `more`: further events are already queued (the next read returns at once). */
  onEvents: (events: InotifyEvent[], more: boolean) => void,
  onError: (err: NodeJS.ErrnoException) => void,
): Inotify | null {
  const c = load();
  if (!c) return null;
  const fd = c.init1(IN_CLOEXEC);
  if (fd < 0) throw errnoError("inotify_init1", c.errno());
  let closing = false;
  let closed: Promise<void> | undefined;
  let endRead: () => void = () => {};
  const readEnded = new Promise<void>((r) => (endRead = r));
  // Big enough for a `git checkout`'s burst in one read; the kernel never splits an event.
  const buf = Buffer.alloc(256 * 1024);
  const loop = (): void => {
    fsRead(fd, buf, 0, buf.length, null, (err, n) => {
      if (closing) return endRead();
      if (err) {
        if (err.code === "EINTR" || err.code === "EAGAIN") return loop();
        endRead();
        return onError(err);
      }
      try {
        const q = [0];
        const more = c.queued(fd, FIONREAD, q) === 0 && (q[0] ?? 0) > 0;
        onEvents(parseEvents(buf, n), more);
      } finally {
        loop();
      }
    });
  };
  loop();
  return {
    add(path, mask = DIR_MASK) {
      const wd = c.addWatch(fd, path, mask);
      if (wd < 0) throw errnoError("inotify_add_watch", c.errno(), path);
      return wd;
    },
    remove(wd) {
      c.rmWatch(fd, wd);
    },
    close() {
      if (closed) return closed;
      closing = true;
      // The read blocks in the kernel and close(2) from another thread does not end it; removing
      // a watch queues IN_IGNORED, which does. "/" always exists and is always readable.
      const wake = c.addWatch(fd, "/", IN_DELETE_SELF);
      if (wake >= 0) c.rmWatch(fd, wake);
      closed = readEnded.then(
        () =>
          new Promise<void>((resolve) => {
            fsClose(fd, () => resolve());
          }),
      );
      return closed;
    },
  };
}

/** struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; } (inotify(7)), NUL-padded names. */
function parseEvents(buf: Buffer, length: number): InotifyEvent[] {
  const events: InotifyEvent[] = [];
  for (let off = 0; off + 16 <= length; ) {
    const len = buf.readUInt32LE(off + 12);
    const start = off + 16;
    let end = start;
    while (end < start + len && buf[end] !== 0) end++;
    events.push({
      wd: buf.readInt32LE(off),
      mask: buf.readUInt32LE(off + 4),
      cookie: buf.readUInt32LE(off + 8),
      name: buf.toString("utf8", start, end),
    });
    off = start + len;
  }
  return events;
}
