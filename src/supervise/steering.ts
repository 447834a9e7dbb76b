/**
 * One listening socket per generation, so a generation that is told to stop has nothing left to
 * accept. Why: Go's net/http keeps accepting until Shutdown closes its listener and drops a
 * request read after Shutdown began; with one shared socket a plain `srv.Shutdown(ctx)` service
 * lost 29-33 of ~55k requests over 20 reloads here (issue 13).
 *
 * TCP: every generation's socket joins one SO_REUSEPORT group on the same address (it joins at
 * listen()), and a classic BPF program attached to the group picks the socket for each new
 * connection: the old one while the new generation starts (a readiness probe to the service's own
 * address is steered alone to the new socket by its source port), then the new one. Before the old
 * generation gets SIGTERM its socket's accept queue must be empty (TCP_INFO on the listener) plus
 * a grace for handshakes in flight on loopback.
 *
 * UNIX: the new generation listens on a private path next to the public one; once ready, rename(2)
 * puts its socket at the public path atomically, and the old socket's queue (unix_diag) drains.
 *
 * Where the kernel or koffi refuse, every generation shares the inherited sockets as before
 * (`mode: "shared"`), said once.
 */
import { chmodSync, lstatSync, readFileSync, readlinkSync, renameSync, unlinkSync } from "node:fs";
import { createConnection } from "node:net";
import type { Logger } from "../util/log.js";
import {
  attachSteering,
  bpfAll,
  bpfProbe,
  closeFd,
  hostReaches,
  isReuseportListener,
  listenSocket,
  netsys,
  netsysUnavailable,
  type SockAddr,
  setCloexec,
  sockName,
  tcpAcceptQueue,
  unixAcceptQueue,
} from "./netsys.js";
import { freePort } from "./probe.js";
import { publicUnixPath } from "./sockets.js";

/** After the queue is empty: handshakes that completed on loopback but are not queued yet. The
 * prototype measured ~0 failures with 5 ms and 0 in every run with 50 ms. */
const DRAIN_GRACE_MS = 50;
const BACKLOG = 4096;

interface Member {
  gen: number;
  fd: number;
  /** Private path of a UNIX generation socket until it is renamed over the public one. */
  privatePath?: string;
  ino?: number;
}

interface Group {
  addr: SockAddr;
  /** In the kernel's order (TCP): index = the number a BPF `ret` picks. */
  members: Member[];
}

export interface Steering {
  readonly mode: "steered" | "shared";
  /** Why steering is off (shared mode). */
  readonly reason?: string;
  /** The fds a new generation gets at 3, 4, ... `adopt` reuses a crashed generation's sockets
   * (connections queued on them wait for the restart instead of being reset). */
  open(gen: number): number[];
  /** A local port for a probe to HOST:PORT that then reaches only `gen`'s socket, or undefined. */
  probePort(gen: number, host: string, port: number): Promise<number | undefined>;
  /** New connections go to `gen` only. */
  switchTo(gen: number): void;
  /** Send new connections back to `to` (a rollback), and drop `gen`'s sockets. */
  rollback(gen: number, to: number | undefined): void;
  /** Resolve when `gen`'s sockets have no queued connections (plus grace), or after maxMs. */
  drain(gen: number, maxMs: number): Promise<{ ms: number; left: number }>;
  /** `gen` ended: close this process's copies (it leaves the group), unless kept for a restart. */
  release(gen: number): number;
  /** Keep `gen`'s sockets for the next generation (it crashed and will be restarted). */
  keepForRestart(gen: number): void;
  /** `gen` is the one new connections go to. */
  isTarget(gen: number): boolean;
  /** Queued connections on `gen`'s sockets. */
  queued(gen: number): number;
  /** One connection to each public address, to check that `gen` accepts (see checkAccepts). */
  addresses(): SockAddr[];
  stop(): void;
}

