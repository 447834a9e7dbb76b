/**
 * `hotdump run` with fleet settings and --metrics, against a real versitygw + PostgreSQL from
 * `hotdump fleet up`: a real crash is delivered in the background while the service keeps
 * serving, and the Prometheus endpoint counts generations, restarts, crashes by kind and the
 * upload backlog.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { FleetCrash } from "../src/fleet/catalog.js";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { useFleet } from "./helpers/fleet.js";
import { buildGoFixture } from "./helpers/go.js";
import { fetchText, httpGet } from "./helpers/http.js";
import { runArgs, useScratch } from "./helpers/scratch.js";

const fleet = useFleet("hotdump-fleetrun-");
const scratch = useScratch("hotdump-fleetrun-t-");

beforeAll(async () => {
  await fleet.up();
});

/** `pred` polled every `everyMs` until true or `ms` passed; never a bare sleep. */
async function until<T>(
  what: string,
  ms: number,
  everyMs: number,
  probe: () => Promise<T | null>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

describe("run with a fleet and --metrics", () => {
  it("delivers a crash in the background and counts it on /metrics", async () => {
    const cwd = scratch.dir();
    const store = join(cwd, ".hotdump");
    const port = await freePort();
    const metricsPort = await freePort();
    const sup = scratch.start(
      runArgs(
        store,
        `127.0.0.1:${port}`,
        ["--metrics", `127.0.0.1:${metricsPort}`],
        [buildGoFixture("crashsvc")],
      ),
      { cwd, env: { ...fleet.env, HOTDUMP_HOST: "runner" } },
    );
    const first = await sup.waitFor((e) => e.event === "ready", 30_000, "generation ready");
    expect(await httpGet(port, "/crash")).toMatch(/crashing/);
    await sup.waitFor((e) => e.event === "ready" && e.pid !== first.pid, 30_000, "restart");
    const crash = await sup.waitFor((e) => e.event === "crash", 60_000, "crash captured");

    const delivered = await until("the crash in the fleet", 60_000, 500, async () => {
      const r = await runCli(["fleet", "crashes", "--host", "runner", "--json"], { env: fleet.env });
      const list = r.code === 0 ? (JSON.parse(r.stdout) as FleetCrash[]) : [];
      return list.find((c) => c.id === crash.crashId) ?? null;
    });
    expect(delivered.culprit).toMatch(/^main\.settle /);
    expect(await httpGet(port)).toContain("up pid"); // it kept serving

    const metrics = await fetchText(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics).toMatch(/^hotdump_generations_started_total 1$/m);
    expect(metrics).toMatch(/^hotdump_restarts_total [1-9]\d*$/m);
    expect(metrics).toMatch(new RegExp(`^hotdump_crashes_total\\{kind="${delivered.kind}"\\} 1$`, "m"));
    expect(metrics).toMatch(/^hotdump_rollbacks_total 0$/m);
    const backlog = await until("an empty backlog", 30_000, 500, async () => {
      const m = /^hotdump_upload_backlog (\d+)$/m.exec(
        await fetchText(`http://127.0.0.1:${metricsPort}/metrics`),
      );
      return m && m[1] === "0" ? m[1] : null;
    });
    expect(backlog).toBe("0");
    expect(await sup.stop("SIGTERM")).toBe(0);
  }, 180_000);
});
