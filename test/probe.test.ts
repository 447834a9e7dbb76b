/**
 * Readiness probes against real processes: the sockserve Go fixture on a {port} from freePort(),
 * started slow (-delay), dying early (-exit-after) or turning unhealthy (-healthy N).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  expandPort,
  freePort,
  type ProbeTiming,
  parseProbeSpec,
  probeTimingDefaults,
  type ReadyResult,
  waitReady,
} from "../src/supervise/probe.js";
import { type Child, startChild } from "../src/util/child.js";
import { buildGoFixture } from "./helpers/go.js";

let sockserve: string;
beforeAll(() => {
  sockserve = buildGoFixture("sockserve", { debug: false });
});

const children: Child[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop({ graceMs: 1000 })));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Start sockserve on a fresh port with `args` ({port} expanded) and wait with `spec`. */
async function probe(
  spec: string,
  args: string[],
  opts: { timing?: Partial<ProbeTiming>; readyTimeoutMs?: number; abort?: AbortSignal } = {},
): Promise<{ r: ReadyResult; child: Child; port: number }> {
  const port = await freePort();
  const listeners = new Set<(l: string) => void>();
  let partial = "";
  const onOut = (c: Buffer) => {
    partial += c.toString();
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) for (const fn of listeners) fn(l);
  };
  const child = startChild(
    sockserve,
    ["-addr", `127.0.0.1:${port}`, ...args.map((a) => expandPort(a, port))],
    { onStdout: onOut, onStderr: onOut },
  );
  children.push(child);
  const r = await waitReady({
    spec: parseProbeSpec(spec),
    timing: { ...probeTimingDefaults("dev"), ...opts.timing },
    port,
    onOutputLine: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    exited: child.stopped,
    readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
    ...(opts.abort ? { abort: opts.abort } : {}),
  });
  return { r, child, port };
}

describe("waitReady on real processes", () => {
  it("http: ready only once the server answers, after successThreshold passes", async () => {
    const { r, port } = await probe("http://127.0.0.1:{port}/healthz", ["-delay", "300ms"], {
      timing: { successThreshold: 3, periodSeconds: 0.05 },
    });
    expect(r.ready).toBe(true);
    if (r.ready) {
      expect(r.ms).toBeGreaterThanOrEqual(300 + 2 * 50 - 20);
      expect(r.ms).toBeLessThan(3000);
    }
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
  });

  it("http: a pass followed by failureThreshold failures is 'failed'", async () => {
    const { r } = await probe("http://127.0.0.1:{port}/healthz", ["-healthy", "1"], {
      timing: { successThreshold: 3, failureThreshold: 2, periodSeconds: 0.05 },
    });
    expect(r).toMatchObject({ ready: false, reason: "failed" });
    if (!r.ready)
      expect(r.detail).toMatch(/2 probe failures in a row after a pass \(last: GET .*status 500\)/);
  });

  it("tcp: ready when a connect succeeds", async () => {
    const { r } = await probe("tcp:127.0.0.1:{port}", ["-delay", "200ms"]);
    expect(r.ready).toBe(true);
    if (r.ready) expect(r.ms).toBeGreaterThanOrEqual(180);
  });

  it("log: ready on the first matching output line", async () => {
    const { r } = await probe("log:^listening on 127\\.0\\.0\\.1:\\d+ \\(own\\)", ["-delay", "200ms"]);
    expect(r.ready).toBe(true);
    if (r.ready) expect(r.ms).toBeGreaterThanOrEqual(180);
  });

  it("exec: ready when the command exits 0 ({port} expanded, PORT set)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-probe-"));
    dirs.push(dir);
    const flag = join(dir, "up-{port}");
    const { r, port } = await probe(`exec:test -e ${flag} && test "$PORT" = {port}`, [
      "-delay",
      "200ms",
      "-touch",
      flag,
    ]);
    expect(r.ready).toBe(true);
    expect(port).toBeGreaterThan(0);
  });

  it("exec: a command that hangs counts as a failure after timeoutSeconds, and the wait still times out", async () => {
    const t0 = Date.now();
    const { r } = await probe("exec:sleep 30", [], { timing: { timeoutSeconds: 0.2 }, readyTimeoutMs: 700 });
    expect(r).toMatchObject({ ready: false, reason: "timeout" });
    if (!r.ready) expect(r.detail).toMatch(/no result within 200 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("alive: ready after the duration if still running", async () => {
    const { r } = await probe("alive:300ms", []);
    expect(r.ready).toBe(true);
    if (r.ready) expect(r.ms).toBeGreaterThanOrEqual(290);
  });

  it("alive: a process that exits first is 'exited'", async () => {
    const { r, child } = await probe("alive:2s", ["-exit-after", "100ms"]);
    expect(r).toMatchObject({ ready: false, reason: "exited" });
    expect((await child.stopped).exitCode).toBe(3);
  });

  it("http: exit before ready is reported at once, not at the timeout", async () => {
    const t0 = Date.now();
    const { r } = await probe("http://127.0.0.1:{port}/healthz", ["-delay", "5s", "-exit-after", "150ms"], {
      readyTimeoutMs: 8000,
    });
    expect(r).toMatchObject({ ready: false, reason: "exited" });
    if (!r.ready) expect(r.detail).toMatch(/ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("times out on a server that never comes up", async () => {
    const t0 = Date.now();
    const { r } = await probe("http://127.0.0.1:{port}/healthz", ["-delay", "30s"], { readyTimeoutMs: 500 });
    expect(r).toMatchObject({ ready: false, reason: "timeout" });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(480);
    expect(took).toBeLessThan(5000);
  });

  it("stops waiting when aborted", async () => {
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 200);
    const { r } = await probe("tcp:127.0.0.1:{port}", ["-delay", "30s"], { abort: ctl.signal });
    expect(r).toMatchObject({ ready: false, reason: "aborted" });
  });
});
