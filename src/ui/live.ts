/**
 * Live updates. One poller per server reads the journal for events after the last id it saw and
 * looks at the bundle directories; every connected page gets them as server-sent events. Polling
 * (every 250 ms) rather than a notification because the writer is often another process (a
 * `hotdump dev` elsewhere), and SQLite in WAL mode shows its commits to any reader's next query.
 */
import { readdirSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { isCrashId, type StoreLayout } from "../store/index.js";
import type { Logger } from "../util/log.js";
import type { JournalReader, UiEvent } from "./data.js";

const HEARTBEAT_MS = 15_000;
const REPLAY_LIMIT = 2000;
/**
 * Bytes queued for one page before it is cut off. A stalled tab (a suspended laptop, a debugger
 * paused in the page) stops reading; Node then keeps every write in the response's buffer, so a
 * busy `run --ui` would grow without bound. Cut off, the page's EventSource reconnects when it
 * runs again and sends Last-Event-ID: journal events are replayed from the journal, and the
 * output's tail from appTail, so a cut costs nothing that is kept.
 */
const MAX_BUFFERED = 1024 * 1024;

/** A line of the service's output, pushed by the supervisor the dashboard runs in (dev/run --ui). */
interface AppLine {
  generation: number;
  stream: "stdout" | "stderr";
  text: string;
  ts: string;
}

/** Lines a page that opens later still gets: the tail of the current generation's output. */
const APP_TAIL = 200;

interface LiveFeed {
  /** Send a service output line to every page (and keep it for pages that open later). */
  appLine(line: AppLine): void;
  start(): void;
  stop(): void;
  poll(): void;
  lastId(): number;
  /** Pages connected now (a stalled one is cut off and no longer counts). */
  clientCount(): number;
  subscribe(
    req: IncomingMessage,
    res: ServerResponse,
    since: number,
    headers: (res: ServerResponse, type: string) => void,
  ): void;
}

/** A cheap fingerprint of the bundles: names and directory mtimes (meta.json is renamed in). */
function bundlesSignature(layout: StoreLayout): string {
  let names: string[];
  try {
    names = readdirSync(layout.crashes).filter(isCrashId).sort();
  } catch {
    return "";
  }
  return names
    .map((n) => {
      try {
        return `${n}@${statSync(join(layout.crashes, n)).mtimeMs}`;
      } catch {
        return n;
      }
    })
    .join(",");
}

export function createLiveFeed(o: {
  layout: StoreLayout;
  reader: JournalReader;
  pollMs: number;
  logger?: Logger;
}): LiveFeed {
  const clients = new Set<ServerResponse>();
  const appTail: AppLine[] = [];
  let last = 0;
  let signature = bundlesSignature(o.layout);
  let timer: NodeJS.Timeout | null = null;
  let heartbeat: NodeJS.Timeout | null = null;

  const drop = (res: ServerResponse) => {
    clients.delete(res);
    res.destroy();
  };
  const write = (res: ServerResponse, event: string, data: unknown, id?: number) => {
    if (res.writableLength > MAX_BUFFERED) return drop(res);
    res.write(`${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const broadcast = (event: string, data: unknown, id?: number) => {
    for (const c of clients) write(c, event, data, id);
  };

  const readSince = (since: number): UiEvent[] => {
    const j = o.reader.get();
    if (!j) return [];
    try {
      return j.events({ sinceId: since, limit: REPLAY_LIMIT });
    } catch (e) {
      o.logger?.debug(`ui: journal read failed: ${(e as Error).message}`);
      o.reader.close();
      return [];
    }
  };

  // Start after what is already there: pages load history from /api/overview.
  last = o.reader.get()?.lastEventId() ?? 0;

  const poll = () => {
    const events = readSince(last);
    for (const e of events) {
      last = e.id;
      broadcast("journal", e, e.id);
    }
    const sig = bundlesSignature(o.layout);
    if (sig !== signature) {
      signature = sig;
      broadcast("bundles", { changed: true });
    }
  };

  return {
    appLine(line) {
      appTail.push(line);
      if (appTail.length > APP_TAIL) appTail.shift();
      broadcast("app", line);
    },
    start() {
      timer ??= setInterval(poll, o.pollMs);
      heartbeat ??= setInterval(() => {
        for (const c of clients)
          if (c.writableLength > MAX_BUFFERED) drop(c);
          else c.write(": keep-alive\n\n");
      }, HEARTBEAT_MS);
      timer.unref();
      heartbeat.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      if (heartbeat) clearInterval(heartbeat);
      timer = heartbeat = null;
      for (const c of clients) c.end();
      clients.clear();
    },
    poll,
    lastId: () => last,
    clientCount: () => clients.size,
    subscribe(req, res, since, headers) {
      headers(res, "text/event-stream; charset=utf-8");
      res.setHeader("Connection", "keep-alive");
      res.statusCode = 200;
      res.flushHeaders();
      // A reconnecting EventSource sends the last id it saw; replay what it missed up to `last`.
      const from = Number(req.headers["last-event-id"] ?? since) || 0;
      res.write("retry: 1000\n\n");
      if (from < last) for (const e of readSince(from)) if (e.id <= last) write(res, "journal", e, e.id);
      for (const l of appTail) write(res, "app", l);
      clients.add(res);
      req.on("close", () => clients.delete(res));
    },
  };
}
