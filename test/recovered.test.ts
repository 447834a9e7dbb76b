/**
 * Recovered panics are records (issue 18, point 2): real services built on net/http, chi, gin,
 * echo and grpc-go with go-grpc-middleware's recovery interceptor (from the module proxy) panic in
 * a handler under `hotdump run --listen` and `hotdump dev`; each panic becomes a bundle without
 * core (kind `recovered`), in `crashes`, `history` and reports in every format, while the service
 * keeps serving; a storm of the same panic is one bundle and a count.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture, buildRecoveredFixture } from "./helpers/go.js";
import { httpGet } from "./helpers/http.js";
import { runArgs, useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-recovered-");

const FORMS = [
  { svc: "httpsvc", by: "net/http", fn: "main.checkout", message: "checkout: empty cart for A-1" },
  { svc: "chisvc", by: "chi", fn: "main.reserve", message: "reserve: order has no lines for A-1" },
  { svc: "ginsvc", by: "gin", fn: "main.total", message: "total: no prices for A-1" },
  { svc: "echosvc", by: "echo", fn: "main.taxFor", message: "taxFor: no tax table for A-1" },
  {
    svc: "grpcsvc",
    by: "grpc",
    fn: "main.probeDependency",
    message: "probeDependency: no dependency table for A-1",
  },
] as const;

const bins: Record<string, string> = {};

/** GET that settles either way: the panicking request answers 500 (or net/http drops it). */
const hit = (port: number, path: string) =>
  httpGet(port, path).then(
    () => "ok",
    (e: Error) => e.message,
  );

const json = async <T>(args: string[], cwd: string): Promise<T> => {
  const r = await runCli(args, { cwd });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};

interface Listed {
  id: string;
  kind: string;
  generation: number | null;
  message: string;
  culprit: string | null;
  count: number;
  fingerprint: string | null;
}

describe("recovered panics under hotdump run", () => {
  beforeAll(() => {
    // Five services sharing one module (chi, gin, echo, grpc-go): the first build downloads and
    // compiles the dependencies, about 2 minutes on a busy 2-vCPU machine.
    for (const f of FORMS) bins[f.svc] = buildRecoveredFixture(f.svc);
  }, 600_000);

  for (const f of FORMS)
    it(`${f.by}: the panic is a bundle without core, in crashes, history and every report; the service keeps serving`, async () => {
      const { cwd, store } = scratch.project();
      const port = await freePort();
      const sup = scratch.start(runArgs(store, `127.0.0.1:${port}`, [], [bins[f.svc]!]), {
        cwd,
      });
      await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 60_000, "generation 1 ready");
      expect(await hit(port, "/boom?sku=A-1")).not.toBe("ok");
      const ev = await sup.waitFor((e) => e.event === "recovered-panic", 30_000, "recovered-panic");
      expect(ev.by).toBe(f.by);
      expect(ev.generation).toBe(1);
      const id = ev.crashId as string;
      expect(id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
      // It kept serving: same generation, no crash, no restart.
      expect(await httpGet(port, "/ok")).toMatch(/^ok\n?$/);
      expect(sup.events.filter((e) => e.event === "crash" || e.event === "started")).toHaveLength(1);

      const list = await json<Listed[]>(["crashes", "--json", "--store", store, "--all"], cwd);
      const row = list.find((c) => c.id === id);
      expect(row).toMatchObject({ kind: "recovered", generation: 1, message: f.message, count: 1 });
      expect(row?.culprit).toMatch(new RegExp(`^${f.fn.replace(".", "\\.")} .*main\\.go:\\d+$`));
      expect(row?.fingerprint).toBeTruthy();
      const hist = await json<{ generation: number; crashIds: string[] }[]>(
        ["history", "--json", "--store", store],
        cwd,
      );
      expect(hist[0]?.crashIds).toContain(id);

      const report = await json<{
        kind: string;
        culprit: { function: string } | null;
        core: unknown;
        recovered: { by: string };
        goroutine: { frames: { function: string; class: string }[] };
        fingerprint?: string;
      }>(["report", id, "--format", "json", "--store", store], cwd);
      expect(report.kind).toBe("recovered");
      expect(report.recovered.by).toBe(f.by);
      expect(report.culprit?.function).toBe(f.fn);
      expect(report.goroutine.frames[0]).toMatchObject({ function: f.fn, class: "user" });
      expect(report.fingerprint).toBe(row?.fingerprint);
      const meta = JSON.parse(readFileSync(join(store, "crashes", id, "meta.json"), "utf8"));
      expect(meta).toMatchObject({ kind: "recovered", outcome: "recovered", recoveredBy: f.by });
      expect(meta.core.found).toBe(false);
      for (const format of ["text", "md", "html"]) {
        const r = await runCli(["report", id, "--format", format, "--store", store], { cwd });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(f.message);
        expect(r.stdout).toMatch(/recovered/i);
      }
    }, 180_000);

  it("a storm of the same panic is one bundle, its count and last-seen updated", async () => {
    const { cwd, store } = scratch.project();
    const port = await freePort();
    const sup = scratch.start(runArgs(store, `127.0.0.1:${port}`, [], [bins.ginsvc!]), {
      cwd,
    });
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 60_000, "generation 1 ready");
    const N = 300;
    for (let i = 0; i < N; i += 10)
      await Promise.all(Array.from({ length: 10 }, () => hit(port, `/boom?sku=A-${i}`)));
    // A second kind of request that does not panic, and the service still answers.
    expect(await httpGet(port, "/ok")).toMatch(/^ok\n?$/);
    await sup.waitFor((e) => e.event === "recovered-panic", 30_000, "recovered-panic");
    // SIGTERM: the supervisor writes the last count before it exits.
    expect(await sup.stop("SIGTERM")).toBe(0);
    expect(sup.events.filter((e) => e.event === "recovered-panic")).toHaveLength(1);
    const list = await json<(Listed & { lastSeen: string; time: string })[]>(
      ["crashes", "--json", "--store", store, "--all"],
      cwd,
    );
    const recovered = list.filter((c) => c.kind === "recovered");
    expect(recovered).toHaveLength(1);
    // The sku differs in every request: numbers are not part of the signature.
    expect(recovered[0]?.count).toBe(N);
    expect(Date.parse(recovered[0]!.lastSeen)).toBeGreaterThan(Date.parse(recovered[0]!.time));
  }, 180_000);
});

