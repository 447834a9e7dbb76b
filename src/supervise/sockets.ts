/**
 * Listening sockets that outlive generations (`--listen ADDR`), handed to each generation with the
 * systemd socket-activation protocol: fds from 3, LISTEN_FDS, LISTEN_FDNAMES, and LISTEN_PID equal
 * to the service's own pid (set by launch.ts's `sh -c` prelude).
 *
 * hotdump itself must never accept a connection on these sockets. A listening net.Server keeps
 * accepting: libuv has no call to pause a listening handle (uv_listen has no counterpart short
 * of closing it), so the start is
 * two-stage:
 *  - stage 1 (`bindListeners` + `handoff`) binds, spawns the supervising Node process with the
 *    sockets at fd 3, 4, ... and closes its own servers before its event loop polls again;
 *  - stage 2 (`inheritedListeners` + `listenEnv`) never registers those fds with libuv: it passes
 *    the plain integers to each generation (Node's spawn stdio accepts parent fds as integers).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { lookup } from "node:dns/promises";
import { chmodSync, lstatSync, readFileSync, readlinkSync, renameSync, unlinkSync } from "node:fs";
import { createConnection, createServer, isIP, type Server } from "node:net";
import { constants as osConstants } from "node:os";
import { basename } from "node:path";
import { HotdumpError } from "../errors.js";
import { withParentDeathSignal } from "../util/child.js";
import { checkAddressFree, closeFd, listenSocket, netsys, sockName, tcpAddr } from "./netsys.js";

// ---------------------------------------------------------------------------------------------
// Addresses

type ListenAddr =
  | { kind: "tcp"; host: string; port: number; name: string }
  | { kind: "unix"; path: string; name: string };

/** The host a bare `:PORT` binds. Go's `:8080` means every interface; hotdump binds loopback
 * unless told otherwise (`0.0.0.0:8080`, `[::]:8080`), so a dev server is not exposed by accident. */
const DEFAULT_LISTEN_HOST = "127.0.0.1";

/** sun_path is 108 bytes on Linux, including the terminating NUL (unix(7)). */
const UNIX_PATH_MAX = 107;

const FORMS = "use HOST:PORT, :PORT, tcp://HOST:PORT or unix:///absolute/path (optionally NAME=ADDR)";

const listenAddrError = (input: string, why: string) =>
  new HotdumpError("usage", "E_LISTEN_ADDR", `--listen "${input}": ${why}; ${FORMS}`);

const listenInUse = (display: string, port?: number) =>
  new HotdumpError(
    "supervise",
    "E_LISTEN_IN_USE",
    port !== undefined
      ? `${display} is already in use: see who holds it with \`ss -ltnp 'sport = :${port}'\`, stop it or pick another --listen port`
      : `${display} is in use: a server answers on it (see \`ss -lxp | grep ${display}\`); stop it or pick another path`,
  );

const listenFailed = (display: string, cause: unknown) => {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const remedy =
    code === "EACCES"
      ? "ports below 1024 need root or CAP_NET_BIND_SERVICE; pick a port >= 1024"
      : code === "EADDRNOTAVAIL"
        ? "that address is not on any interface here; use 127.0.0.1 or 0.0.0.0"
        : "check the address";
  return new HotdumpError(
    "supervise",
    "E_LISTEN_FAILED",
    `cannot listen on ${display} (${code ?? "error"}): ${remedy}`,
    {
      cause,
    },
  );
};

const listenPathNotSocket = (path: string) =>
  new HotdumpError(
    "supervise",
    "E_LISTEN_PATH_TAKEN",
    `${path} exists and is not a socket: hotdump only replaces stale sockets; remove it or pick another path`,
  );

const inheritedFdInvalid = (fd: number, what: string) =>
  new HotdumpError(
    "supervise",
    "E_LISTEN_FD_INVALID",
    `inherited listening fd ${fd} is ${what}: start hotdump normally (it binds --listen itself) rather than setting HOTDUMP_LISTEN_FDS by hand`,
  );

