/** Plain GETs on loopback for tests, one at a time or as a bounded load. */
import { get, request } from "node:http";
import { withinTest } from "./testLimit.js";

/** A TCP port on 127.0.0.1, or a UNIX socket. */
export type Target = number | { port: number } | { socketPath: string };

/** The body of a 200, else a rejection (status, error, timeout); a fresh connection each time. */
export function httpGet(t: Target, path = "/", timeoutMs = 5000): Promise<string> {
  const where =
    typeof t === "number"
      ? { host: "127.0.0.1", port: t }
      : "port" in t
        ? { host: "127.0.0.1", port: t.port }
        : t;
  return new Promise((resolve, reject) => {
    const limit = withinTest(timeoutMs);
    const req = request({ ...where, path, agent: false, timeout: limit }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`)),
      );
      // A response cut short (the server died mid-body) never ends: say so instead of waiting.
      res.on("error", reject);
      res.on("close", () => {
        if (!res.complete) reject(new Error(`response cut short after ${JSON.stringify(body)}`));
      });
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    // The socket's idle timeout does not cover a body that trickles: a limit for the whole exchange.
    const whole = setTimeout(() => req.destroy(new Error(`no complete answer in ${limit} ms`)), limit);
    req.on("close", () => clearTimeout(whole));
    req.end();
  });
}

export interface LoadStats {
  ok: number;
  failed: number;
  errors: string[];
  /** What the service answered, up to " pid" (its version, not which process). */
  bodies: Set<string>;
}

/**
 * `clients` loops of GET / until stopped: at most `max` requests in all and 120 s, `pauseMs`
 * between one loop's requests, each request given `timeoutMs`.
 */
export function startLoad(
  t: Target,
  { clients = 1, max = Number.POSITIVE_INFINITY, pauseMs = 5, timeoutMs = 5000 } = {},
) {
  let stopped = false;
  const stats: LoadStats = { ok: 0, failed: 0, errors: [], bodies: new Set() };
  const deadline = Date.now() + 120_000;
  const loops = Array.from({ length: clients }, async () => {
    while (!stopped && stats.ok + stats.failed < max && Date.now() < deadline) {
      try {
        stats.bodies.add((await httpGet(t, "/", timeoutMs)).split(" pid")[0]!);
        stats.ok++;
      } catch (e) {
        stats.failed++;
        stats.errors.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    stats,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return stats;
    },
  };
}

/** The body of a GET on a full URL, whatever its status. */
export function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}
