/**
 * The control socket: `hotdump reload` talks to the running supervisor through <store>/control.sock.
 * Owner-only: the socket file is 0600 inside the 0700 store, so only its owner (and root) can
 * connect. One JSON request per line, one JSON reply per line.
 */
import { chmodSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { HotdumpError } from "../errors.js";
import type { StoreLayout } from "../store/index.js";

interface ControlRequest {
  cmd: "reload" | "status";
}

type ControlHandler = (req: ControlRequest) => Promise<Record<string, unknown>>;

/**
 * E_ALREADY_RUNNING when a supervisor answers on this store. Called before anything is bound: a
 * second `run --listen :8080` used to take the port (SO_REUSEPORT-free, so failing a deploy
 * script's health check elsewhere) before refusing.
 */
export async function refuseIfRunning(layout: StoreLayout): Promise<void> {
  // A stale socket from a supervisor that died: connecting to it fails, so it can go.
  if (await isAlive(layout.control))
    throw new HotdumpError(
      "supervise",
      "E_ALREADY_RUNNING",
      `another hotdump supervisor already uses the store ${layout.root} (its control socket answers)`,
    );
}

export async function serveControl(layout: StoreLayout, handler: ControlHandler): Promise<Server> {
  const path = layout.control;
  await refuseIfRunning(layout);
  rmSync(path, { force: true });
  const server = createServer((sock) => {
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString();
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
        let req: ControlRequest;
        try {
          req = JSON.parse(line) as ControlRequest;
        } catch {
          sock.end(`${JSON.stringify({ ok: false, error: "bad request" })}\n`);
          return;
        }
        handler(req)
          .then((r) => sock.end(`${JSON.stringify(r)}\n`))
          .catch((e: Error) => sock.end(`${JSON.stringify({ ok: false, error: e.message })}\n`));
      }
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const old = process.umask(0o177);
    server.listen(path, () => {
      process.umask(old);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export function sendControl(
  layout: StoreLayout,
  req: ControlRequest,
  timeoutMs = 120_000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const c = createConnection(layout.control);
    let buf = "";
    const t = setTimeout(() => {
      c.destroy();
      reject(
        new HotdumpError(
          "supervise",
          "E_CONTROL_TIMEOUT",
          `the supervisor did not answer within ${timeoutMs / 1000} s`,
        ),
      );
    }, timeoutMs);
    c.once("connect", () => c.write(`${JSON.stringify(req)}\n`));
    c.on("data", (d) => {
      buf += d.toString();
    });
    c.once("end", () => {
      clearTimeout(t);
      try {
        resolve(JSON.parse(buf) as Record<string, unknown>);
      } catch (cause) {
        reject(
          new HotdumpError("supervise", "E_CONTROL_REPLY", "the supervisor's reply was not JSON", { cause }),
        );
      }
    });
    c.once("error", (cause: NodeJS.ErrnoException) => {
      clearTimeout(t);
      reject(
        new HotdumpError(
          "supervise",
          "E_NOT_RUNNING",
          `no hotdump supervisor is running on the store ${layout.root} (${cause.code}); start one with hotdump run or hotdump dev, or pass the same --store`,
          { cause },
        ),
      );
    });
  });
}
