/**
 * The dashboard's live feed under a stalled page: a client that stops reading is cut off once
 * 1 MiB waits for it, so `run --ui` does not hold a busy service's whole output in memory for a
 * suspended tab, while a page that reads gets every line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ensureStore } from "../src/store/index.js";
import { createUiServer, type UiServer } from "../src/ui/index.js";
import { withinTest } from "./helpers/testLimit.js";

let server: UiServer | undefined;
const sockets: Socket[] = [];
let store: string | undefined;
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = undefined;
  if (store) rmSync(store, { recursive: true, force: true });
});

/** An EventSource-like raw client: resolves once the response headers came; `text()` is all read. */
function subscribe(port: number, token: string): Promise<{ socket: Socket; text: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    sockets.push(socket);
    let got = "";
    socket.on("data", (c) => {
      const first = got === "";
      got += c.toString("latin1");
      if (first || got.includes("\r\n\r\n")) resolve({ socket, text: () => got });
    });
    socket.once("error", reject);
    socket.write(
      `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`,
    );
  });
}

const until = async (what: string, ok: () => boolean, ms = 30_000) => {
  for (const end = Date.now() + withinTest(ms); Date.now() < end; await new Promise((r) => setTimeout(r, 10)))
    if (ok()) return;
  throw new Error(`timed out waiting for ${what}`);
};

describe("live feed backpressure", () => {
  it("cuts off a page that stopped reading and keeps serving one that reads", async () => {
    store = mkdtempSync(join(tmpdir(), "hotdump-ui-sse-"));
    ensureStore(store);
    server = await createUiServer({ storeDir: store, port: 0 });
    const stalled = await subscribe(server.port, server.token);
    stalled.socket.pause();
    const reader = await subscribe(server.port, server.token);
    await until("two pages", () => server?.liveClients() === 2);

    // 32 MiB of output in 1 KiB lines, 256 at a time, each batch read by the live page before
    // the next. For a page that never reads, the kernel holds its unread receive window (128 KiB
    // here, tcp_rmem's default: autotuning grows it only as the reader reads) plus the sender's
    // buffer (tcp_wmem, 4 MiB at most here); past that, every byte waits in Node's memory. The cut
    // must come within 16 MiB, well before the 15 s keep-alive could notice a stalled page.
    const line = "x".repeat(1000);
    let cutAt: number | undefined;
    for (let batch = 0; batch < 128 && cutAt === undefined; batch++) {
      for (let i = 0; i < 256; i++) server.appLine(1, "stdout", `${batch}:${i}:${line}`);
      const marker = `${batch}:255:`;
      await until(`batch ${batch} at the reading page`, () => reader.text().includes(marker));
      if (server.liveClients() === 1) cutAt = batch;
    }
    expect(cutAt).toBeLessThan(64);

    // Its connection was closed by the server: once it reads again it sees the end, and its
    // EventSource would reconnect with Last-Event-ID.
    stalled.socket.on("error", () => undefined);
    const closed = new Promise<void>((r) => stalled.socket.once("close", () => r()));
    stalled.socket.resume();
    await closed;

    // The page that reads is still served.
    server.appLine(1, "stdout", "after the cut");
    await until("a line after the cut", () => reader.text().includes("after the cut"));
  });
});