const handoffFailed = (cause: unknown) =>
  new HotdumpError(
    "supervise",
    "E_HANDOFF_SPAWN",
    `could not start the supervising process: ${String(cause)}`,
    {
      cause,
    },
  );

/** LISTEN_FDNAMES is colon-separated and systemd limits names to 255 printable characters. */
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,254}$/;

/**
 * Parse one `--listen` value: `HOST:PORT`, `:PORT`, `PORT`, `[V6]:PORT`, `tcp://HOST:PORT`,
 * `unix:///abs/path` (also `unix:/abs/path`), each optionally prefixed `NAME=` (LISTEN_FDNAMES).
 * Port 0 asks the kernel for a free port (useful in tests; the bound port is in BoundListener).
 */
export function parseListenAddr(input: string): ListenAddr {
  let s = input.trim();
  if (s === "") throw listenAddrError(input, "empty address");
  let name: string | undefined;
  const named = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/.exec(s);
  if (named) {
    name = named[1] as string;
    s = named[2] as string;
    if (!NAME_RE.test(name)) throw listenAddrError(input, `bad name "${name}"`);
    if (s === "") throw listenAddrError(input, "empty address after the name");
  }

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(s) ?? /^(unix):/.exec(s);
  if (scheme) {
    const kind = (scheme[1] as string).toLowerCase();
    if (kind === "unix") {
      let path = s.slice(scheme[0].length);
      if (!scheme[0].endsWith("//")) path = path.replace(/^\/\/(?=\/)/, "");
      if (!path.startsWith("/")) throw listenAddrError(input, "a unix socket path must be absolute");
      if (Buffer.byteLength(path) > UNIX_PATH_MAX)
        throw listenAddrError(input, `unix socket path longer than ${UNIX_PATH_MAX} bytes`);
      if (path.endsWith("/")) throw listenAddrError(input, "a unix socket path must name a file");
      return { kind: "unix", path, name: name ?? defaultUnixName(path) };
    }
    if (kind !== "tcp") throw listenAddrError(input, `unknown scheme "${kind}://"`);
    s = s.slice(scheme[0].length);
    if (s.endsWith("/")) s = s.slice(0, -1);
  }

  let host: string;
  let portText: string;
  if (/^\d+$/.test(s)) {
    host = DEFAULT_LISTEN_HOST;
    portText = s;
  } else if (s.startsWith("[")) {
    const m = /^\[([^\]]+)\]:(.*)$/.exec(s);
    if (!m) throw listenAddrError(input, "an IPv6 address needs a port: [::1]:8080");
    host = m[1] as string;
    portText = m[2] as string;
    if (isIP(host) !== 6) throw listenAddrError(input, `"${host}" is not an IPv6 address`);
  } else {
    const i = s.lastIndexOf(":");
    if (i < 0) throw listenAddrError(input, "missing port");
    host = s.slice(0, i);
    portText = s.slice(i + 1);
    if (host.includes(":")) throw listenAddrError(input, "put an IPv6 address in brackets: [::1]:8080");
    if (host === "") host = DEFAULT_LISTEN_HOST;
    else if (
      isIP(host) === 0 &&
      !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)
    )
      throw listenAddrError(input, `"${host}" is not a host name or IP address`);
  }
  if (!/^\d{1,5}$/.test(portText)) throw listenAddrError(input, `port "${portText}" is not a number`);
  const port = Number(portText);
  if (port > 65535) throw listenAddrError(input, `port ${port} is out of range 0-65535`);
  return { kind: "tcp", host, port, name: name ?? `tcp-${port}` };
}

function defaultUnixName(path: string): string {
  const n = `unix-${basename(path).replace(/[^A-Za-z0-9_.-]/g, "_")}`.slice(0, 255);
  return n;
}

