/**
 * Go net/rpc/jsonrpc framing over a socket, as Delve's headless server speaks it: a request is
 * `{"method":"RPCServer.X","params":[{...}],"id":N}`, a reply is one JSON object per line
 * (`{"id":N,"result":...,"error":null|"text"}`, Go's json.Encoder ends each with "\n" and escapes
 * newlines inside strings, so a newline always ends a reply). TCP may split a reply across chunks
 * or coalesce several into one, so the reader buffers bytes and cuts at newlines.
 */
import type { Socket } from "node:net";
import type { HotdumpError } from "../../errors.js";
import type { RpcMethod, RpcMethods } from "./delveProtocol.js";
import { dlvClosed, dlvProtocolError, dlvRpcError, dlvTimeout } from "./errors.js";

interface RpcConnectionOptions {
  /** Default per-call timeout (ms). */
  timeoutMs?: number;
  /** Extra context for failures (dlv's stderr tail). */
  context?: () => string;
}

export interface CallOptions {
  timeoutMs?: number;
}

export interface RpcConnection {
  call<M extends RpcMethod>(
    method: M,
    params: RpcMethods[M][0],
    opts?: CallOptions,
  ): Promise<RpcMethods[M][1]>;
  /** Calls not yet answered. */
  readonly pending: number;
  /** Resolves with why the connection ended (null while it is open). */
  readonly ended: Promise<string>;
  /** Reject every pending call with `why` and close the socket; idempotent. */
  destroy(why: string): void;
}

interface Pending {
  method: string;
  site: Error;
  timer: NodeJS.Timeout;
  resolve: (v: unknown) => void;
  reject: (e: HotdumpError) => void;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: unknown;
}

export function createRpcConnection(socket: Socket, opts: RpcConnectionOptions = {}): RpcConnection {
  const defaultTimeout = opts.timeoutMs ?? 30_000;
  const context = opts.context ?? (() => "");
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let endReason: string | null = null;
  let resolveEnded!: (why: string) => void;
  const ended = new Promise<string>((r) => {
    resolveEnded = r;
  });
  let buf: Buffer[] = [];

  const end = (why: string) => {
    if (endReason !== null) return;
    endReason = why;
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.reject(dlvClosed(p.method, why, p.site, context()));
    }
    socket.destroy();
    resolveEnded(why);
  };

  const onLine = (line: string) => {
    if (line.trim() === "") return;
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch (e) {
      end(dlvProtocolError((e as Error).message, line).shortMessage);
      return;
    }
    if (typeof reply !== "object" || reply === null || typeof reply.id !== "number") {
      end(dlvProtocolError("no numeric id", line).shortMessage);
      return;
    }
    const p = pending.get(reply.id);
    // A reply to a call that already timed out: nothing waits for it any more.
    if (!p) return;
    pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.error !== null && reply.error !== undefined && reply.error !== "")
      p.reject(dlvRpcError(p.method, String(reply.error), p.site));
    else p.resolve(reply.result);
  };

  socket.on("data", (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      const line = buf.length ? Buffer.concat([...buf, piece]) : piece;
      buf = [];
      onLine(line.toString("utf8"));
      start = nl + 1;
      if (endReason !== null) return;
    }
    if (start < chunk.length) buf.push(Buffer.from(chunk.subarray(start)));
  });
  socket.on("error", (e) => end(`socket error: ${e.message}`));
  socket.on("close", () => end("Delve closed the connection"));
  socket.on("end", () => end("Delve closed the connection"));

  return {
    get pending() {
      return pending.size;
    },
    ended,
    destroy: end,
    call<M extends RpcMethod>(method: M, params: RpcMethods[M][0], callOpts: CallOptions = {}) {
      // Made here, before any await, so a failure's stack names the caller.
      const site = new Error(`Delve RPCServer.${method}`);
      return new Promise<RpcMethods[M][1]>((resolve, reject) => {
        if (endReason !== null) {
          reject(dlvClosed(method, endReason, site, context()));
          return;
        }
        const id = nextId++;
        const ms = callOpts.timeoutMs ?? defaultTimeout;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(dlvTimeout(`RPCServer.${method}`, ms, site, context()));
        }, ms);
        pending.set(id, {
          method,
          site,
          timer,
          resolve: resolve as (v: unknown) => void,
          reject,
        });
        socket.write(`${JSON.stringify({ method: `RPCServer.${method}`, params: [params], id })}\n`);
      });
    },
  };
}
