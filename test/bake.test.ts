/**
 * Issue 18 on a real service (test/fixtures/hangsvc, go-systemd from the module proxy) under
 * load: a build that passes readiness and crashes on its first real request is rolled back within
 * its bake (held old generation: a steering change; otherwise the last good binary from the
 * store), and is refused until a new binary arrives; a lock deadlock is caught by liveness and by
 * the notify watchdog, captured as a hang with the goroutines that wait. Readiness is go-systemd's
 * READY=1, unchanged.
 */
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type NotifySocket, openNotifySocket } from "../src/supervise/notify.js";
import { freePort } from "../src/supervise/probe.js";
import { buildHangsvc } from "./helpers/go.js";
import { httpGet } from "./helpers/http.js";
import { runArgs } from "./helpers/scratch.js";
import { type Supervised, startSupervised } from "./helpers/supervised.js";

interface Shot {
  start: number;
  end: number;
  body?: string;
  error?: string;
}

/** `clients` loops of GET / (each request timed), until stopped or 60 s. */
function timedLoad(port: number, clients = 4) {
  const shots: Shot[] = [];
  let stopped = false;
  const deadline = performance.now() + 60_000;
  const loops = Array.from({ length: clients }, async () => {
    while (!stopped && performance.now() < deadline) {
      const start = performance.now();
      try {
        const body = await httpGet(port, "/", 5000);
        shots.push({ start, end: performance.now(), body });
      } catch (e) {
        shots.push({ start, end: performance.now(), error: (e as Error).message });
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  return {
    shots,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return shots;
    },
  };
}

describe("bake and roll back (issue 18)", () => {
  let dir: string;
  let sup: Supervised | undefined;
  let load: ReturnType<typeof timedLoad> | undefined;
  afterEach(async () => {
    await load?.stop();
    load = undefined;
    await sup?.stop("SIGTERM");
    sup = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(extra: string[]) {
    dir = mkdtempSync(join(tmpdir(), "hotdump-bake-"));
    const svc = join(dir, "svc");
    const deploy = (version: string) => {
      copyFileSync(buildHangsvc(version), `${svc}.new`);
      renameSync(`${svc}.new`, svc);
    };
    deploy("1");
    const port = await freePort();
    const store = join(dir, "store");
    sup = startSupervised(runArgs(store, `127.0.0.1:${port}`, ["--probe", "notify", ...extra], [svc]), {
      cwd: dir,
    });
    const s = sup;
    await s.waitFor((e) => e.event === "ready" && e.generation === 1, 60_000, "generation 1 ready");
    const reload = async (version: string, generation: number) => {
      deploy(version);
      s.proc.kill("SIGHUP");
      return s.waitFor(
        (e) => e.event === "switch" && e.generation === generation,
        60_000,
        `switch to ${generation}`,
      );
    };
    return { port, store, s, deploy, reload };
  }

  it("held old generation: a crash in the bake is a steering change; nothing fails outside the crashed process", async () => {
    const { port, store, s, reload } = await start(["--bake", "60s", "--bake-hold-old"]);
    await reload("2", 2);
    // Written right after the switch event (it may come in the next chunk of stdout).
    expect(await s.waitFor((e) => e.event === "held", 10_000, "held")).toMatchObject({ generation: 1 });
    load = timedLoad(port);
    await until(() => load!.shots.filter((x) => x.body?.startsWith("v2 ")).length >= 50, 20_000);
    // The first "real" request that crashes it.
    const crashAt = performance.now();
    await expect(httpGet(port, "/crash", 5000)).rejects.toThrow();
    const rb = await s.waitFor((e) => e.event === "rollback" && e.generation === 2, 30_000, "rollback");
    await until(() => load!.shots.some((x) => x.start > crashAt && x.body?.startsWith("v1 ")), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const shots = await load.stop();
    load = undefined;

    // Seen gone → steered to generation 1: measured by the supervisor.
    expect(rb.steeredMs as number).toBeLessThanOrEqual(50);
    expect(rb).toMatchObject({ servingGeneration: 1, reason: "died of SIGABRT during its bake" });
    expect(rb.crashId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
    // Crash seen by a client → generation 1 answering: measured outside.
    const firstOld = shots
      .filter((x) => x.start > crashAt && x.body?.startsWith("v1 "))
      .sort((a, b) => a.end - b.end)[0]!;
    const failed = shots.filter((x) => x.error);
    // Failures: only requests in flight in (or queued on) the crashed process, none started after
    // generation 1 answered again.
    expect(failed.filter((x) => x.start >= firstOld.end)).toEqual([]);
    expect(shots.filter((x) => x.start >= firstOld.end && !x.body?.startsWith("v1 "))).toEqual([]);
    process.stdout.write(
      `bake rollback (held): steered ${rb.steeredMs} ms after the crash was seen; first v1 answer ${Math.round(firstOld.end - crashAt)} ms after the crash request; ${shots.length} requests, ${failed.length} failed (all in flight to the crashed process)\n`,
    );
    const report = JSON.parse(
      readFileSync(join(store, "crashes", rb.crashId as string, "report.json"), "utf8"),
    );
    expect(report.message).toMatch(/assignment to entry in nil map/);
  }, 120_000);

  it("without a held generation: the last good binary starts again, and the bad one stays out until a new build", async () => {
    const { port, s, deploy, reload } = await start(["--bake", "60s"]);
    const first = s.events.find((e) => e.event === "ready" && e.generation === 1)!;
    await reload("2", 2);
    await expect(httpGet(port, "/crash", 5000)).rejects.toThrow();
    const rb = await s.waitFor((e) => e.event === "rollback" && e.generation === 2, 60_000, "rollback");
    expect(rb).toMatchObject({ servingGeneration: 1, reason: "crashed during its bake" });
    const again = await s.waitFor(
      (e) => e.event === "ready" && e.generation === 1 && e.restart === 1,
      60_000,
      "1 again",
    );
    expect(again.pid).not.toBe(first.pid);
    expect(await httpGet(port)).toMatch(/^v1 pid /);
    // The same bad binary again: refused, nothing starts.
    deploy("2");
    s.proc.kill("SIGHUP");
    await until(() => /crashed during its bake and was rolled back/.test(s.output()), 30_000);
    expect(s.events.filter((e) => e.event === "started" && e.generation === 3)).toEqual([]);
    // A new binary is deployed as usual.
    await reload("3", 4);
    expect(await httpGet(port)).toMatch(/^v3 pid /);
  }, 120_000);
});

describe("hangs (issue 18)", () => {
  let dir: string;
  let sup: Supervised | undefined;
  afterEach(async () => {
    await sup?.stop("SIGTERM");
    sup = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function hangTest(extra: string[], config?: (port: number) => string) {
    dir = mkdtempSync(join(tmpdir(), "hotdump-hang-"));
    const port = await freePort();
    const store = join(dir, "store");
    const cfg = join(dir, "hotdump.toml");
    writeFileSync(cfg, config?.(port) ?? "");
    sup = startSupervised(
      runArgs(store, `127.0.0.1:${port}`, ["--probe", "notify", "-c", cfg, ...extra], [buildHangsvc("1")]),
      { cwd: dir },
    );
    const s = sup;
    const ready = await s.waitFor((e) => e.event === "ready" && e.generation === 1, 60_000, "ready");
    expect(await httpGet(port)).toMatch(/^v1 /);
    // The deadlock: /lock keeps the store's lock; everything else waits on it.
    void httpGet(port, "/lock", 60_000).catch(() => {});
    const hang = await s.waitFor((e) => e.event === "hang", 60_000, "hang");
    const crash = await s.waitFor(
      (e) => e.event === "crash" && e.runPid === ready.pid,
      60_000,
      "hang captured",
    );
    await s.waitFor((e) => e.event === "ready" && e.generation === 1 && e.restart === 1, 60_000, "restarted");
    expect(await httpGet(port)).toMatch(/^v1 /);
    const report = JSON.parse(
      readFileSync(join(store, "crashes", crash.crashId as string, "report.json"), "utf8"),
    );
    return { hang, crash, report };
  }

  it("a lock deadlock caught by liveness is captured as a hang with the goroutines that wait, then restarted", async () => {
    const { hang, report } = await hangTest(
      [],
      (port) =>
        `[supervise.liveness]\nprobe = "http://127.0.0.1:${port}/healthz"\nperiod = "1s"\ntimeout = "500ms"\n`,
    );
    expect(hang.reason).toMatch(/^3 liveness probe failures in a row/);
    expect(report.kind).toBe("hang");
    expect(report.hang.waits[0]).toMatchObject({ state: "sync.Mutex.Lock", function: "main.(*store).get" });
    expect(report.message).toMatch(
      /^hung \(3 liveness probe failures.*\): \d+ goroutines? in sync\.Mutex\.Lock, at main\.\(\*store\)\.get$/,
    );
    expect(report.culprit).toMatchObject({ function: "main.(*store).get" });
  }, 120_000);

  it("a lock deadlock caught by the notify watchdog (go-systemd's WATCHDOG=1 stops) is a hang too", async () => {
    const { hang, report } = await hangTest(["--watchdog", "2s"]);
    expect(hang.reason).toMatch(/^missed the watchdog: no WATCHDOG=1 for \d+ ms \(WATCHDOG_USEC=2000000\)$/);
    expect(report.kind).toBe("hang");
    expect(report.hang.waits.map((w: { state: string }) => w.state)).toContain("sync.Mutex.Lock");
  }, 120_000);
});

describe("hotdump under a Type=notify unit (its own NOTIFY_SOCKET)", () => {
  let dir: string;
  let sup: Supervised | undefined;
  let manager: NotifySocket | undefined;
  afterEach(async () => {
    await sup?.stop("SIGTERM");
    sup = undefined;
    manager?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("tells its manager READY=1 once a generation serves and STOPPING=1 on SIGTERM; the service never sees the manager's socket", async () => {
    dir = mkdtempSync(join(tmpdir(), "hotdump-unit-"));
    manager = openNotifySocket(dir, "systemd.sock");
    const said: string[] = [];
    manager.on((m) => said.push([...m].map(([k, v]) => `${k}=${v}`).join(" ")));
    const port = await freePort();
    sup = startSupervised(
      // Log readiness: hotdump gives the service no NOTIFY_SOCKET of its own, so one inherited
      // from hotdump's environment would carry the service's READY=1 straight to the manager.
      runArgs(
        join(dir, "store"),
        `127.0.0.1:${port}`,
        ["--probe", "log:^hangsvc ready$"],
        [buildHangsvc("1")],
      ),
      { cwd: dir, env: { NOTIFY_SOCKET: manager.path } },
    );
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 60_000, "ready");
    await until(() => said.includes("READY=1 STATUS=generation 1 serving"), 10_000);
    // The service's own READY=1 (go-systemd) never reached the manager.
    expect(said.filter((x) => x.startsWith("READY=1"))).toEqual(["READY=1 STATUS=generation 1 serving"]);
    expect(await sup.stop("SIGTERM")).toBe(0);
    sup = undefined;
    expect(said).toContain("STOPPING=1");
  }, 120_000);
});

async function until(fn: () => boolean, ms: number): Promise<void> {
  const t0 = performance.now();
  while (!fn()) {
    if (performance.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