/** "127.0.0.1:8080", "[::1]:8080" or the socket path. */
export function formatListenAddr(a: ListenAddr): string {
  if (a.kind === "unix") return a.path;
  return `${isIP(a.host) === 6 ? `[${a.host}]` : a.host}:${a.port}`;
}

// ---------------------------------------------------------------------------------------------
// Stage 1: bind, then hand off

export interface BoundListener {
  readonly addr: ListenAddr;
  /** What the kernel bound: for `:0` the port it chose. */
  readonly display: string;
  readonly port: number | undefined;
  /** The OS fd in this process until handoff() closes it. */
  readonly fd: number;
  /** Connections this process accepted: must stay 0 (each one is a client hotdump cannot serve). */
  readonly acceptedHere: number;
  /** Close the server (idempotent). For unix sockets the path stays, bound to the handed-off socket. */
  close(): void;
}

interface BindOptions {
  /** listen(2) backlog; the kernel caps it at net.core.somaxconn (4096 on current kernels). A big
   * queue holds the connections that arrive while no generation accepts (between two builds). */
  backlog?: number;
  /** Mode of unix socket files (default 0o660: owner and group may connect, others may not). */
  unixMode?: number;
  /** Bind TCP addresses with SO_REUSEPORT through koffi, so stage 2 can give each generation its
   * own socket in the same group (steering.ts). Default: when koffi loads and the environment has
   * no HOTDUMP_LISTEN_MODE=shared. */
  reuseport?: boolean;
}

interface Prepared {
  addr: ListenAddr;
  /** tcp: a resolved IP literal; listening on a literal keeps the whole bind in one tick (below). */
  ip?: string;
  tmpPath?: string;
}

/**
 * Bind every address. Resolves with servers that are LISTENING IN THIS PROCESS: call handoff()
 * right away, with no `await` in between. Why that is enough: net.Server only accepts from libuv's
 * poll phase, and every step here after the address checks (listen on an IP literal or a path,
 * the 'listening'/'error' events, which Node emits with process.nextTick) runs before the event
 * loop polls again; handoff() spawns synchronously and closes the servers in the same tick.
 */