/** Mode for `fds` inherited from stage 1 (each a listening socket). */
export function createSteering(
  fds: readonly number[],
  logger: Logger,
  opts: { forceShared?: boolean } = {},
): Steering {
  const why = steeringRefused(fds, opts.forceShared);
  if (why !== undefined) {
    if (fds.length > 0)
      logger.warn(
        `each generation shares one listening socket (${why}): a service that only calls srv.Shutdown(ctx) may drop a few requests per reload`,
      );
    return sharedSteering(fds, why);
  }
  return steered(fds, logger);
}

function steeringRefused(fds: readonly number[], forceShared?: boolean): string | undefined {
  if (fds.length === 0) return "no --listen";
  if (forceShared) return "HOTDUMP_LISTEN_MODE=shared";
  if (!netsys()) return `koffi unavailable: ${netsysUnavailable()}`;
  for (const fd of fds) {
    try {
      const a = sockName(fd);
      if (a.family !== "unix" && !isReuseportListener(fd))
        return `the inherited socket fd ${fd} has no SO_REUSEPORT (started without hotdump's first stage?)`;
    } catch (e) {
      return `cannot inspect fd ${fd}: ${(e as Error).message}`;
    }
  }
  // Attaching a program is what an old kernel or a seccomp filter refuses: try it on the group.
  for (const fd of fds) {
    try {
      if (sockName(fd).family !== "unix") attachSteering(fd, bpfAll(0));
    } catch (e) {
      return `the kernel refused a SO_REUSEPORT BPF program: ${(e as Error).message}`;
    }
  }
  return undefined;
}

function sharedSteering(fds: readonly number[], reason: string): Steering {
  const canCount = netsys() !== null;
  return {
    mode: "shared",
    reason,
    open: () => [...fds],
    probePort: async () => undefined,
    switchTo: () => {},
    rollback: () => {},
    drain: async () => ({ ms: 0, left: 0 }),
    release: () => 0,
    keepForRestart: () => {},
    isTarget: () => false,
    queued: () => (canCount ? fds.reduce((n, fd) => n + safeQueue({ gen: 0, fd }), 0) : 0),
    addresses: () => (canCount ? fds.map((fd) => sockName(fd)) : []),
    stop: () => {},
  };
}

function socketIno(fd: number): number {
  return Number(/\d+/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[0] ?? 0);
}

/** A socket inode still LISTENing somewhere on this host (/proc/net/tcp{,6}: state 0A, inode in
 * column 10). */
function stillListening(ino: number): boolean {
  const want = String(ino);
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const c = line.trim().split(/\s+/);
      if (c[3] === "0A" && c[9] === want) return true;
    }
  }
  return false;
}

function safeQueue(m: Member): number {
  try {
    return m.ino !== undefined ? unixAcceptQueue(m.ino) : tcpAcceptQueue(m.fd);
  } catch {
    return 0;
  }
}

