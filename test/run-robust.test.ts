/**
 * `hotdump run` and the store on real programs: a crashed generation is restarted before its
 * capture ends (Delve made slow on purpose), a cgo service is supervised (not called damaged), a
 * first binary that cannot start ends `run` with an error instead of a wait, and the store is
 * found from a subdirectory and kept out of git.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveDlvPath } from "../src/analyze/delve/index.js";
import { binaryPath, storeLayout } from "../src/store/index.js";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { httpGet } from "./helpers/http.js";
import { runArgs, useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-robust-");

/** `run` on loopback in a fresh project dir: the dir, its store and the port. */
async function runIn(command: string[], extra: string[] = [], env?: NodeJS.ProcessEnv) {
  const cwd = scratch.dir();
  const port = await freePort();
  const store = join(cwd, ".hotdump");
  const sup = scratch.start(runArgs(store, `127.0.0.1:${port}`, extra, command), { cwd, env });
  return { cwd, port, store, sup };
}

describe("run restarts before it analyses", () => {
  it("the next generation serves while the crashed one's Delve analysis is still running", async () => {
    // The real dlv, started 12 s late: analysis takes far longer than the 0.5 s restart backoff
    // (and a loaded machine's restart). The order of events, not a wall-clock threshold, says
    // whether the restart waited for it.
    const slowDlv = join(scratch.dir(), "slow-dlv");
    writeFileSync(slowDlv, `#!/bin/sh\nsleep 12\nexec ${resolveDlvPath()} "$@"\n`);
    chmodSync(slowDlv, 0o755);
    const { cwd, port, store, sup } = await runIn([buildGoFixture("crashsvc")], [], { HOTDUMP_DLV: slowDlv });
    const first = await sup.waitFor((e) => e.event === "ready", 30_000, "generation ready");
    expect(await httpGet(port, "/crash")).toMatch(/crashing/);
    const next = await sup.waitFor((e) => e.event === "ready" && e.pid !== first.pid, 30_000, "restart");
    // Serving already, and the crash not yet reported: its analysis is still going on.
    expect(await httpGet(port)).toContain(`up pid ${next.pid}`);
    expect(sup.events.some((e) => e.event === "crash")).toBe(false);
    const crash = await sup.waitFor((e) => e.event === "crash", 60_000, "crash captured");
    const order = sup.events.map((e) => `${e.event}:${e.pid}`);
    expect(order.indexOf(`ready:${next.pid}`)).toBeLessThan(order.indexOf(`crash:${first.pid}`));
    // The capture was not cut short: the report came from Delve on the stored core.
    expect(crash.crashId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
    const report = JSON.parse(
      readFileSync(join(store, "crashes", crash.crashId as string, "report.json"), "utf8"),
    );
    expect(report.sources.delve.used).toBe(true);
    expect(report.culprit.function).toBe("main.settle");
    // The core was claimed by pid before the restart, and removed once stored.
    expect(execFileSync("ls", [cwd], { encoding: "utf8" })).not.toMatch(/^core/m);
    expect(await sup.stop("SIGTERM")).toBe(0);
  }, 200_000);
});

describe("the capture queue's deadline", () => {
  it("past it, the core is still stored and the report comes from the traceback, saying why", async () => {
    // A deadline shorter than storing the core takes: analysis is never started.
    const { port, store, sup } = await runIn([buildGoFixture("crashsvc")], ["--capture-deadline", "1ms"]);
    await sup.waitFor((e) => e.event === "ready", 30_000, "generation ready");
    expect(await httpGet(port, "/crash")).toMatch(/crashing/);
    const crash = await sup.waitFor((e) => e.event === "crash", 60_000, "crash captured");
    expect(crash.culprit).toMatchObject({ function: "main.settle" });
    expect(crash.problems).toEqual([expect.objectContaining({ code: "E_CAPTURE_DEADLINE" })]);
    const bundle = join(store, "crashes", crash.crashId as string);
    const report = JSON.parse(readFileSync(join(bundle, "report.json"), "utf8"));
    expect(report.sources.delve.used).toBe(false);
    expect(report.sources.traceback.used).toBe(true);
    expect(JSON.parse(readFileSync(join(bundle, "meta.json"), "utf8")).core.stored).toBe("core.zst");
    expect(await sup.stop("SIGTERM")).toBe(0);
  }, 100_000);
});

describe("a cgo service (externally linked, .note.gnu.property)", () => {
  it("is supervised by run and serves", async () => {
    const { port, sup } = await runIn([buildGoFixture("cgosvc", { cgo: true })]);
    const ready = await sup.waitFor((e) => e.event === "ready", 30_000, "cgo service ready");
    expect(await httpGet(port)).toBe(`cgo 42 pid ${ready.pid}\n`);
    expect(sup.output()).not.toMatch(/malformed|damaged/);
    expect(await sup.stop("SIGTERM")).toBe(0);
  }, 60_000);

  it("crashes under exec into a bundle with its build IDs and the stored binary", async () => {
    const cwd = scratch.dir();
    const bin = buildGoFixture("cgosvc", { cgo: true });
    const r = await runCli(["exec", "--json", "--", bin, "crash"], {
      cwd,
      env: { ADDR: "127.0.0.1:0" },
    });
    expect(r.code).toBe(134);
    const json = JSON.parse(r.stdout);
    expect(json.outcome).toBe("crash");
    const goBuildId = execFileSync("go", ["tool", "buildid", bin], { encoding: "utf8" }).trim();
    const meta = JSON.parse(
      readFileSync(join(cwd, ".hotdump", "crashes", json.crash.id, "meta.json"), "utf8"),
    );
    expect(meta.binary.goBuildId).toBe(goBuildId);
    expect(meta.binary.gnuBuildId).toMatch(/^[0-9a-f]{40}$/);
    expect(meta.binary.hasDwarf).toBe(true);
    expect(
      readFileSync(binaryPath(storeLayout(join(cwd, ".hotdump")), meta.binary.sha256)).equals(
        readFileSync(bin),
      ),
    ).toBe(true);
    expect(json.report.culprit.function).toBe("main.crashLater");
  }, 60_000);
});

describe("run with a first binary that cannot start", () => {
  const cases: [string, () => string, RegExp][] = [
    ["missing", () => "/nonexistent/svc", /does not exist/],
    ["not Go", () => "/bin/true", /is not a Go program/],
    // A stripped binary starts (with one warning): test/reload-identity.test.ts.
  ];
  for (const [name, bin, why] of cases) {
    it(`exits non-zero with one line saying why (${name})`, async () => {
      const cwd = scratch.dir();
      const port = await freePort();
      const r = await runCli(
        ["run", "--store", join(cwd, ".hotdump"), "--listen", `127.0.0.1:${port}`, "--", bin()],
        { cwd, timeoutMs: 30_000 },
      );
      expect(r.signal).toBeNull(); // ended by itself, not by the test's timeout
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/nothing to serve, not starting \[E_PREFLIGHT_[A-Z_]+\]/);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    }, 40_000);
  }
});

