/**
 * The socket system calls Node does not expose, through koffi (libc by FFI, no compiler: koffi's
 * prebuilt binary comes in an optional dependency). Everything here works on plain fds that libuv
 * never sees, so no hotdump process ever accepts on them.
 *
 * Numbers are Linux's (include/uapi/asm-generic/socket.h, linux/tcp.h, linux/filter.h,
 * linux/sock_diag.h, linux/unix_diag.h), identical on x86-64 and arm64.
 */
import { isIP } from "node:net";
import { HotdumpError } from "../errors.js";
import { libcUnavailable, loadLibc } from "../util/native.js";

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_REUSEPORT = 15;
const SO_ACCEPTCONN = 30;
const SO_ATTACH_REUSEPORT_CBPF = 51;
const IPPROTO_TCP = 6;
const TCP_INFO = 11;
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 1;
const NLM_F_DUMP = 0x300;
const NLMSG_DONE = 3;
const NLMSG_ERROR = 2;
const UDIAG_SHOW_RQLEN = 0x10;
const UNIX_DIAG_RQLEN = 4;
const TCP_LISTEN_STATE = 10;

function errnoName(n: number): string {
  const names: Record<number, string> = {
    1: "EPERM",
    9: "EBADF",
    13: "EACCES",
    22: "EINVAL",
    88: "ENOTSOCK",
    92: "ENOPROTOOPT",
    97: "EAFNOSUPPORT",
    98: "EADDRINUSE",
    99: "EADDRNOTAVAIL",
  };
  return names[n] ?? "?";
}