function steered(fds: readonly number[], logger: Logger): Steering {
  const groups: Group[] = fds.map((fd) => {
    // Close-on-exec from here on: go build, dlv and gdb never inherit the listener; spawn's dup2
    // into a generation's fd 3 clears the flag on that copy only.
    setCloexec(fd, true);
    let addr = sockName(fd);
    const m: Member = { gen: 0, fd };
    if (addr.family === "unix") {
      m.ino = socketIno(fd);
      addr = { family: "unix", path: publicUnixPath(addr.path) };
    }
    return { addr, members: [m] };
  });
  /** The generation new connections go to. */
  let target = 0;
  /** Sockets of a crashed generation, for its restart. */
  let kept: number | undefined;
  /** Inodes of the UNIX sockets this process put at a public path (removed at stop). */
  const published = new Set<number>();

  const index = (g: Group, gen: number) => g.members.findIndex((m) => m.gen === gen);
  /** Any open member: the program belongs to the group, set through any of its sockets. */
  const anyFd = (g: Group) => g.members.find((m) => m.fd >= 0)!.fd;
  const program = (g: Group) => {
    if (g.addr.family === "unix") return;
    const i = index(g, target);
    attachSteering(anyFd(g), bpfAll(Math.max(i, 0)));
  };
  // The kernel moves the last member into the freed slot (reuseport_detach_sock).
  const drop = (g: Group, m: Member) => {
    const i = g.members.indexOf(m);
    if (i < 0) return;
    const last = g.members.pop()!;
    if (last !== m) g.members[i] = last;
    if (g.members.some((x) => x.fd >= 0)) program(g);
  };
  const remove = (g: Group, gen: number): number => {
    const i = index(g, gen);
    if (i < 0) return 0;
    const m = g.members[i]!;
    const left = safeQueue(m);
    const sock = g.addr.family === "unix" ? 0 : socketIno(m.fd);
    closeFd(m.fd);
    m.fd = -1;
    if (m.privatePath) safeUnlink(m.privatePath);
    if (sock && stillListening(sock)) {
      // Another process still holds it (a child the service started inherited fd 3): it stays in
      // the group, so its index must stay taken until it really closes.
      m.gen = -1;
      logger.warn(
        `generation ${gen}'s listening socket is still open in another process (a child it started inherited fd 3?); hotdump keeps steering around it until it closes`,
      );
      const timer = setInterval(() => {
        if (stillListening(sock)) return;
        clearInterval(timer);
        drop(g, m);
      }, 200);
      timer.unref();
      return left;
    }
    drop(g, m);
    return left;
  };

  return {
    mode: "steered",
    open(gen) {
      if (kept !== undefined) {
        const from = kept;
        kept = undefined;
        for (const g of groups) for (const m of g.members) if (m.gen === from) m.gen = gen;
        if (target === from) target = gen;
        return groups.map((g) => g.members[index(g, gen)]!.fd);
      }
      if (target === 0 && groups.every((g) => g.members[0]?.gen === 0)) {
        // The first generation takes the sockets stage 1 bound.
        for (const g of groups) g.members[0]!.gen = gen;
        target = gen;
        return groups.map((g) => g.members[0]!.fd);
      }
      return groups.map((g) => {
        if (g.addr.family === "unix") {
          const privatePath = `${g.addr.path}.g${gen}`;
          safeUnlink(privatePath);
          const fd = listenSocket(
            { family: "unix", path: privatePath },
            { backlog: BACKLOG, reuseport: false },
          );
          // The public file's mode (stage 1 set it, 0660 by default), not the umask's.
          const mode = modeOf(g.addr.path);
          if (mode !== undefined) chmodSync(privatePath, mode);
          g.members.push({ gen, fd, privatePath, ino: socketIno(fd) });
          return fd;
        }
        const fd = listenSocket(g.addr, { backlog: BACKLOG, reuseport: true });
        g.members.push({ gen, fd });
        return fd;
      });
    },
    async probePort(gen, host, port) {
      const g = groups.find(
        (x) => x.addr.family !== "unix" && x.addr.port === port && hostReaches(host, x.addr.ip),
      );
      if (!g || g.addr.family === "unix") return undefined;
      const i = index(g, gen);
      const t = index(g, target);
      if (i < 0) return undefined;
      const local = await freePort();
      attachSteering(anyFd(g), bpfProbe(g.addr.family, local, i, Math.max(t, 0)));
      return local;
    },
    switchTo(gen) {
      target = gen;
      for (const g of groups) {
        if (g.addr.family === "unix") {
          const m = g.members[index(g, gen)];
          if (m?.privatePath) {
            // rename(2) replaces the public name atomically: a connect() finds the old socket or
            // the new one, never nothing.
            renameSync(m.privatePath, g.addr.path);
            delete m.privatePath;
            // The file's inode (lstat), not the socket's (sockfs, as in /proc/self/fd links).
            const ino = inoOf(g.addr.path);
            if (ino !== undefined) published.add(ino);
          }
        } else program(g);
      }
    },
    rollback(gen, to) {
      if (to !== undefined) target = to;
      for (const g of groups) {
        if (g.addr.family !== "unix") program(g);
        remove(g, gen);
      }
    },
    async drain(gen, maxMs) {
      const t0 = performance.now();
      const left = () =>
        groups.reduce((n, g) => {
          const m = g.members[index(g, gen)];
          return n + (m ? safeQueue(m) : 0);
        }, 0);
      let n = left();
      while (n > 0 && performance.now() - t0 < maxMs) {
        await new Promise((r) => setTimeout(r, 2));
        n = left();
      }
      await new Promise((r) => setTimeout(r, DRAIN_GRACE_MS));
      return { ms: Math.round(performance.now() - t0), left: left() };
    },
    release(gen) {
      if (kept === gen) kept = undefined;
      let left = 0;
      for (const g of groups) left += remove(g, gen);
      return left;
    },
    keepForRestart(gen) {
      kept = gen;
    },
    isTarget: (gen) => target === gen,
    queued(gen) {
      return groups.reduce((n, g) => {
        const m = g.members[index(g, gen)];
        return n + (m ? safeQueue(m) : 0);
      }, 0);
    },
    addresses: () => groups.map((g) => g.addr),
    stop() {
      for (const g of groups) {
        for (const m of g.members) if (m.privatePath) safeUnlink(m.privatePath);
        // The public path names a socket this process made (stage 1 only removes its own), unless
        // a newer hotdump replaced it.
        if (g.addr.family === "unix") {
          const ino = inoOf(g.addr.path);
          if (ino !== undefined && published.has(ino)) safeUnlink(g.addr.path);
        }
      }
    },
  };
}

