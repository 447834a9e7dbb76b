/**
 * One listening socket per generation (src/supervise/steering.ts), for real: `hotdump run --listen`
 * over test/fixtures/go/plainsvc, a service that on SIGTERM only calls srv.Shutdown(ctx). Under
 * load from 4 clients making a fresh connection per request: the readiness probe is steered alone
 * to the new socket, the old socket's queue is drained before SIGTERM, a crashed generation's
 * queued connections wait for its restart, UNIX sockets switch by rename(2), the shared-socket
 * fallback is said once, and a service that never accepts on fd 3 is named with the remedy.
 */
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { httpGet, startLoad, type Target } from "./helpers/http.js";
import { runArgs } from "./helpers/scratch.js";
import { type Supervised, startSupervised } from "./helpers/supervised.js";

const get = (t: Target, path = "/", timeoutMs = 10_000) => httpGet(t, path, timeoutMs);

/** `clients` loops of GET / with a fresh connection each, until stopped (at most 120 s). */
const load = (t: Target, clients = 4) => startLoad(t, { clients, pauseMs: 2, timeoutMs: 10_000 });

const variant = (mode: string, version: string) =>
  buildGoFixture("plainsvc", {
    debug: false,
    flags: [`-ldflags=-X main.mode=${mode} -X main.version=${version}`],
  });

const running: Supervised[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop("SIGTERM");
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Setup {
  dir: string;
  svc: string;
  store: string;
  sup: Supervised;
  deploy(bin: string): void;
  reload(): Promise<{ ok: boolean; generation: number }>;
}

async function setup(
  listen: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
  first = variant("", "1"),
) {
  const dir = mkdtempSync(join(tmpdir(), "hotdump-steer-"));
  dirs.push(dir);
  const svc = join(dir, "svc");
  const store = join(dir, "store");
  const deploy = (bin: string) => {
    copyFileSync(bin, `${svc}.new`);
    renameSync(`${svc}.new`, svc);
  };
  deploy(first);
  const sup = startSupervised(runArgs(store, listen, ["--ready-timeout", "3s", ...extra], [svc]), {
    cwd: dir,
    env,
  });
  running.push(sup);
  const reload = async () => {
    const r = await runCli(["reload", "--json", "--store", store], { env });
    return JSON.parse(r.stdout) as { ok: boolean; generation: number };
  };
  return { dir, svc, store, sup, deploy, reload } satisfies Setup;
}

/** The node process holding the listener on `port` and the fd it holds it at (from ss). */
function supervisorFd(port: number): { pid: number; fd: number } | undefined {
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (comm !== "node") continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const inodes = listenerInodes(port);
    for (const fd of fds) {
      try {
        const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const ino = /^socket:\[(\d+)\]$/.exec(l)?.[1];
        if (ino && inodes.has(ino)) return { pid: Number(pid), fd: Number(fd) };
      } catch {}
    }
  }
  return undefined;
}

/** Inodes of the sockets listening on 127.0.0.1:port (/proc/net/tcp: state 0A is LISTEN). */
function listenerInodes(port: number): Set<string> {
  const out = new Set<string>();
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === `0100007F:${hex}` && f[3] === "0A" && f[9]) out.add(f[9]);
  }
  return out;
}

