/**
 * systemd's notify protocol (sd_notify(3)), as a service manager: each generation gets its own
 * NOTIFY_SOCKET, a UNIX datagram socket, and says READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1
 * (or WATCHDOG=trigger) as newline-separated KEY=VALUE datagrams. One socket per generation, so
 * a message needs no sender credentials to be attributed, and a socket file inside the 0700 store
 * (or a private temporary directory when that path is too long for sun_path) so no other user
 * can send to it. go-systemd's daemon.SdNotify dials NOTIFY_SOCKET with net.Dial("unixgram")
 * and SdWatchdogEnabled reads WATCHDOG_USEC: both work unchanged.
 *
 * Why polling: Node's dgram has no UNIX datagrams, and libuv refuses such an fd as a stream
 * (uv_guess_handle: UV_UNKNOWN_HANDLE). koffi's recv(MSG_DONTWAIT) on a non-blocking socket costs
 * a few microseconds; it runs every 5 ms while a READY=1 is awaited (the switch waits for it) and
 * every 50 ms otherwise (watchdog intervals are seconds): no thread is blocked, no helper process.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeFd, datagramSocket, netsys, recvDatagram, sendDatagram } from "./netsys.js";

/** sun_path holds 108 bytes with its NUL. */
const SUN_PATH_MAX = 107;
const FAST_MS = 5;
const IDLE_MS = 50;

export type NotifyMessage = Map<string, string>;

export interface NotifySocket {
  /** NOTIFY_SOCKET for the service. */
  readonly path: string;
  /** Resolves at the first READY=1. */
  readonly ready: Promise<void>;
  /** Every message, parsed. */
  on(fn: (m: NotifyMessage) => void): () => void;
  /** Poll slowly once READY=1 is no longer awaited. */
  idle(): void;
  close(): void;
}

/**
 * hotdump's own service manager (a systemd unit with Type=notify and NotifyAccess=all: with
 * --listen the process systemd started is stage 1, and this message comes from stage 2): told
 * READY=1 once a generation serves, RELOADING=1 / STOPPING=1 around reloads and shutdown. Without
 * NOTIFY_SOCKET in hotdump's environment, nothing. Best effort: false when it could not be sent.
 */
export function tellManager(text: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const path = env.NOTIFY_SOCKET;
  if (!path || !netsys()) return false;
  try {
    sendDatagram(path, text);
    return true;
  } catch {
    return false;
  }
}

/** The manager's variables are hotdump's, not the service's: a service gets its own or none. */
export const MANAGER_ENV = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] as const;

export function parseNotify(text: string): NotifyMessage {
  const m: NotifyMessage = new Map();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return m;
}

/** A notify socket for one generation, in `dir` (made 0700 if missing). */
export function openNotifySocket(dir: string, name: string): NotifySocket {
  let path = join(dir, name);
  let ownDir: string | undefined;
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    ownDir = mkdtempSync(join(tmpdir(), "hotdump-notify-"));
    path = join(ownDir, name);
  } else mkdirSync(dir, { recursive: true, mode: 0o700 });
  rmSync(path, { force: true });
  const fd = datagramSocket(path);
  const listeners = new Set<(m: NotifyMessage) => void>();
  let markReady!: () => void;
  const ready = new Promise<void>((r) => {
    markReady = r;
  });
  let isReady = false;
  let interval = FAST_MS;
  let closed = false;
  const buf = Buffer.alloc(4096);
  let timer: NodeJS.Timeout | undefined;
  const poll = () => {
    if (closed) return;
    try {
      for (let n = recvDatagram(fd, buf); n >= 0; n = recvDatagram(fd, buf)) {
        const m = parseNotify(buf.subarray(0, n).toString("utf8"));
        if (m.get("READY") === "1" && !isReady) {
          isReady = true;
          markReady();
        }
        for (const l of listeners) l(m);
      }
    } catch {
      // EBADF after close, or a socket gone: nothing more will come.
      return;
    }
    timer = setTimeout(poll, interval);
    timer.unref();
  };
  poll();
  return {
    path,
    ready,
    on(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    idle() {
      interval = IDLE_MS;
    },
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      closeFd(fd);
      rmSync(path, { force: true });
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    },
  };
}