/** An errno carried as the Node-style code, so callers can reuse sockets.ts's messages. */
class NetsysErrno extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${errnoName(errno)} (${errno})`);
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  bind(fd: number, addr: Buffer, len: number): number;
  listen(fd: number, backlog: number): number;
  getsockname(fd: number, addr: Buffer, len: Buffer): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  close(fd: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  connect(fd: number, addr: Buffer, len: number): number;
  errno(): number;
}

let libc: Libc | null | undefined;
let loadError: string | undefined;

/** libc's socket calls, or null (with `netsysUnavailable()` saying why) where koffi cannot load. */
export function netsys(): Libc | null {
  if (libc !== undefined) return libc;
  const h = loadLibc();
  if (!h) {
    loadError = libcUnavailable();
    libc = null;
    return libc;
  }
  const { koffi, lib } = h;
  try {
    const f = (proto: string) => lib.func(proto) as (...a: unknown[]) => number;
    const fns = {
      socket: f("int socket(int, int, int)"),
      setsockopt: f("int setsockopt(int, int, int, void *, uint32_t)"),
      getsockopt: f("int getsockopt(int, int, int, void *, void *)"),
      bind: f("int bind(int, void *, uint32_t)"),
      listen: f("int listen(int, int)"),
      getsockname: f("int getsockname(int, void *, void *)"),
      fcntl: f("int fcntl(int, int, int)"),
      close: f("int close(int)"),
      send: f("intptr_t send(int, void *, size_t, int)"),
      recv: f("intptr_t recv(int, void *, size_t, int)"),
      connect: f("int connect(int, void *, uint32_t)"),
    };
    libc = { ...(fns as unknown as Omit<Libc, "errno">), errno: () => koffi.errno() };
  } catch (e) {
    loadError = (e as Error).message.split("\n")[0];
    libc = null;
  }
  return libc;
}

export function netsysUnavailable(): string | undefined {
  netsys();
  return loadError;
}

function need(): Libc {
  const c = netsys();
  if (!c) throw new HotdumpError("supervise", "E_NETSYS", `koffi could not load libc: ${loadError}`);
  return c;
}

/** Call, and read errno right after (koffi keeps the errno of the last call on this thread). */
function check(c: Libc, call: string, r: number): number {
  if (r < 0) throw new NetsysErrno(call, c.errno());
  return r;
}

export type SockAddr =
  | { family: "tcp4" | "tcp6"; ip: string; port: number }
  | { family: "unix"; path: string };

function encodeAddr(a: SockAddr): Buffer {
  if (a.family === "unix") {
    const b = Buffer.alloc(110);
    b.writeUInt16LE(AF_UNIX, 0);
    b.write(a.path, 2);
    return b.subarray(0, 2 + Buffer.byteLength(a.path) + 1);
  }
  if (a.family === "tcp4") {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(a.port, 2);
    for (const [i, o] of a.ip.split(".").entries()) b.writeUInt8(Number(o), 4 + i);
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(a.port, 2);
  ipv6Bytes(a.ip).copy(b, 8);
  return b;
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const parts = (s: string | undefined) => (s ? s.split(":") : []);
  const h = parts(head);
  const t = parts(tail);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const b = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) b.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return b;
}

function decodeAddr(b: Buffer): SockAddr {
  const fam = b.readUInt16LE(0);
  if (fam === AF_INET)
    return { family: "tcp4", ip: [...b.subarray(4, 8)].join("."), port: b.readUInt16BE(2) };
  if (fam === AF_INET6) {
    const g: string[] = [];
    for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(8 + i * 2).toString(16));
    return { family: "tcp6", ip: g.join(":"), port: b.readUInt16BE(2) };
  }
  if (fam === AF_UNIX) {
    const raw = b.subarray(2);
    const end = raw.indexOf(0);
    return { family: "unix", path: raw.subarray(0, end < 0 ? raw.length : end).toString() };
  }
  throw new Error(`unsupported address family ${fam}`);
}

/** `host` (a probe's, as written) names the address a socket bound to `ip`: the same address in
 * any spelling, `localhost` for loopback, or any host for a wildcard bind. */
export function hostReaches(host: string, ip: string): boolean {
  const norm = (x: string) => (isIP(x) === 6 ? ipv6Bytes(x).toString("hex") : x);
  const wildcard = ip === "0.0.0.0" || (isIP(ip) === 6 && /^0+$/.test(norm(ip)));
  if (wildcard) return true;
  if (host === "localhost") return ip === "127.0.0.1" || norm(ip) === norm("::1");
  return norm(host) === norm(ip);
}

export function tcpAddr(ip: string, port: number): SockAddr {
  return { family: isIP(ip) === 6 ? "tcp6" : "tcp4", ip, port };
}

/** What a listening fd is bound to. */
export function sockName(fd: number): SockAddr {
  const c = need();
  const b = Buffer.alloc(112);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(112);
  check(c, "getsockname", c.getsockname(fd, b, len));
  return decodeAddr(b.subarray(0, len.readUInt32LE(0)));
}

function getInt(c: Libc, fd: number, level: number, name: number): number {
  const v = Buffer.alloc(4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(4);
  check(c, "getsockopt", c.getsockopt(fd, level, name, v, len));
  return v.readInt32LE(0);
}

function setInt(c: Libc, fd: number, level: number, name: number, value: number): void {
  const v = Buffer.alloc(4);
  v.writeInt32LE(value);
  check(c, "setsockopt", c.setsockopt(fd, level, name, v, 4));
}

/** True when fd is a listening socket with SO_REUSEPORT set (one that can take group members). */
export function isReuseportListener(fd: number): boolean {
  const c = need();
  return getInt(c, fd, SOL_SOCKET, SO_ACCEPTCONN) === 1 && getInt(c, fd, SOL_SOCKET, SO_REUSEPORT) === 1;
}

/**
 * A new listening socket, close-on-exec (so go build, dlv and gdb never inherit it; spawn's dup2
 * to fd 3 clears the flag on the generation's copy only). With `reuseport` it joins the address's
 * SO_REUSEPORT group at listen(): every member must set SO_REUSEPORT and belong to the same user.
 */
export function listenSocket(addr: SockAddr, opts: { backlog: number; reuseport: boolean }): number {
  const c = need();
  const domain = addr.family === "unix" ? AF_UNIX : addr.family === "tcp4" ? AF_INET : AF_INET6;
  const fd = check(c, "socket", c.socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0));
  try {
    if (addr.family !== "unix") {
      setInt(c, fd, SOL_SOCKET, SO_REUSEADDR, 1);
      if (opts.reuseport) setInt(c, fd, SOL_SOCKET, SO_REUSEPORT, 1);
    }
    const a = encodeAddr(addr);
    check(c, "bind", c.bind(fd, a, a.length));
    check(c, "listen", c.listen(fd, opts.backlog));
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return fd;
}

/** EADDRINUSE (thrown) when a listener already holds `addr`, even one in a SO_REUSEPORT group:
 * a socket without SO_REUSEPORT cannot bind beside it. The probe socket never listens. */
export function checkAddressFree(addr: SockAddr): void {
  const c = need();
  const domain = addr.family === "tcp4" ? AF_INET : AF_INET6;
  const fd = check(c, "socket", c.socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0));
  try {
    setInt(c, fd, SOL_SOCKET, SO_REUSEADDR, 1);
    const a = encodeAddr(addr);
    check(c, "bind", c.bind(fd, a, a.length));
  } finally {
    c.close(fd);
  }
}

const SOCK_NONBLOCK = 0o4000;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;

/** A bound, non-blocking UNIX datagram socket (a NOTIFY_SOCKET): Node's dgram has only UDP. */
export function datagramSocket(path: string): number {
  const c = need();
  const fd = check(c, "socket", c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  try {
    const a = encodeAddr({ family: "unix", path });
    check(c, "bind", c.bind(fd, a, a.length));
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return fd;
}

/** Send one datagram to the UNIX datagram socket at `path` ("@name": the abstract namespace). */
export function sendDatagram(path: string, text: string): void {
  const c = need();
  const fd = check(c, "socket", c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  try {
    let a = encodeAddr({ family: "unix", path });
    // An abstract name starts with a NUL instead of "@" and has no terminating NUL.
    if (path.startsWith("@")) {
      a = Buffer.from(a.subarray(0, a.length - 1));
      a[2] = 0;
    }
    check(c, "connect", c.connect(fd, a, a.length));
    const b = Buffer.from(text);
    check(c, "send", c.send(fd, b, b.length, 0));
  } finally {
    c.close(fd);
  }
}

/** One datagram into `buf`: its length, or -1 when none is waiting. */
export function recvDatagram(fd: number, buf: Buffer): number {
  const c = need();
  const n = c.recv(fd, buf, buf.length, MSG_DONTWAIT);
  if (n >= 0) return Number(n);
  const errno = c.errno();
  if (errno === EAGAIN) return -1;
  throw new NetsysErrno("recv", errno);
}

export function closeFd(fd: number): void {
  need().close(fd);
}

export function setCloexec(fd: number, on: boolean): void {
  const c = need();
  const flags = check(c, "fcntl", c.fcntl(fd, F_GETFD, 0));
  check(c, "fcntl", c.fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC));
}

/**
 * Connections waiting in a TCP listener's accept queue. For a socket in LISTEN state the kernel
 * reports sk_ack_backlog as tcpi_unacked (tcp_get_info; and sk_max_ack_backlog as tcpi_sacked).
 * struct tcp_info: 8 one-byte fields, then u32 rto, ato, snd_mss, rcv_mss, unacked: offset 24.
 */
export function tcpAcceptQueue(fd: number): number {
  const c = need();
  const b = Buffer.alloc(104);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(104);
  check(c, "getsockopt(TCP_INFO)", c.getsockopt(fd, IPPROTO_TCP, TCP_INFO, b, len));
  if (b.readUInt8(0) !== TCP_LISTEN_STATE) return 0;
  return b.readUInt32LE(24);
}

/** A classic BPF instruction: struct sock_filter { u16 code; u8 jt; u8 jf; u32 k }. */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const BPF_LD_H_ABS = 0x28;
const BPF_JEQ_K = 0x15;
const BPF_RET_K = 0x06;
/** SKF_NET_OFF: loads relative to the network header (the reuseport program's skb data starts
 * after the TCP header, so the ports are reached from the IP header). */
const SKF_NET_OFF = -0x100000;

/** `ret #index`: every connection to the socket at that index of the group. */
export function bpfAll(index: number): BpfInsn[] {
  return [{ code: BPF_RET_K, jt: 0, jf: 0, k: index }];
}

