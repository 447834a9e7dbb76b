/**
 * Issue 18, point 5: an identical binary is no new generation (run's reload and dev's rebuild),
 * the service runs under its own name (argv[0], /proc/PID/comm), `run` starts a stripped binary
 * with one warning line and explains its crash from the traceback, and dev says "generation N is
 * serving" after every switch.
 */
import { copyFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { httpGet } from "./helpers/http.js";
import { runArgs, useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-identity-");

/** Resolves once `ok()` holds (checked every 50 ms), or fails after `ms` saying what it waited for. */
async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const runsvc = (mode: string, extra: string[] = []) =>
  buildGoFixture("runsvc", { flags: [`-ldflags=-X main.mode=${mode} -X main.version=1 ${extra.join(" ")}`] });

describe("hotdump run: identity of what is deployed", () => {
  it("an identical binary is no new generation; the service runs under its own name", async () => {
    const { cwd, store } = scratch.project();
    const svc = join(cwd, "pushgateway");
    copyFileSync(runsvc(""), svc);
    const port = await freePort();
    const sup = scratch.start(runArgs(store, `127.0.0.1:${port}`, [], [svc]), { cwd });
    const ready = await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 60_000, "ready");
    const pid = ready.pid as number;
    // argv[0] and comm are the program's name, as ps, pgrep and ss show them.
    expect(readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("pushgateway");
    expect(basename(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!)).toBe("pushgateway");
    // The same bytes deployed again (a new inode, as cp + mv do): nothing restarts.
    copyFileSync(svc, `${svc}.new`);
    renameSync(`${svc}.new`, svc);
    const r = await runCli(["reload", "--store", store], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/generation 1 is serving/);
    await sup.waitFor((e) => e.event === "unchanged", 10_000, "unchanged");
    await until(
      () => /binary unchanged: generation 1 keeps serving/.test(sup.output()),
      5_000,
      "unchanged line",
    );
    expect(sup.events.filter((e) => e.event === "started")).toHaveLength(1);
    expect(await httpGet(port)).toContain(`pid ${pid}`);
    const hist = JSON.parse((await runCli(["history", "--json", "--store", store], { cwd })).stdout);
    expect(hist).toHaveLength(1);
    // A different binary is a new generation, as before.
    copyFileSync(buildGoFixture("runsvc", { flags: ["-ldflags=-X main.version=2"] }), `${svc}.new`);
    renameSync(`${svc}.new`, svc);
    const r2 = await runCli(["reload", "--store", store], { cwd });
    expect(r2.stdout).toMatch(/generation 2 is serving/);
  }, 180_000);

  it("a stripped binary starts with one warning line, and its crash is explained from the traceback", async () => {
    const { cwd, store } = scratch.project();
    const svc = join(cwd, "orders");
    copyFileSync(runsvc("crash", ["-s", "-w"]), svc);
    const port = await freePort();
    const sup = scratch.start(runArgs(store, `127.0.0.1:${port}`, [], [svc]), { cwd });
    const crash = await sup.waitFor((e) => e.event === "crash" && Boolean(e.crashId), 60_000, "crash");
    // Restarts with backoff meanwhile; the warning is said once for the binary, not per start.
    await sup.waitFor((e) => e.event === "started" && (e.restart as number) >= 1, 30_000, "restart");
    expect(sup.output().match(/has no DWARF/g)).toHaveLength(1);
    const report = JSON.parse(
      (await runCli(["report", crash.crashId as string, "--format", "json", "--store", store], { cwd }))
        .stdout,
    );
    expect(report.kind).toBe("panic");
    expect(report.culprit.function).toBe("main.startupCheck");
    expect(report.sources.traceback.used).toBe(true);
  }, 180_000);
});

const service = (body: string) => `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "${body}") })
	http.ListenAndServe(os.Getenv("ADDR"), nil)
}
`;

describe("hotdump dev: what a rebuild deploys", () => {
  it("says which generation is serving after each switch, and an identical rebuild keeps it serving", async () => {
    const { cwd, store } = scratch.project();
    writeFileSync(join(cwd, "go.mod"), "module inventory\n\ngo 1.24\n");
    writeFileSync(join(cwd, "main.go"), service("v1"));
    const port = await freePort();
    const sup = scratch.start(["dev", "--json-events", "--store", store, "--env", `ADDR=127.0.0.1:${port}`], {
      cwd,
    });
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 120_000, "generation 1");
    await until(() => /generation 1 is serving/.test(sup.output()), 10_000, "serving line 1");
    const pid = sup.events.find((e) => e.event === "ready")!.pid as number;
    expect(readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("inventory");
    // Saved without a change the compiler sees: the same binary.
    writeFileSync(join(cwd, "main.go"), service("v1"));
    await sup.waitFor((e) => e.event === "unchanged", 60_000, "unchanged");
    await until(
      () => /binary unchanged: generation 1 keeps serving/.test(sup.output()),
      5_000,
      "unchanged line",
    );
    expect(await httpGet(port)).toBe("v1");
    expect(sup.events.filter((e) => e.event === "started")).toHaveLength(1);
    // A real change: generation 2, and dev says it serves.
    writeFileSync(join(cwd, "main.go"), service("v2"));
    await sup.waitFor((e) => e.event === "ready" && e.generation === 2, 60_000, "generation 2");
    await until(() => /generation 2 is serving/.test(sup.output()), 10_000, "serving line 2");
    expect(await httpGet(port)).toBe("v2");
  }, 300_000);
});