export async function bindListeners(
  addrs: readonly ListenAddr[],
  opts: BindOptions = {},
): Promise<BoundListener[]> {
  const backlog = opts.backlog ?? 4096;
  const unixMode = opts.unixMode ?? 0o660;

  // Everything that needs I/O (DNS, probing a unix path) happens first, before any socket listens.
  const prepared: Prepared[] = [];
  for (const addr of addrs) {
    if (addr.kind === "tcp") {
      let ip = addr.host;
      if (isIP(ip) === 0) {
        try {
          ip = (await lookup(addr.host)).address;
        } catch (e) {
          throw listenFailed(formatListenAddr(addr), e);
        }
      }
      prepared.push({ addr, ip });
    } else {
      await checkStaleUnixPath(addr.path);
      // libuv unlinks a pipe's path when the server closes (uv__pipe_close), which would take the
      // path away from the socket stage 2 still holds. So bind a private name and rename it over
      // the real path: the name libuv later unlinks no longer exists, the socket inode keeps the
      // real path, and rename(2) replaces a stale socket file atomically.
      const tmpPath = `${addr.path}${stage1Suffix()}`;
      if (Buffer.byteLength(tmpPath) > UNIX_PATH_MAX)
        throw listenAddrError(
          addr.path,
          `unix socket path too long (hotdump needs ${UNIX_PATH_MAX - 22} bytes or fewer)`,
        );
      prepared.push({ addr, tmpPath });
    }
  }

  const reuseport = opts.reuseport ?? (process.env.HOTDUMP_LISTEN_MODE !== "shared" && netsys() !== null);
  const servers: Server[] = [];
  const counts: number[] = [];
  /** fds bound through koffi: libuv never sees them, so nothing here can accept on them. */
  const raw: (number | undefined)[] = [];
  const listening = prepared.map((p, i) => {
    if (reuseport && p.addr.kind === "tcp") {
      servers.push(createServer());
      counts.push(0);
      try {
        const a = tcpAddr(p.ip as string, p.addr.port);
        if (p.addr.port !== 0) checkAddressFree(a);
        raw[i] = listenSocket(a, { backlog, reuseport: true });
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const server = createServer({ pauseOnConnect: true });
    servers.push(server);
    counts.push(0);
    server.on("connection", (sock) => {
      // Never expected (see above); counted so tests and the caller can prove it.
      counts[i] = (counts[i] ?? 0) + 1;
      sock.destroy();
    });
    return new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.once("listening", () => {
        server.off("error", reject);
        resolve();
      });
      if (p.addr.kind === "tcp") server.listen({ host: p.ip, port: p.addr.port, backlog, exclusive: true });
      else server.listen({ path: p.tmpPath, backlog, exclusive: true });
    });
  });
  const results = await Promise.allSettled(listening);
  const failed = results.findIndex((r) => r.status === "rejected");
  if (failed >= 0) {
    for (const s of servers) if (s.listening) s.close();
    for (const fd of raw) if (fd !== undefined) closeFd(fd);
    const cause = (results[failed] as PromiseRejectedResult).reason as NodeJS.ErrnoException;
    const addr = (prepared[failed] as Prepared).addr;
    if (cause?.code === "EADDRINUSE")
      throw listenInUse(formatListenAddr(addr), addr.kind === "tcp" ? addr.port : undefined);
    throw listenFailed(formatListenAddr(addr), cause);
  }

  const bound: BoundListener[] = [];
  for (const [i, p] of prepared.entries()) {
    const server = servers[i] as Server;
    let display = formatListenAddr(p.addr);
    let port: number | undefined;
    if (p.addr.kind === "unix") {
      try {
        chmodSync(p.tmpPath as string, unixMode);
        renameSync(p.tmpPath as string, p.addr.path);
      } catch (e) {
        for (const s of servers) s.close();
        throw listenFailed(display, e);
      }
    } else {
      const rawFd = raw[i];
      if (rawFd !== undefined) {
        const a = sockName(rawFd);
        port = a.family === "unix" ? p.addr.port : a.port;
      } else {
        const a = server.address();
        port = typeof a === "object" && a ? a.port : p.addr.port;
      }
      display = formatListenAddr({ ...p.addr, host: p.ip ?? p.addr.host, port });
    }
    const rawFd = raw[i];
    if (rawFd !== undefined) {
      let open = true;
      bound.push({
        addr: p.addr,
        display,
        port,
        fd: rawFd,
        acceptedHere: 0,
        close() {
          if (open) closeFd(rawFd);
          open = false;
        },
      });
      continue;
    }
    bound.push({
      addr: p.addr,
      display,
      port,
      fd: serverFd(server),
      get acceptedHere() {
        return counts[i] ?? 0;
      },
      close() {
        if (server.listening) server.close();
      },
    });
  }
  return bound;
}

/**
 * The listening socket's OS fd. `_handle.fd` is internal, but TCPWrap and PipeWrap have exposed it
 * on Unix since Node 0.x (Node's own cluster and child_process handle passing read it); there is no
 * public accessor, and spawn() needs the integer to place the socket at fd 3 in the child.
 */
