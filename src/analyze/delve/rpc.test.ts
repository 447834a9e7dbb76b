import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { isHotdumpError } from "../../errors.js";
import { createRpcConnection, type RpcConnection } from "./rpc.js";

/** A fake Delve: records each request line and lets the test answer with arbitrary byte splits. */
async function fakeDelve() {
  const requests: { method: string; params: unknown[]; id: number }[] = [];
  let peer: Socket | undefined;
  const arrived: (() => void)[] = [];
  const server: Server = createServer((s) => {
    peer = s;
    let buf = "";
    s.on("data", (c) => {
      buf += c.toString();
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        requests.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
        arrived.shift()?.();
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
  await once(socket, "connect");
  while (!peer) await new Promise((r) => setTimeout(r, 1));
  return {
    requests,
    socket,
    server,
    peer: peer as Socket,
    /** Resolves once `n` requests have arrived in total. */
    async waitFor(n: number) {
      while (requests.length < n) await new Promise<void>((r) => arrived.push(r));
    },
    reply(id: number, result: unknown, error: string | null = null) {
      return `${JSON.stringify({ id, result, error })}\n`;
    },
  };
}

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

async function setup(timeoutMs = 2000) {
  const f = await fakeDelve();
  const rpc: RpcConnection = createRpcConnection(f.socket, { timeoutMs, context: () => "dlv stderr tail" });
  cleanup.push(() => {
    rpc.destroy("test over");
    f.peer.destroy();
    f.server.close();
  });
  return { f, rpc };
}

describe("Delve JSON-RPC framing", () => {
  it("sends Go net/rpc requests and matches replies split across chunks and coalesced", async () => {
    const { f, rpc } = await setup();
    const a = rpc.call("State", { NonBlocking: true });
    const b = rpc.call("ListThreads", {});
    const c = rpc.call("GetVersion", {});
    await f.waitFor(3);
    expect(f.requests.map((r) => r.method)).toEqual([
      "RPCServer.State",
      "RPCServer.ListThreads",
      "RPCServer.GetVersion",
    ]);
    expect(f.requests[0]?.params).toEqual([{ NonBlocking: true }]);
    const [ra, rb, rc] = f.requests.map((r) => r.id) as [number, number, number];
    // Replies out of order: c and half of a in one chunk, the rest of a and all of b in another.
    const wireA = f.reply(ra, { State: { Pid: 7, text: "é\\nstill one line" } });
    const wire = f.reply(rc, { DelveVersion: "1.27.2" }) + wireA + f.reply(rb, { Threads: [] });
    const cut = f.reply(rc, {}).length + 17;
    const bytes = Buffer.from(wire);
    // Split inside a multi-byte character too: the reader must cut bytes, not strings.
    const utf8Cut = bytes.indexOf(Buffer.from("é")) + 1;
    f.peer.write(bytes.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 10));
    f.peer.write(bytes.subarray(cut, utf8Cut));
    await new Promise((r) => setTimeout(r, 10));
    f.peer.write(bytes.subarray(utf8Cut));
    await expect(c).resolves.toEqual({ DelveVersion: "1.27.2" });
    await expect(a).resolves.toEqual({ State: { Pid: 7, text: "é\\nstill one line" } });
    await expect(b).resolves.toEqual({ Threads: [] });
    expect(rpc.pending).toBe(0);
  });

  it("rejects with Delve's error text and the caller's stack", async () => {
    const { f, rpc } = await setup();
    const p = rpc.call("Eval", { Scope: { GoroutineID: 1, Frame: 0, DeferredCall: 0 }, Expr: "nope" });
    await f.waitFor(1);
    f.peer.write(f.reply(f.requests[0]?.id ?? -1, null, "could not find symbol value for nope"));
    const err = await p.catch((e: unknown) => e);
    expect(isHotdumpError(err) && err.code).toBe("E_DLV_RPC");
    expect((err as Error).message).toContain("could not find symbol value for nope");
    expect(((err as Error).cause as Error).stack).toContain("rpc.test.ts");
  });

  it("rejects every pending call when the connection closes mid-call, and later calls at once", async () => {
    const { f, rpc } = await setup();
    const calls = [rpc.call("State", { NonBlocking: true }), rpc.call("ListThreads", {})];
    await f.waitFor(2);
    // Half a reply, then the peer goes away.
    f.peer.end(f.reply(f.requests[0]?.id ?? -1, {}).slice(0, 5));
    const results = await Promise.allSettled(calls);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      const e = (r as PromiseRejectedResult).reason;
      expect(isHotdumpError(e) && e.code).toBe("E_DLV_CLOSED");
      expect(e.details).toBe("dlv stderr tail");
    }
    expect(rpc.pending).toBe(0);
    await expect(rpc.ended).resolves.toMatch(/closed/);
    await expect(rpc.call("GetVersion", {})).rejects.toMatchObject({ code: "E_DLV_CLOSED" });
  });

  it("times a call out, ignores its late reply, and keeps serving others", async () => {
    const { f, rpc } = await setup(100);
    const slow = rpc.call("ListGoroutines", {
      Start: 0,
      Count: 0,
      GroupBy: 2,
      GroupByKey: "",
      MaxGroupMembers: 1,
      MaxGroups: 0,
    });
    await expect(slow).rejects.toMatchObject({ code: "E_DLV_TIMEOUT" });
    const next = rpc.call("GetVersion", {}, { timeoutMs: 2000 });
    await f.waitFor(2);
    f.peer.write(
      f.reply(f.requests[0]?.id ?? -1, { late: true }) + f.reply(f.requests[1]?.id ?? -1, { ok: 1 }),
    );
    await expect(next).resolves.toEqual({ ok: 1 });
  });

  it("ends the connection on a reply that is not JSON-RPC", async () => {
    const { f, rpc } = await setup();
    const p = rpc.call("State", { NonBlocking: true });
    await f.waitFor(1);
    f.peer.write("HTTP/1.1 400 Bad Request\r\n");
    await expect(p).rejects.toMatchObject({ code: "E_DLV_CLOSED" });
    await expect(rpc.ended).resolves.toMatch(/cannot read/);
  });
});
