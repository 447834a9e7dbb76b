/**
 * The dashboard server: plain node:http, a JSON API over the store, server-sent events for live
 * updates, and static files served as-is from src/ui/static (resolved from this module: both
 * src/ui/server.ts and the compiled dist/ui/server.js reach ../../src/ui/static, so `make build`
 * copies nothing).
 *
 * Every route needs the token (auth.ts). Cores: GET /api/crashes/:id/core serves core.zst, but not
 * with --redact (a core cannot be redacted: 403); no endpoint ever serves a binary.
 */
import { closeSync, createReadStream, fstatSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { isHotdumpError } from "../errors.js";
import { type ReportFormat, renderReport } from "../report/index.js";
import {
  bundleFile,
  isCrashId,
  openBundle,
  openStoreFile,
  type StoreLayout,
  storeLayout,
} from "../store/index.js";
import type { Logger } from "../util/log.js";
import {
  checkToken,
  generateToken,
  hostHeaderName,
  isLoopbackHost,
  isValidToken,
  tokenCookie,
} from "./auth.js";
import { crashDetail, createJournalReader, overview, readReport, type UiEvent } from "./data.js";
import { uiBadToken, uiListenFailed, uiStaticMissing } from "./errors.js";
import {
  CORE_URL_SECONDS,
  type FleetView,
  fleetCrashDetail,
  fleetOverview,
  parseFleetRef,
} from "./fleetView.js";
import { createLiveFeed } from "./live.js";

export const DEFAULT_PORT = 7070;
export const STATIC_DIR = fileURLToPath(new URL("../../src/ui/static/", import.meta.url));

export interface UiServerOptions {
  storeDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 7070, falling back to a free port when busy; an explicit port (strictPort) never falls back. */
  port?: number;
  strictPort?: boolean;
  /** Asked on every request, loopback too; generated (192 bits) when absent. */
  token?: string;
  /** --redact: reports are redacted, so cores and binaries (which cannot be) are never served. */
  redact?: boolean;
  logger?: Logger;
  /** Journal poll period (ms). */
  pollMs?: number;
  /** `hotdump ui --fleet`: overview and crash pages over every host's crashes (src/ui/fleetView.ts). */
  fleet?: FleetView;
}

export interface UiServer {
  /** The address to open; carries ?token=. */
  url: string;
  /** The bare origin, without the token. */
  origin: string;
  host: string;
  port: number;
  token: string;
  /** True when the token was generated here (print it once). */
  tokenGenerated: boolean;
  /** Poll the store now (an embedding supervisor just wrote something). */
  notify(): void;
  /** The live log: a line of the running service's output (dev/run --ui call this). */
  appLine(generation: number, stream: "stdout" | "stderr", text: string): void;
  /** Pages connected to the live feed now. */
  liveClients(): number;
  close(): Promise<void>;
}

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** `/` and every front-end file as `/static/NAME`: the modules app.js imports, style, favicon. */
function staticRoutes(): Record<string, { file: string; type: string }> {
  const routes: Record<string, { file: string; type: string }> = {
    "/": { file: "index.html", type: "text/html; charset=utf-8" },
  };
  let names: string[];
  try {
    names = readdirSync(STATIC_DIR);
  } catch (cause) {
    throw uiStaticMissing(STATIC_DIR, cause);
  }
  for (const file of names) {
    const type = TYPES[extname(file)];
    if (type) routes[`/static/${file}`] = { file, type };
  }
  return routes;
}

const DOWNLOADS: Record<string, { format: ReportFormat; type: string }> = {
  "report.json": { format: "json", type: "application/json; charset=utf-8" },
  "report.md": { format: "md", type: "text/markdown; charset=utf-8" },
  "report.html": { format: "html", type: "text/html; charset=utf-8" },
};

function loadStatic(routes: Record<string, { file: string; type: string }>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  try {
    for (const { file } of Object.values(routes)) out.set(file, readFileSync(`${STATIC_DIR}${file}`));
  } catch (cause) {
    throw uiStaticMissing(STATIC_DIR, cause);
  }
  return out;
}

function baseHeaders(res: ServerResponse, type: string): void {
  res.setHeader("Content-Type", type);
  res.setHeader("Content-Security-Policy", CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Cache-Control", "no-store");
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  baseHeaders(res, type);
  res.statusCode = status;
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, "application/json; charset=utf-8", `${JSON.stringify(value)}\n`);

const sendError = (res: ServerResponse, status: number, code: string, message: string) =>
  sendJson(res, status, { error: { code, message } });

const formatOrigin = (host: string, port: number) =>
  `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      server.off("listening", onListening);
      reject(e);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

export async function createUiServer(opts: UiServerOptions): Promise<UiServer> {
  const host = opts.host ?? "127.0.0.1";
  if (opts.token !== undefined && !isValidToken(opts.token)) throw uiBadToken();
  const tokenGenerated = opts.token === undefined;
  const token = opts.token ?? generateToken();
  const layout: StoreLayout = storeLayout(opts.storeDir);
  const statics = staticRoutes();
  const reader = createJournalReader(layout);
  const feed = createLiveFeed({
    layout,
    reader,
    pollMs: opts.pollMs ?? 250,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  const site: Site = {
    opts,
    token,
    loopback: isLoopbackHost(host),
    layout,
    statics,
    files: loadStatic(statics),
    reader,
    feed,
  };
  const server = createServer((req, res) => handleRequest(site, req, res));
  server.keepAliveTimeout = 5000;
  const port = await listenOrFree(server, host, opts);
  feed.start();
  const origin = formatOrigin(host, port);
  let closed: Promise<void> | null = null;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    host,
    port,
    token,
    tokenGenerated,
    notify: () => feed.poll(),
    liveClients: () => feed.clientCount(),
    appLine: (generation, stream, text) =>
      feed.appLine({ generation, stream, text, ts: new Date().toISOString() }),
    close() {
      closed ??= new Promise<void>((resolve) => {
        feed.stop();
        reader.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** What every request is served from. */
interface Site {
  opts: UiServerOptions;
  token: string;
  /** Bound to a loopback address: only a loopback Host header is answered (DNS rebinding). */
  loopback: boolean;
  layout: StoreLayout;
  statics: Record<string, { file: string; type: string }>;
  files: Map<string, Buffer>;
  reader: ReturnType<typeof createJournalReader>;
  feed: ReturnType<typeof createLiveFeed>;
}

function handleRequest(site: Site, req: IncomingMessage, res: ServerResponse) {
  const { opts } = site;
  let url: URL;
  try {
    url = new URL(req.url ?? "/", "http://ui.invalid");
  } catch {
    return sendError(res, 400, "E_BAD_URL", "bad request URL");
  }
  if (!admit(site, req, res, url)) return;
  const fleetDone = opts.fleet ? routeFleet(opts.fleet, req, res, site.token !== null) : null;
  if (fleetDone) {
    fleetDone.catch((e) => {
      opts.logger?.warn(`ui: ${req.method} ${url.pathname}: ${(e as Error).message}`);
      if (!res.headersSent)
        sendError(
          res,
          502,
          "E_UI_FLEET",
          (e as { shortMessage?: string }).shortMessage ?? "the fleet cannot be read",
        );
    });
    return;
  }
  try {
    route(site, req, res, url);
  } catch (e) {
    if (isHotdumpError(e) && e.code === "E_BAD_CRASH_ID") return sendError(res, 400, e.code, e.shortMessage);
    if (isHotdumpError(e) && e.code === "E_CRASH_NOT_FOUND")
      return sendError(res, 404, e.code, e.shortMessage);
    if (isHotdumpError(e) && e.code === "E_STORE_LINK") return sendError(res, 403, e.code, e.shortMessage);
    opts.logger?.warn(`ui: ${req.method} ${url.pathname}: ${(e as Error).message}`);
    if (!res.headersSent)
      sendError(
        res,
        500,
        isHotdumpError(e) ? e.code : "E_UI_INTERNAL",
        isHotdumpError(e) ? e.shortMessage : "internal error",
      );
  }
}

/** The Host header, the method and the token: false once the request was answered (refused,
 * or redirected to drop the token from the address). */
function admit(site: Site, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const { token } = site;
  if (site.loopback) {
    const name = hostHeaderName(req.headers.host);
    if (!name || !isLoopbackHost(name)) {
      sendError(res, 421, "E_UI_HOST", "this dashboard answers only to a loopback Host");
      return false;
    }
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendError(res, 405, "E_UI_METHOD", "the dashboard is read-only: GET only");
    return false;
  }
  const auth = checkToken(req, url, token);
  if (!auth.ok) {
    if (url.pathname.startsWith("/api/"))
      sendError(res, 401, "E_UI_TOKEN", "a token is required: open the URL hotdump ui printed");
    else
      send(
        res,
        401,
        "text/plain; charset=utf-8",
        "hotdump ui: a token is required. Open the URL `hotdump ui` printed (it ends with ?token=...).\n",
      );
    return false;
  }
  if (auth.viaQuery) {
    res.setHeader("Set-Cookie", tokenCookie(token));
    if (!url.pathname.startsWith("/api/")) {
      // Drop the token from the address bar (and from history) once the cookie holds it.
      url.searchParams.delete("token");
      res.setHeader("Location", `${url.pathname}${url.search}`);
      send(res, 303, "text/plain; charset=utf-8", "");
      return false;
    }
  }
  return true;
}

/** This store's pages, API and downloads. */
function route(site: Site, req: IncomingMessage, res: ServerResponse, url: URL) {
  const { opts, layout, reader, feed, statics, files } = site;
  // Route on the raw path: WHATWG URL parsing resolves `%2e%2e` and `..` segments, which would
  // hide a traversal attempt instead of rejecting it as a bad id.
  const p = (req.url ?? "/").split("?")[0]!;
  const st = Object.hasOwn(statics, p) ? statics[p] : undefined;
  if (st) return send(res, 200, st.type, files.get(st.file)!);
  if (p === "/api/overview") {
    // Signatures read each first generation's build info (vcs.revision) from its binary: async.
    void overview(layout, reader.get(), feed.lastId()).then(
      (o) => sendJson(res, 200, o),
      (e: Error) => {
        opts.logger?.warn(`ui: ${req.method} ${url.pathname}: ${e.message}`);
        if (!res.headersSent) sendError(res, 500, "E_UI_INTERNAL", "internal error");
      },
    );
    return;
  }
  if (p === "/api/events")
    return feed.subscribe(req, res, Number(url.searchParams.get("since") ?? 0) || 0, baseHeaders);
  const m = /^\/api\/crashes\/([^/]+)(?:\/([^/]+))?$/.exec(p);
  if (!m) return sendError(res, 404, "E_UI_NOT_FOUND", "no such page");
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    return sendError(res, 400, "E_BAD_CRASH_ID", "not a crash id");
  }
  if (!isCrashId(id))
    return sendError(res, 400, "E_BAD_CRASH_ID", "not a crash id (ids look like 20261129-123456-3fa2)");
  const what = m[2];
  if (what === undefined) return sendJson(res, 200, crashDetail(layout, id, !opts.redact, reader.get()));
  const dl = DOWNLOADS[what];
  if (dl) {
    const { report, error } = readReport(openBundle(layout, id));
    if (!report) return sendError(res, 404, "E_UI_NO_REPORT", error ?? "no report");
    res.setHeader("Content-Disposition", `attachment; filename="hotdump-${id}.${what.slice(7)}"`);
    return send(res, 200, dl.type, renderReport(report, dl.format));
  }
  if (what === "core") return serveCore(site, req, res, id);
  return sendError(res, 404, "E_UI_NOT_FOUND", "no such page");
}

/** A crash's core.zst (never with --redact: a core cannot be redacted). */
function serveCore(site: Site, req: IncomingMessage, res: ServerResponse, id: string) {
  if (site.opts.redact)
    return sendError(
      res,
      403,
      "E_UI_REDACTED",
      "this dashboard runs with --redact: a core holds every secret of the process and cannot be redacted, so it is not served (use hotdump debug ID here)",
    );
  const bundle = openBundle(site.layout, id);
  const stored = bundle.meta.core.stored;
  if (!stored) return sendError(res, 404, "E_UI_NO_CORE", "this crash has no stored core");
  // O_NOFOLLOW: a symlink planted as core.zst is refused (E_STORE_LINK), never served.
  const fd = openStoreFile(bundleFile(bundle, stored));
  baseHeaders(res, "application/octet-stream");
  res.setHeader("Content-Length", String(fstatSync(fd).size));
  res.setHeader("Content-Disposition", `attachment; filename="${id}-${stored}"`);
  if (req.method === "HEAD") {
    closeSync(fd);
    return res.end();
  }
  createReadStream("", { fd }).pipe(res);
}

/** The fleet's overview and crash routes; null for every other path (statics, live events). */
function routeFleet(
  view: FleetView,
  req: IncomingMessage,
  res: ServerResponse,
  withToken: boolean,
): Promise<void> | null {
  const p = (req.url ?? "/").split("?")[0]!;
  if (p === "/api/overview") return fleetOverview(view).then((o) => sendJson(res, 200, o));
  const m = /^\/api\/crashes\/([^/]+)(?:\/([^/]+))?$/.exec(p);
  if (!m) return null;
  const ref = parseFleetRef(m[1]!);
  if (!ref) return Promise.resolve(sendError(res, 400, "E_BAD_CRASH_ID", "not a fleet crash (HOST~ID)"));
  const what = m[2];
  return (async () => {
    if (what === "core") {
      if (!withToken)
        return sendError(
          res,
          403,
          "E_UI_NO_CORES",
          "cores are served only when hotdump ui runs with --token; use hotdump fleet pull here",
        );
      const location = await view.coreUrl(ref.host, ref.id, CORE_URL_SECONDS);
      if (!location) return sendError(res, 404, "E_UI_NO_CORE", "this crash has no stored core");
      res.setHeader("Location", location);
      return send(res, 302, "text/plain; charset=utf-8", "");
    }
    const d = await fleetCrashDetail(view, ref, withToken);
    if (!d)
      return sendError(res, 404, "E_CRASH_NOT_FOUND", `no crash ${ref.id} of host ${ref.host} in the fleet`);
    if (what === undefined) return sendJson(res, 200, d);
    const dl = DOWNLOADS[what];
    if (!dl) return sendError(res, 404, "E_UI_NOT_FOUND", "no such page");
    if (!d.report) return sendError(res, 404, "E_UI_NO_REPORT", d.reportError ?? "no report");
    res.setHeader(
      "Content-Disposition",
      `attachment; filename="hotdump-${ref.host}-${ref.id}.${what.slice(7)}"`,
    );
    return send(res, 200, dl.type, renderReport(d.report, dl.format));
  })();
}

/** The port asked for; a busy default falls back to a free one (an explicit --port never does). */
async function listenOrFree(server: Server, host: string, opts: UiServerOptions): Promise<number> {
  const wanted = opts.port ?? DEFAULT_PORT;
  try {
    return await listen(server, host, wanted);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || opts.strictPort || wanted === 0)
      throw uiListenFailed(host, wanted, e);
    opts.logger?.debug(`ui: port ${wanted} is busy, taking a free one`);
    try {
      return await listen(server, host, 0);
    } catch (e2) {
      throw uiListenFailed(host, 0, e2);
    }
  }
}

export type { UiEvent };