describe("recovered panics under hotdump dev", () => {
  it("chi: the generation dev built records its recovered panic", async () => {
    const { cwd, store } = scratch.project();
    const port = await freePort();
    const module = resolve(import.meta.dirname, "fixtures/recovered");
    const sup = scratch.start(
      ["dev", "--json-events", "--store", store, "--listen", `127.0.0.1:${port}`, "-p", "./chisvc"],
      { cwd: module },
    );
    void cwd;
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 300_000, "generation 1 ready");
    expect(await hit(port, "/boom?sku=A-1")).not.toBe("ok");
    const ev = await sup.waitFor((e) => e.event === "recovered-panic", 30_000, "recovered-panic");
    expect(ev).toMatchObject({ by: "chi", generation: 1 });
    expect(await httpGet(port, "/ok")).toMatch(/^ok\n?$/);
    const list = await json<Listed[]>(["crashes", "--json", "--store", store, "--all"], module);
    expect(list.find((c) => c.id === ev.crashId)).toMatchObject({ kind: "recovered", generation: 1 });
  }, 420_000);
});

describe("recovered panics under hotdump exec", () => {
  it("a program that recovers a handler's panic and exits 0 leaves one record of it, counted", async () => {
    const { cwd, store } = scratch.project();
    // tbhttp asks its own panicking handler once; Go's client retries the dropped request once.
    const r = await runCli(["exec", "--json", "--store", store, "--", buildGoFixture("tbhttp"), "once"], {
      cwd,
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.outcome).toBe("exit");
    expect(out.crash).toBeNull();
    expect(out.recovered).toHaveLength(1);
    expect(out.recovered[0]).toMatchObject({ by: "net/http", message: "checkout: empty cart for A-1" });
    const list = await json<Listed[]>(["crashes", "--json", "--store", store], cwd);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      id: out.recovered[0].crashId,
      kind: "recovered",
      generation: null,
      count: 2,
    });
    expect(list[0]?.fingerprint).toBe(out.recovered[0].fingerprint);
    // Analysed again (hotdump analyze --crash): still a recovered panic, same signature.
    const again = await json<{ kind: string; fingerprint: string; culprit: { function: string } }>(
      ["analyze", "--crash", out.recovered[0].crashId, "--format", "json", "--store", store],
      cwd,
    );
    expect(again).toMatchObject({ kind: "recovered", fingerprint: out.recovered[0].fingerprint });
    expect(again.culprit.function).toBe("main.checkout");
  }, 120_000);
});
