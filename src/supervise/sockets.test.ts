import { closeSync, openSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { thrown } from "../../test/helpers/thrown.js";
import { HotdumpError } from "../errors.js";
import {
  type BoundListener,
  bindListeners,
  formatListenAddr,
  inheritedListeners,
  parseListenAddr,
  withoutHandoffEnv,
} from "./sockets.js";

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof HotdumpError ? e.code : `not a HotdumpError: ${String(e)}`;
  }
  return "no error";
};

describe("parseListenAddr", () => {
  it.each([
    [":8080", { kind: "tcp", host: "127.0.0.1", port: 8080, name: "tcp-8080" }],
    ["8080", { kind: "tcp", host: "127.0.0.1", port: 8080, name: "tcp-8080" }],
    ["0.0.0.0:80", { kind: "tcp", host: "0.0.0.0", port: 80, name: "tcp-80" }],
    ["tcp://localhost:9000", { kind: "tcp", host: "localhost", port: 9000, name: "tcp-9000" }],
    ["tcp://:9000/", { kind: "tcp", host: "127.0.0.1", port: 9000, name: "tcp-9000" }],
    ["[::1]:443", { kind: "tcp", host: "::1", port: 443, name: "tcp-443" }],
    ["api=127.0.0.1:0", { kind: "tcp", host: "127.0.0.1", port: 0, name: "api" }],
    ["unix:///run/app.sock", { kind: "unix", path: "/run/app.sock", name: "unix-app.sock" }],
    ["unix:/run/app.sock", { kind: "unix", path: "/run/app.sock", name: "unix-app.sock" }],
    ["web=unix:///tmp/a b.sock", { kind: "unix", path: "/tmp/a b.sock", name: "web" }],
  ])("%s", (input, want) => {
    expect(parseListenAddr(input)).toEqual(want);
  });

  it.each([
    ["", /empty/],
    ["   ", /empty/],
    [":65536", /out of range/],
    [":-1", /not a number/],
    ["localhost", /missing port/],
    ["http://localhost:80", /unknown scheme "http:\/\/"/],
    ["unix://relative.sock", /absolute/],
    ["unix:///tmp/", /name a file/],
    [`unix:///${"x".repeat(120)}`, /longer than 107/],
    ["::1:80", /brackets/],
    ["[zz]:80", /not an IPv6/],
    ["bad host:80", /not a host name/],
    ["9name=:80", /missing port|not a host/],
  ])("rejects %j", (input, why) => {
    const err = thrown(() => parseListenAddr(input));
    expect(err).toBeInstanceOf(HotdumpError);
    expect((err as HotdumpError).code).toBe("E_LISTEN_ADDR");
    expect((err as HotdumpError).domain).toBe("usage");
    expect((err as HotdumpError).shortMessage).toMatch(why);
  });

  it("round-trips every valid tcp address through formatListenAddr", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (host, port) => {
        const a = parseListenAddr(formatListenAddr({ kind: "tcp", host, port, name: "x" }));
        expect(a).toMatchObject({ kind: "tcp", port });
        expect(formatListenAddr(a)).toBe(formatListenAddr({ kind: "tcp", host, port, name: "x" }));
      }),
    );
  });

  it("never throws anything but E_LISTEN_ADDR", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const c = code(() => parseListenAddr(s));
        expect(["no error", "E_LISTEN_ADDR"]).toContain(c);
      }),
    );
  });
});

describe("bindListeners (in-process checks of errors; the handoff itself is in test/handoff.test.ts)", () => {
  const servers: Server[] = [];
  const bound: BoundListener[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
    for (const b of bound.splice(0)) b.close();
  });

  it("names the holder command for a port in use", async () => {
    const s = createServer();
    servers.push(s);
    await new Promise<void>((r) => s.listen({ host: "127.0.0.1", port: 0 }, r));
    const port = (s.address() as { port: number }).port;
    const err = await bindListeners([parseListenAddr(`:${port}`)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HotdumpError);
    expect((err as HotdumpError).code).toBe("E_LISTEN_IN_USE");
    expect((err as HotdumpError).shortMessage).toContain(`ss -ltnp 'sport = :${port}'`);
  });

  it("gives the kernel's port for :0 and a real fd", async () => {
    const l = await bindListeners([parseListenAddr("127.0.0.1:0")]);
    bound.push(...l);
    expect(l[0]?.port).toBeGreaterThan(0);
    expect(l[0]?.display).toBe(`127.0.0.1:${l[0]?.port}`);
    expect(l[0]?.fd).toBeGreaterThan(2);
  });
});

describe("inheritedListeners", () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  it("is empty without HOTDUMP_LISTEN_FDS", () => {
    expect(inheritedListeners({})).toEqual({ fds: [], names: [], addrs: [], stage1Pid: undefined });
  });

  it("accepts a socket fd and rejects a file or closed fd", async () => {
    const l = await bindListeners([parseListenAddr("127.0.0.1:0")]);
    cleanup.push(() => l[0]?.close());
    const fd = l[0]?.fd as number;
    const got = inheritedListeners(
      {
        HOTDUMP_LISTEN_FDS: "1",
        HOTDUMP_LISTEN_NAMES: "api",
        HOTDUMP_STAGE1_PID: "77",
        HOTDUMP_LISTEN_ADDRS: JSON.stringify([l[0]?.display]),
      },
      { firstFd: fd },
    );
    expect(got).toEqual({ fds: [fd], names: ["api"], addrs: [l[0]?.display], stage1Pid: 77 });

    const file = openSync(join(tmpdir(), `hotdump-sockets-${process.pid}`), "w");
    cleanup.push(() => closeSync(file));
    expect(code(() => inheritedListeners({ HOTDUMP_LISTEN_FDS: "1" }, { firstFd: file }))).toBe(
      "E_LISTEN_FD_INVALID",
    );
    expect(code(() => inheritedListeners({ HOTDUMP_LISTEN_FDS: "1" }, { firstFd: 100_000 }))).toBe(
      "E_LISTEN_FD_INVALID",
    );
    expect(code(() => inheritedListeners({ HOTDUMP_LISTEN_FDS: "x" }))).toBe("E_LISTEN_FD_INVALID");
  });

  it("drops hotdump's handoff variables from a generation's env", () => {
    expect(
      withoutHandoffEnv({
        A: "1",
        HOTDUMP_LISTEN_FDS: "1",
        HOTDUMP_LISTEN_NAMES: "x",
        HOTDUMP_STAGE1_PID: "2",
      }),
    ).toEqual({
      A: "1",
    });
  });
});