describe("the store", () => {
  it("is found from a subdirectory like git finds .git, and git never sees it", async () => {
    const project = scratch.dir();
    execFileSync("git", ["init", "-q", project]);
    const bin = join(project, "svc");
    copyFileSync(buildGoFixture("capcrash"), bin);
    chmodSync(bin, 0o755);
    const crashed = await runCli(["exec", "--json", "--", bin, "crash"], { cwd: project });
    const crashId = JSON.parse(crashed.stdout).crash?.id;
    expect(crashId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
    const sub = join(project, "cmd", "svc");
    mkdirSync(sub, { recursive: true });
    const listed = await runCli(["crashes", "--json"], { cwd: sub });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((c: { id: string }) => c.id)).toEqual([crashId]);
    expect((await runCli(["report", crashId], { cwd: sub })).stdout).toContain("nil pointer dereference");
    // `git add -A` in a project that never heard of hotdump: the store's own .gitignore keeps
    // the core, the binary and the journal out.
    execFileSync("git", ["add", "-A"], { cwd: project });
    const staged = execFileSync("git", ["diff", "--cached", "--name-only"], {
      cwd: project,
      encoding: "utf8",
    });
    expect(staged.split("\n").filter(Boolean)).toEqual(["svc"]);
  }, 60_000);
});

describe("run stopped while its first generation starts", () => {
  it("drains and exits 0 on a SIGTERM that arrives before the switch is over", async () => {
    const { sup } = await runIn([buildGoFixture("cgosvc", { cgo: true })]);
    // "started" comes before the probe, the switch and the drain wait: the first reload is still running.
    await sup.waitFor((e) => e.event === "started", 30_000, "first generation started");
    expect(await sup.stop("SIGTERM")).toBe(0);
  }, 60_000);
});