/** Connections from source port `port` to `probeIndex`, the rest to `index`. IPv4 headers here
 * carry no options (Linux never sets any on its own SYNs), IPv6 has a fixed 40-byte header. */
export function bpfProbe(
  family: "tcp4" | "tcp6",
  port: number,
  probeIndex: number,
  index: number,
): BpfInsn[] {
  return [
    { code: BPF_LD_H_ABS, jt: 0, jf: 0, k: (SKF_NET_OFF + (family === "tcp4" ? 20 : 40)) >>> 0 },
    { code: BPF_JEQ_K, jt: 0, jf: 1, k: port },
    { code: BPF_RET_K, jt: 0, jf: 0, k: probeIndex },
    { code: BPF_RET_K, jt: 0, jf: 0, k: index },
  ];
}

/**
 * Attach (or replace) the SO_REUSEPORT group's program through any member. The kernel returns an
 * index into the group: members are numbered in the order they called listen(), and when one
 * leaves, the last member takes its slot (reuseport_detach_sock). An index past the end falls
 * back to the hash. struct sock_fprog is { u16 len; (pad); struct sock_filter *filter }: 16 bytes
 * with the pointer at offset 8 on 64-bit.
 */
export function attachSteering(fd: number, prog: readonly BpfInsn[]): void {
  const c = need();
  const insns = Buffer.alloc(8 * prog.length);
  prog.forEach((p, i) => {
    insns.writeUInt16LE(p.code, i * 8);
    insns.writeUInt8(p.jt, i * 8 + 2);
    insns.writeUInt8(p.jf, i * 8 + 3);
    insns.writeUInt32LE(p.k >>> 0, i * 8 + 4);
  });
  const { koffi } = loadLibc()!;
  const fprog = Buffer.alloc(16);
  fprog.writeUInt16LE(prog.length, 0);
  fprog.writeBigUInt64LE(BigInt(koffi.address(insns) as unknown as bigint), 8);
  check(
    c,
    "setsockopt(SO_ATTACH_REUSEPORT_CBPF)",
    c.setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog, 16),
  );
}

