// A bounded HTTP load on loopback, in a worker thread so that its latencies are not skewed by the
// bench's own event loop (spawning `hotdump reload`, polling). `concurrency` loops each send GET /
// without keep-alive (every request a new connection, so a closed listener shows as a failure),
// pausing `pauseMs` between requests. It stops when told, after `maxRequests`, or after `maxMs`,
// whichever comes first. Every request is recorded: wall-clock start (ms since the epoch),
// latency, and whether it failed and how.
import { request } from "node:http";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const now = () => performance.timeOrigin + performance.now();

/** `target`: a port on 127.0.0.1, or { socketPath } for a UNIX socket. */
function once(target, timeoutMs) {
  const where =
    typeof target === "number" ? { host: "127.0.0.1", port: target } : { socketPath: target.socketPath };
  return new Promise((resolve) => {
    const req = request({ ...where, path: "/", agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve(res.statusCode === 200 ? { body } : { error: `HTTP ${res.statusCode}` }));
      res.on("error", (e) => resolve({ error: e.code ?? e.message }));
    });
    req.on("error", (e) => resolve({ error: e.code ?? e.message }));
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.end();
  });
}

async function worker({ port, concurrency, pauseMs, maxRequests, maxMs, timeoutMs }) {
  let stopped = false;
  parentPort.on("message", (m) => {
    if (m === "stop") stopped = true;
  });
  const starts = [];
  const lat = [];
  const failed = [];
  const errors = {};
  const bodies = {};
  const deadline = now() + maxMs;
  const loop = async () => {
    while (!stopped && starts.length < maxRequests && now() < deadline) {
      const t = now();
      const r = await once(port, timeoutMs);
      starts.push(t);
      lat.push(now() - t);
      failed.push(r.error ? 1 : 0);
      if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
      else {
        const v = r.body.split(" ")[0];
        bodies[v] = (bodies[v] ?? 0) + 1;
      }
      if (pauseMs) await new Promise((res) => setTimeout(res, pauseMs));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const s = Float64Array.from(starts);
  const l = Float64Array.from(lat);
  const f = Uint8Array.from(failed);
  parentPort.postMessage({ starts: s, lat: l, failed: f, errors, bodies }, [s.buffer, l.buffer, f.buffer]);
}

if (!isMainThread && workerData?.load) await worker(workerData);

/** Start the load; `stop()` resolves with the records. */
export function startLoad(
  port,
  { concurrency = 4, pauseMs = 2, maxRequests = 2_000_000, maxMs = 15 * 60_000, timeoutMs = 5000 } = {},
) {
  const w = new Worker(new URL(import.meta.url), {
    workerData: { load: true, port, concurrency, pauseMs, maxRequests, maxMs, timeoutMs },
  });
  const result = new Promise((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
  });
  return {
    async stop() {
      w.postMessage("stop");
      const r = await result;
      await w.terminate();
      return r;
    },
  };
}
