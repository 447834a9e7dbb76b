/**
 * `--metrics ADDR` on dev and run: a Prometheus endpoint (prom-client) counting what the supervisor
 * does, read from its event sink (events.ts) only, so the supervisor knows nothing of it:
 * generations started, switches, rollbacks, crashes by kind, and the fleet upload backlog.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Registry } from "prom-client";
import { checkListen } from "../config/index.js";
import { HotdumpError } from "../errors.js";
import type { Journal } from "../store/index.js";
import type { Logger } from "../util/log.js";
import type { EventSink } from "./events.js";

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function startMetrics(
  addr: string | undefined,
  o: { sink: EventSink; journal: Journal; logger: Logger; backlog?: (() => number) | null },
): Promise<MetricsServer | null> {
  if (!addr) return null;
  const bad = checkListen(addr);
  if (bad) throw new HotdumpError("usage", "E_METRICS_ADDR", `--metrics: ${bad}`);
  const registry = new Registry();
  const generations = new Counter({
    name: "hotdump_generations_started_total",
    help: "Generations started (restarts of a generation not counted)",
    registers: [registry],
  });
  const restarts = new Counter({
    name: "hotdump_restarts_total",
    help: "Restarts of a generation after it crashed or exited",
    registers: [registry],
  });
  const switches = new Counter({
    name: "hotdump_switches_total",
    help: "Switches to a new healthy generation",
    registers: [registry],
  });
  const rollbacks = new Counter({
    name: "hotdump_rollbacks_total",
    help: "Generations rolled back (not ready in time, or crashed while starting)",
    registers: [registry],
  });
  const crashes = new Counter({
    name: "hotdump_crashes_total",
    help: "Crashes captured, by kind (panic, fatal, signal, ...)",
    labelNames: ["kind"],
    registers: [registry],
  });
  const serving = new Gauge({
    name: "hotdump_serving_generation",
    help: "The generation serving now",
    registers: [registry],
  });
  new Gauge({
    name: "hotdump_upload_backlog",
    help: "Crashes queued for the fleet and not delivered yet (0 without a fleet)",
    registers: [registry],
    collect() {
      this.set(o.backlog?.() ?? 0);
    },
  });
  let servingSet = false;
  o.sink.on((e) => {
    switch (e.event) {
      case "started":
        if (e.restart) restarts.inc();
        else generations.inc();
        break;
      case "switch":
        switches.inc();
        if (typeof e.generation === "number") serving.set(e.generation);
        servingSet = true;
        break;
      case "ready":
        // The first generation serves without a switch.
        if (typeof e.generation === "number" && !servingSet) serving.set(e.generation);
        servingSet = true;
        break;
      case "rollback":
        rollbacks.inc();
        break;
      case "crash": {
        // The crash is in the journal by the time its event is emitted (capture records it first).
        const row = e.crashId ? o.journal.crashes().find((c) => c.id === e.crashId) : undefined;
        crashes.inc({ kind: row?.kind ?? "unknown" });
        break;
      }
    }
  });
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.statusCode = 404;
      res.end("only GET /metrics here\n");
      return;
    }
    registry
      .metrics()
      .then((text) => {
        res.setHeader("Content-Type", registry.contentType);
        res.end(text);
      })
      .catch((e: Error) => {
        res.statusCode = 500;
        res.end(`${e.message}\n`);
      });
  });
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(addr)!;
  const host = (m[1] || "127.0.0.1").replace(/^\[|\]$/g, "");
  await new Promise<void>((ok, fail) => {
    server.once("error", (e) =>
      fail(new HotdumpError("supervise", "E_METRICS_LISTEN", `--metrics ${addr}: ${(e as Error).message}`)),
    );
    server.listen(Number(m[2]), host, () => ok());
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/metrics`;
  o.logger.info(`metrics: ${url}`);
  return { url, close: () => new Promise((r) => server.close(() => r())) };
}