/**
 * Connections waiting in a UNIX listener's queue, asked of the kernel over NETLINK_SOCK_DIAG
 * (unix_diag: UDIAG_SHOW_RQLEN gives, for a listener, the accept queue length as
 * UNIX_DIAG_RQLEN.udiag_rqueue). `ino` is the socket's inode (/proc/self/fd/N -> socket:[INO]).
 */
export function unixAcceptQueue(ino: number): number {
  const c = need();
  const nl = check(
    c,
    "socket(NETLINK_SOCK_DIAG)",
    c.socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG),
  );
  try {
    // struct nlmsghdr (16) + struct unix_diag_req (24).
    const req = Buffer.alloc(40);
    req.writeUInt32LE(40, 0);
    req.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
    req.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
    req.writeUInt8(AF_UNIX, 16); // sdiag_family
    req.writeUInt32LE(1 << TCP_LISTEN_STATE, 20); // udiag_states
    req.writeUInt32LE(ino, 24); // udiag_ino (ignored by dumps; filtered below)
    req.writeUInt32LE(UDIAG_SHOW_RQLEN, 28); // udiag_show
    req.writeUInt32LE(0xffffffff, 32); // udiag_cookie
    req.writeUInt32LE(0xffffffff, 36);
    check(c, "send(NETLINK_SOCK_DIAG)", c.send(nl, req, req.length, 0));
    const buf = Buffer.alloc(65536);
    for (;;) {
      const n = check(c, "recv(NETLINK_SOCK_DIAG)", c.recv(nl, buf, buf.length, 0));
      let off = 0;
      while (off + 16 <= n) {
        const len = buf.readUInt32LE(off);
        const type = buf.readUInt16LE(off + 4);
        if (type === NLMSG_DONE) return 0;
        if (type === NLMSG_ERROR) throw new NetsysErrno("NETLINK_SOCK_DIAG", -buf.readInt32LE(off + 16));
        // struct unix_diag_msg: family, type, state, pad (4 bytes), ino (u32), cookie[2] = 16 bytes.
        const msgIno = buf.readUInt32LE(off + 16 + 4);
        if (msgIno === ino) {
          let a = off + 16 + 16;
          while (a + 4 <= off + len) {
            const alen = buf.readUInt16LE(a);
            const atype = buf.readUInt16LE(a + 2);
            if (atype === UNIX_DIAG_RQLEN) return buf.readUInt32LE(a + 4);
            a += (alen + 3) & ~3;
            if (alen < 4) break;
          }
          return 0;
        }
        off += (len + 3) & ~3;
        if (len < 16) break;
      }
    }
  } finally {
    c.close(nl);
  }
}