function modeOf(p: string): number | undefined {
  try {
    return lstatSync(p).mode & 0o777;
  } catch {
    return undefined;
  }
}

function inoOf(p: string): number | undefined {
  try {
    return lstatSync(p).ino;
  } catch {
    return undefined;
  }
}

function safeUnlink(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // not there
  }
}

/**
 * Does `gen` accept on the socket hotdump gave it? One connection to the public address (it goes
 * to `gen`'s socket once steering points there) must leave the accept queue within `withinMs`. A
 * service that binds its own port never accepts it: the queue keeps it.
 */
export async function checkAccepts(
  steering: Steering,
  gen: number,
  withinMs: number,
  alive: () => boolean,
): Promise<boolean | undefined> {
  const addrs = steering.addresses();
  const a = addrs[0];
  if (!a) return undefined;
  const sock = createConnection(
    a.family === "unix" ? { path: a.path } : { host: a.ip === "0.0.0.0" ? "127.0.0.1" : a.ip, port: a.port },
  );
  sock.on("error", () => {});
  try {
    const connected = await new Promise<boolean>((resolve) => {
      sock.once("connect", () => resolve(true));
      sock.once("error", () => resolve(false));
      setTimeout(() => resolve(false), withinMs).unref();
    });
    if (!connected) return undefined;
    const t0 = performance.now();
    while (performance.now() - t0 < withinMs) {
      if (!alive()) return undefined;
      if (steering.queued(gen) === 0) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return steering.queued(gen) === 0;
  } finally {
    sock.destroy();
  }
}

const FD3_REMEDY =
  'serve on the inherited listener (ln, err := net.FileListener(os.NewFile(3, "listener")); srv.Serve(ln), or go-systemd\'s activation.Listeners()), or run it without --listen (supervision and crash capture only)';

function shown(steering: Steering): string {
  const a = steering.addresses()[0];
  if (!a) return "the --listen address";
  return a.family === "unix" ? a.path : a.family === "tcp6" ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

/** For a generation that never accepted the check connection. */
export function notAcceptingMessage(gen: number, steering: Steering): string {
  return `generation ${gen} does not accept connections on the socket hotdump holds for ${shown(steering)} (fd 3, LISTEN_FDS=1): requests to it hang. It probably binds its own port: ${FD3_REMEDY}`;
}

/** For a generation that died with EADDRINUSE: it tried to bind the port hotdump holds. */
export function addressInUseMessage(gen: number, steering: Steering): string {
  return `generation ${gen} failed with "address already in use": hotdump already holds ${shown(steering)} and passes it as fd 3 (LISTEN_FDS=1); ${FD3_REMEDY}`;
}

/** For a generation rolled back while connections steered to its socket were still waiting. */
export function neverAcceptedMessage(gen: number, waiting: number, steering: Steering): string {
  return `generation ${gen} never accepted the ${waiting} connection(s) steered to its socket for ${shown(steering)} (fd 3); if it listens on a port of its own instead: ${FD3_REMEDY}`;
}