describe("kernel-steered sockets (hotdump run --listen, plain srv.Shutdown service)", () => {
  beforeAll(() => {
    for (const [m, v] of [
      ["", "1"],
      ["", "2"],
      ["hang", "h"],
      ["ownport", "o"],
      ["slowaccept", "s"],
    ] as const)
      variant(m, v);
  }, 120_000);

  it("steers the probe alone to the new socket, drains the old socket before SIGTERM: 0 failed over 6 reloads", async () => {
    const port = await freePort();
    const s = await setup(`127.0.0.1:${port}`, ["--probe", `http://127.0.0.1:${port}/`]);
    await s.sup.waitFor((e) => e.event === "ready" && e.generation === 1, 30_000, "generation 1 ready");
    const traffic = load({ port });
    for (let i = 0; i < 6; i++) {
      s.deploy(variant("", String((i % 2) + 1)));
      const r = await s.reload();
      expect(r.ok).toBe(true);
      await new Promise((res) => setTimeout(res, 200));
    }
    // A build that never serves: only the steered probe reaches its socket, so it is never ready
    // (with the probe reaching the old generation it would have passed) and is rolled back.
    s.deploy(variant("hang", "h"));
    const hung = await s.reload();
    expect(hung.ok).toBe(false);
    await new Promise((res) => setTimeout(res, 300));
    const stats = await traffic.stop();
    expect(stats.errors.slice(0, 5)).toEqual([]);
    expect(stats.failed).toBe(0);
    expect(stats.ok).toBeGreaterThan(100);
    expect(stats.bodies.has("vh")).toBe(false);
    expect(await get({ port })).toMatch(/^v2 /);
    const switches = s.sup.events.filter((e) => e.event === "switch");
    expect(switches.every((e) => e.sockets === "steered")).toBe(true);
    // Each old generation was stopped only after its own socket had nothing queued.
    for (const sw of switches) {
      const from = sw.from as number;
      const drained = s.sup.events.find((e) => e.event === "drained" && e.generation === from);
      const stopped = s.sup.events.find((e) => e.event === "stopped" && e.generation === from);
      expect(drained?.left).toBe(0);
      expect(Date.parse(String(drained?.ts))).toBeLessThanOrEqual(Date.parse(String(stopped?.ts)));
    }
    expect(s.sup.events.find((e) => e.event === "rollback")?.reason).toMatch(/not ready/);
    expect(s.sup.output()).toMatch(/never accepted the \d+ connection\(s\) steered to its socket/);
    // The supervisor's copy of the listener is close-on-exec (O_CLOEXEC is 02000000 in fdinfo's
    // octal flags): go build, dlv and gdb never inherit it.
    const held = supervisorFd(port);
    expect(held).toBeDefined();
    const flags = /flags:\s+(\d+)/.exec(readFileSync(`/proc/${held!.pid}/fdinfo/${held!.fd}`, "utf8"))?.[1];
    expect(Number.parseInt(flags ?? "0", 8) & 0o2000000).toBe(0o2000000);
  }, 180_000);

  it("waits for the old socket's accept queue to empty before SIGTERM", async () => {
    // The old generation accepts one connection every 300 ms, so requests made just before the
    // reload are still queued on its socket at the switch. Stopped at once, it would close its
    // listener in Shutdown and the kernel would reset every one of them.
    const port = await freePort();
    const s = await setup(
      `127.0.0.1:${port}`,
      ["--probe", `http://127.0.0.1:${port}/`],
      {},
      variant("slowaccept", "s"),
    );
    await s.sup.waitFor((e) => e.event === "ready" && e.generation === 1, 30_000, "generation 1 ready");
    // 16 (4.8 s of queue): on a busy machine the reload itself (the `hotdump reload` command's
    // start, hashing and storing the binary) can take 2-3 s, and the queue must outlast it.
    const queued = Array.from({ length: 16 }, () => get({ port }, "/", 30_000));
    s.deploy(variant("", "2"));
    expect((await s.reload()).ok).toBe(true);
    const results = await Promise.allSettled(queued);
    expect(results.map((r) => r.status)).toEqual(Array(16).fill("fulfilled"));
    const drained = await s.sup.waitFor((e) => e.event === "drained" && e.generation === 1);
    const stopped = await s.sup.waitFor((e) => e.event === "stopped" && e.generation === 1);
    expect(drained.left).toBe(0);
    expect(drained.ms as number).toBeGreaterThanOrEqual(300);
    expect(Date.parse(String(drained.ts))).toBeLessThanOrEqual(Date.parse(String(stopped.ts)));
    // Every queued request was answered by the old generation, the next ones by the new one.
    for (const r of results) expect((r as PromiseFulfilledResult<string>).value).toMatch(/^vs /);
    expect(await get({ port })).toMatch(/^v2 /);
  }, 120_000);

  it("a crashed generation's queued connections wait for its restart on the same socket", async () => {
    const port = await freePort();
    const s = await setup(`127.0.0.1:${port}`, ["--probe", `http://127.0.0.1:${port}/`]);
    await s.sup.waitFor((e) => e.event === "ready" && e.generation === 1, 30_000, "generation 1 ready");
    const before = listenerInodes(port);
    get({ port }, "/crash").catch(() => {});
    await s.sup.waitFor((e) => e.event === "crash" && e.generation === 1, 60_000, "crash of generation 1");
    // Nobody accepts now (the restart waits out the back-off): these queue on the held socket.
    const during = await Promise.allSettled(Array.from({ length: 8 }, () => get({ port }, "/", 30_000)));
    expect(during.map((r) => r.status)).toEqual(Array(8).fill("fulfilled"));
    const restarted = await s.sup.waitFor(
      (e) =>
        e.event === "ready" &&
        e.generation === 1 &&
        e.pid !== s.sup.events.find((f) => f.event === "started")?.pid,
      30_000,
      "restart",
    );
    for (const r of during)
      expect((r as PromiseFulfilledResult<string>).value).toContain(`pid ${restarted.pid}`);
    expect(listenerInodes(port)).toEqual(before);
  }, 120_000);

  it("UNIX socket: a private path per generation renamed over the public one, 0 failed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-steer-unix-"));
    dirs.push(dir);
    const path = join(dir, "svc.sock");
    const s = await setup(`unix://${path}`);
    await s.sup.waitFor((e) => e.event === "ready" && e.generation === 1, 30_000, "generation 1 ready");
    const traffic = load({ socketPath: path });
    for (let i = 0; i < 4; i++) {
      s.deploy(variant("", String((i % 2) + 2)));
      expect((await s.reload()).ok).toBe(true);
    }
    await new Promise((res) => setTimeout(res, 300));
    const stats = await traffic.stop();
    expect(stats.errors.slice(0, 5)).toEqual([]);
    expect(stats.failed).toBe(0);
    expect(stats.bodies.has("v3")).toBe(true);
    const drained = s.sup.events.filter((e) => e.event === "drained");
    expect(drained).toHaveLength(4);
    expect(drained.every((e) => e.left === 0)).toBe(true);
    // Only the public path is left: each private one was renamed over it, keeping its mode.
    expect(readdirSync(dir).filter((f) => f.startsWith("svc.sock"))).toEqual(["svc.sock"]);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    // And it goes when hotdump stops.
    await s.sup.stop("SIGTERM");
    expect(readdirSync(dir).filter((f) => f.startsWith("svc.sock"))).toEqual([]);
  }, 120_000);

  it("falls back to one shared socket where steering is off, and says so once", async () => {
    const port = await freePort();
    const s = await setup(`127.0.0.1:${port}`, [], { HOTDUMP_LISTEN_MODE: "shared" });
    await s.sup.waitFor((e) => e.event === "ready" && e.generation === 1, 30_000, "generation 1 ready");
    s.deploy(variant("", "2"));
    expect((await s.reload()).ok).toBe(true);
    s.deploy(variant("", "1"));
    expect((await s.reload()).ok).toBe(true);
    expect(await get({ port })).toMatch(/^v1 /);
    expect(s.sup.events.filter((e) => e.event === "switch").map((e) => e.sockets)).toEqual([
      "shared",
      "shared",
    ]);
    expect(s.sup.events.some((e) => e.event === "drained")).toBe(false);
    const said = s.sup
      .output()
      .match(/each generation shares one listening socket \(HOTDUMP_LISTEN_MODE=shared\)/g);
    expect(said).toHaveLength(1);
  }, 120_000);

  it("names a service that never accepts on the held socket (it binds its own port)", async () => {
    const port = await freePort();
    const own = await freePort();
    const s = await setup(`127.0.0.1:${port}`, [], { OWN_ADDR: `127.0.0.1:${own}` }, variant("ownport", "o"));
    await s.sup.waitFor((e) => e.event === "ready" && e.generation === 1, 30_000, "generation 1 ready");
    const deadline = Date.now() + 15_000;
    while (!/does not accept connections/.test(s.sup.output()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(s.sup.output()).toContain(
      `generation 1 does not accept connections on the socket hotdump holds for 127.0.0.1:${port} (fd 3, LISTEN_FDS=1): requests to it hang. It probably binds its own port: serve on the inherited listener (ln, err := net.FileListener(os.NewFile(3, "listener")); srv.Serve(ln), or go-systemd's activation.Listeners()), or run it without --listen (supervision and crash capture only)`,
    );
  }, 60_000);

  it("names a service that crash-loops on address already in use (it binds the held port)", async () => {
    const port = await freePort();
    const s = await setup(
      `127.0.0.1:${port}`,
      [],
      { OWN_ADDR: `127.0.0.1:${port}` },
      variant("ownport", "o"),
    );
    const deadline = Date.now() + 20_000;
    while (!/failed with "address already in use"/.test(s.sup.output()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(s.sup.output()).toContain(
      `generation 1 failed with "address already in use": hotdump already holds 127.0.0.1:${port} and passes it as fd 3 (LISTEN_FDS=1)`,
    );
  }, 60_000);
});