function stage1Suffix(): string {
  return `.hotdump-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The public path of a unix socket bound by stage 1: getsockname() still reports the private name
 * it was bound to (rename(2) does not change a socket's address), `PATH.hotdump-PID-RANDOM`. */
export function publicUnixPath(bound: string): string {
  return bound.replace(/\.hotdump-\d+-[a-z0-9]+$/, "");
}

function serverFd(server: Server): number {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new Error("listening server has no OS fd (not on Linux?)");
  return fd;
}

/** A socket file is replaced only when nothing answers on it (ECONNREFUSED: its server is gone). */
async function checkStaleUnixPath(path: string): Promise<void> {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw listenPathNotSocket(path);
  const answered = await new Promise<boolean>((resolve) => {
    const c = createConnection({ path });
    const done = (v: boolean) => {
      c.destroy();
      resolve(v);
    };
    c.setTimeout(1000, () => done(true)); // a server too busy to accept is still a server
    c.once("connect", () => done(true));
    c.once("error", (e: NodeJS.ErrnoException) => done(e.code !== "ECONNREFUSED" && e.code !== "ENOENT"));
  });
  if (answered) throw listenInUse(path);
}

interface HandoffOptions {
  listeners: readonly BoundListener[];
  /** Arguments for process.execPath (the stage-2 script and its flags). */
  argv: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Start stage 2 through `setpriv --pdeathsig TERM` (default true when setpriv is on PATH). */
  pdeathsig?: boolean;
  /** Signals forwarded to stage 2 (default SIGINT, SIGTERM, SIGHUP, SIGUSR2). */
  forwardSignals?: readonly NodeJS.Signals[];
  /** Called once stage 2 runs, with its pid. */
  onSpawn?: (pid: number) => void;
}

const HANDOFF_ENV = {
  fds: "HOTDUMP_LISTEN_FDS",
  names: "HOTDUMP_LISTEN_NAMES",
  stage1Pid: "HOTDUMP_STAGE1_PID",
  /** What the kernel bound, as JSON: stage 2 says it (with `:0` only stage 1 knows the port). */
  addrs: "HOTDUMP_LISTEN_ADDRS",
} as const;

/**
 * Spawn stage 2 (`process.execPath ...argv`) with the listeners at fd 3, 4, ..., close them here,
 * forward signals, and resolve with stage 2's exit status (128+signal when a signal ended it), the
 * value stage 1 should exit with. Unix socket files are removed when stage 2 ends.
 */
export function handoff(o: HandoffOptions): Promise<number> {
  const env: NodeJS.ProcessEnv = {
    ...(o.env ?? process.env),
    [HANDOFF_ENV.fds]: String(o.listeners.length),
    [HANDOFF_ENV.names]: o.listeners.map((l) => l.addr.name).join(":"),
    [HANDOFF_ENV.stage1Pid]: String(process.pid),
    [HANDOFF_ENV.addrs]: JSON.stringify(o.listeners.map((l) => l.display)),
  };
  // If stage 1 is SIGKILLed, stage 2 gets SIGTERM: PR_SET_PDEATHSIG survives execve unless the exec
  // changes credentials (prctl(2)); verified here: `setpriv --pdeathsig TERM -- node x.mjs` got
  // SIGTERM when its parent was SIGKILLed.
  const argv =
    o.pdeathsig === false
      ? [process.execPath, ...o.argv]
      : withParentDeathSignal([process.execPath, ...o.argv], "TERM");
  const [cmd, args] = [argv[0]!, argv.slice(1)];
  const unixPaths = o.listeners.flatMap((l) => (l.addr.kind === "unix" ? [l.addr.path] : []));
  const unixInodes = unixPaths.map((p) => safeIno(p));

  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      stdio: ["inherit", "inherit", "inherit", ...o.listeners.map((l) => l.fd)],
      env,
      ...(o.cwd ? { cwd: o.cwd } : {}),
    });
  } catch (e) {
    for (const l of o.listeners) l.close();
    return Promise.reject(handoffFailed(e));
  }
  // spawn() has forked and the child holds its copies: close ours now, in the same tick as the
  // bind, so this process never accepts (libuv closes a listener's fd synchronously in uv_close).
  for (const l of o.listeners) l.close();

  const signals = o.forwardSignals ?? (["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR2"] as const);
  const handlers = signals.map((sig) => {
    const h = () => {
      // Ctrl-C reaches the whole foreground process group, stage 2 included: forwarding it too
      // would deliver SIGINT twice (and a second SIGINT means "force" to most supervisors).
      if ((sig === "SIGINT" || sig === "SIGQUIT") && inForegroundGroup()) return;
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });

  return new Promise<number>((resolve, reject) => {
    child.once("spawn", () => {
      if (child.pid !== undefined) o.onSpawn?.(child.pid);
    });
    child.once("error", (e) => {
      if (child.pid === undefined) {
        cleanup();
        reject(handoffFailed(e));
      }
    });
    child.once("exit", (code, signal) => {
      cleanup();
      if (signal) resolve(128 + ((osConstants.signals as Record<string, number>)[signal] ?? 0));
      else resolve(code ?? 1);
    });
  });

  function cleanup() {
    for (const [sig, h] of handlers) process.off(sig, h);
    for (const [i, p] of unixPaths.entries()) {
      // Only our own socket file: a new hotdump may already have replaced it.
      if (unixInodes[i] !== undefined && safeIno(p) === unixInodes[i]) {
        try {
          unlinkSync(p);
        } catch {
          // already gone
        }
      }
    }
  }
}

function safeIno(path: string): number | undefined {
  try {
    return lstatSync(path).ino;
  } catch {
    return undefined;
  }
}

/** True when this process's group is its terminal's foreground group (/proc/self/stat: pgrp is
 * field 5, tpgid field 8; tpgid is -1 without a controlling terminal). */
function inForegroundGroup(): boolean {
  try {
    const stat = readSafe("/proc/self/stat");
    if (!stat) return false;
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pgrp = Number(rest[2]);
    const tpgid = Number(rest[5]);
    return tpgid > 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}

function readSafe(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Stage 2: what was inherited, and what a generation gets

interface InheritedListeners {
  /** fd numbers in this process (3, 4, ...); pass them as spawn stdio entries 3, 4, ... */
  fds: number[];
  names: string[];
  /** The addresses stage 1 bound, as people write them (`127.0.0.1:41873`, a socket path). */
  addrs: string[];
  /** Stage 1's pid: if process.ppid differs, stage 1 died before pdeathsig was armed. */
  stage1Pid: number | undefined;
}

/**
 * Read the sockets stage 1 handed over. Never wrap these fds in a net.Server here: libuv would
 * start accepting on them in this process too. Each fd is checked to be an open socket through its
 * /proc/self/fd link (`socket:[INODE]`), so a stray HOTDUMP_LISTEN_FDS fails here, not in Go.
 */
export function inheritedListeners(
  env: NodeJS.ProcessEnv = process.env,
  opts: { firstFd?: number } = {},
): InheritedListeners {
  const raw = env[HANDOFF_ENV.fds];
  if (raw === undefined || raw === "" || raw === "0")
    return { fds: [], names: [], addrs: [], stage1Pid: undefined };
  if (!/^\d+$/.test(raw))
    throw inheritedFdInvalid(3, `announced by ${HANDOFF_ENV.fds}="${raw}", not a count`);
  const first = opts.firstFd ?? 3;
  const count = Number(raw);
  const given = (env[HANDOFF_ENV.names] ?? "").split(":");
  const fds: number[] = [];
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const fd = first + i;
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      throw inheritedFdInvalid(fd, "not open");
    }
    if (!/^socket:\[\d+\]$/.test(link)) throw inheritedFdInvalid(fd, `not a socket (${link})`);
    fds.push(fd);
    const n = given[i];
    names.push(n && NAME_RE.test(n) ? n : "unknown");
  }
  const pid = Number(env[HANDOFF_ENV.stage1Pid]);
  let addrs: string[] = [];
  try {
    const a: unknown = JSON.parse(env[HANDOFF_ENV.addrs] ?? "[]");
    if (Array.isArray(a)) addrs = a.filter((x): x is string => typeof x === "string");
  } catch {}
  return { fds, names, addrs, stage1Pid: Number.isInteger(pid) && pid > 0 ? pid : undefined };
}

/** `env` without hotdump's own handoff variables, which a generation has no use for. */
export function withoutHandoffEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of Object.values(HANDOFF_ENV)) delete out[k];
  return out;
}
