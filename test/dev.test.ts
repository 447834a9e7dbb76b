/**
 * `hotdump dev` on a real Go module in a temp dir, driven the way a developer drives it: edit,
 * save, curl. Covers edit → rebuild → new generation serving, a syntax error keeping the old
 * generation, a panic 200 ms after start captured and attributed to its generation with the right
 * binary even after later builds, crash-loop backoff, SIGKILL of hotdump leaving nothing behind,
 * and a config typo.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { binaryPath, storeLayout } from "../src/store/index.js";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { httpGet } from "./helpers/http.js";
import { isLive, pidsRunning, type Supervised, startSupervised } from "./helpers/supervised.js";
import { withinTest } from "./helpers/testLimit.js";

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + withinTest(ms);
  let last: T | undefined;
  let err: unknown;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (e) {
      err = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never became true; last ${JSON.stringify(last)} ${err ?? ""}`);
}

/** The service on `port` answers `body`, once the new generation is the one serving. */
async function expectServes(port: number, body: string): Promise<void> {
  expect(
    await eventually(
      () => httpGet(port),
      (b) => b === body,
    ),
  ).toBe(body);
}

const service = (port: number, body: string, extra = "") => `package main

import (
	"fmt"
	"net/http"
	"time"
)

type job struct{ Name string }

func run(j *job) string { return j.Name }

func main() {
	_ = time.Second
	${extra}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "${body}") })
	http.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) { var m map[string]int; m["x"] = 1 })
	http.ListenAndServe("127.0.0.1:${port}", nil)
}
`;

let sup: Supervised | undefined;
afterEach(async () => {
  await sup?.stop("SIGKILL");
  sup = undefined;
});

function project(port: number): string {
  const dir = mkdtempSync(join(tmpdir(), "hotdump-dev-"));
  writeFileSync(join(dir, "go.mod"), "module devsvc\n\ngo 1.24\n");
  writeFileSync(join(dir, "main.go"), service(port, "v1"));
  return dir;
}

describe("hotdump dev", () => {
  it("rebuilds on save, keeps serving through a syntax error, captures a crash of one generation and backs off", async () => {
    const port = await freePort();
    const dir = project(port);
    sup = startSupervised(["dev", "--json-events", "--probe", "alive:300ms"], { cwd: dir });
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 90_000, "generation 1 ready");
    await expectServes(port, "v1");

    writeFileSync(join(dir, "main.go"), service(port, "v2"));
    await sup.waitFor((e) => e.event === "ready" && e.generation === 2, 60_000, "generation 2 ready");
    await expectServes(port, "v2");
    // build-ok says the binary is stored, which happens beside its start: it may follow ready.
    const built2 = await sup.waitFor(
      (e) => e.event === "build-ok" && e.generation === 2,
      30_000,
      "build-ok 2",
    );
    expect(built2.changed).toEqual(["main.go"]);
    // A panic net/http recovers is not a crash, but it is recorded.
    await httpGet(port, "/boom").catch(() => "");
    const rec = await sup.waitFor((e) => e.event === "recovered-panic", 10_000, "recovered-panic");
    expect(rec.generation).toBe(2);
    expect(rec.message).toBe("assignment to entry in nil map");
    expect((rec.culprit as { file: string; line: number }).line).toBe(17);

    writeFileSync(
      join(dir, "main.go"),
      service(port, "v3").replace("func main() {", "func main() {\n\tthis is not go"),
    );
    const failed = await sup.waitFor((e) => e.event === "build-failed", 60_000, "build-failed");
    expect(String(failed.summary)).toMatch(/^main\.go:\d+:\d+: syntax error/);
    expect(await httpGet(port)).toBe("v2");

    // Panics 200 ms after start, in a goroutine, on a nil pointer.
    writeFileSync(
      join(dir, "main.go"),
      service(port, "v4", "go func() { time.Sleep(200 * time.Millisecond); fmt.Println(run(nil)) }()"),
    );
    const crash = await sup.waitFor(
      (e) => e.event === "crash" && e.generation === 3,
      60_000,
      "crash of generation 3",
    );
    expect(crash.crashId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
    // Crash-loop backoff: it is restarted, crashes again, and the gaps grow.
    await sup.waitFor(
      (e) => e.event === "crash" && e.generation === 3 && e.crashId !== crash.crashId,
      30_000,
      "second crash",
    );
    const starts = sup.events
      .filter((e) => e.event === "started" && e.generation === 3)
      .map((e) => Date.parse(e.ts as string));
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(sup.output()).toMatch(/generation 3 crashed after \d+ ms; restarting in 500 ms/);

    // The fix: a later generation, and the crash still maps to generation 3's exact binary.
    writeFileSync(join(dir, "main.go"), service(port, "v5"));
    await sup.waitFor((e) => e.event === "ready" && e.generation === 4, 60_000, "generation 4 ready");
    await expectServes(port, "v5");
    const store = join(dir, ".hotdump");
    const crashes = JSON.parse((await runCli(["crashes", "--json", "--store", store])).stdout) as {
      id: string;
      generation: number;
      binarySha256: string;
      culprit: string;
    }[];
    const c = crashes.find((x) => x.id === crash.crashId)!;
    const built3 = await sup.waitFor(
      (e) => e.event === "build-ok" && e.generation === 3,
      30_000,
      "build-ok 3",
    );
    expect(c.generation).toBe(3);
    expect(c.binarySha256).toBe(built3.sha256);
    expect(c.culprit).toMatch(/^main\.run .*main\.go:11$/);
    const report = JSON.parse(readFileSync(join(store, "crashes", c.id, "report.json"), "utf8"));
    expect(report.sources.delve.used).toBe(true);
    const history = JSON.parse((await runCli(["history", "--json", "--store", store])).stdout) as {
      generation: number;
      crashIds: string[];
    }[];
    expect(history.map((h) => h.generation)).toEqual([1, 2, 3, 4]);
    expect(history[2]?.crashIds).toContain(crash.crashId);

    // SIGKILL of hotdump: the service dies with it (PR_SET_PDEATHSIG), nothing keeps the port.
    const servicePid = sup.events.filter((e) => e.event === "started").at(-1)!.pid as number;
    const built4 = await sup.waitFor(
      (e) => e.event === "build-ok" && e.generation === 4,
      30_000,
      "build-ok 4",
    );
    const binary = binaryPath(storeLayout(store), built4.sha256 as string);
    await sup.stop("SIGKILL");
    await eventually(
      async () => pidsRunning(binary),
      (p) => p.length === 0,
      5000,
    );
    expect(isLive(servicePid)).toBe(false);
  }, 420_000);

  it("a save while the last generation is still probed replaces it at once; each is told once", async () => {
    const port = await freePort();
    const dir = project(port);
    // A long readiness wait makes the window certain, even for slow builds on a busy machine: each
    // save lands inside the last generation's wait.
    sup = startSupervised(["dev", "--json-events", "--verbose", "--probe", "alive:300s"], { cwd: dir });
    await sup.waitFor((e) => e.event === "started" && e.generation === 1, 90_000, "generation 1 started");
    await expectServes(port, "v1");
    writeFileSync(join(dir, "main.go"), service(port, "v2"));
    await sup.waitFor((e) => e.event === "started" && e.generation === 2, 60_000, "generation 2 started");
    await expectServes(port, "v2");
    writeFileSync(join(dir, "main.go"), service(port, "v3"));
    await sup.waitFor((e) => e.event === "started" && e.generation === 3, 60_000, "generation 3");
    await expectServes(port, "v3");
    // Generation 2 was stopped for it, before its probe could answer: waiting for the verdict
    // would have told it ready first.
    expect(sup.events.some((e) => e.event === "stopped" && e.generation === 2)).toBe(true);
    expect(sup.events.some((e) => e.event === "ready")).toBe(false);
    expect(await sup.stop("SIGINT")).toBe(0);
    // Nothing says a replaced generation is serving or failed; the last one is told as stopped.
    expect(sup.output()).not.toMatch(/generation [12] (is serving|did not become ready)/);
  });

  it("Ctrl-C does not wait out a generation's ready timeout, and stops it", async () => {
    const dir = project(await freePort());
    sup = startSupervised(["dev", "--json-events", "--probe", "tcp:127.0.0.1:1", "--ready-timeout", "60s"], {
      cwd: dir,
    });
    const started = await sup.waitFor((e) => e.event === "started", 90_000, "started");
    const t0 = Date.now();
    expect(await sup.stop("SIGINT")).toBe(0);
    // Well inside the 60 s ready timeout (a hang guard, not a speed test).
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(isLive(started.pid as number)).toBe(false);
    expect(sup.output()).not.toMatch(/not ready/);
  });

  it("a restarted session starts its first go build before the config is read, only as the config says", async () => {
    const port = await freePort();
    const dir = project(port);
    const env = { XDG_CACHE_HOME: join(dir, ".cache") };
    const session = async (body: string) => {
      sup = startSupervised(["dev", "--json-events", "--verbose"], { cwd: dir, env });
      await sup.waitFor((e) => e.event === "started", 90_000, "started");
      await expectServes(port, body);
      expect(await sup.stop("SIGINT")).toBe(0);
      const out = sup.output();
      sup = undefined;
      // The early build is taken over or stopped, never left behind.
      expect(readdirSync(join(dir, ".hotdump", "tmp")).filter((n) => n.endsWith("-early"))).toEqual([]);
      return out;
    };
    const taken = /go build was started before the config was read/;
    const refused = /the last session's plan differs from this config/;
    // The first session has no plan; the second runs the one the first wrote down.
    expect(await session("v1")).not.toMatch(taken);
    expect(await session("v1")).toMatch(taken);
    // A changed hotdump.toml: no head start, and the new flags are the ones built with.
    writeFileSync(
      join(dir, "main.go"),
      `package main

import (
	"fmt"
	"net/http"
)

var version = "v1"

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, version) })
	http.ListenAndServe("127.0.0.1:${port}", nil)
}
`,
    );
    writeFileSync(join(dir, "hotdump.toml"), '[build]\nldflags = "-X main.version=v2"\n');
    const changed = await session("v2");
    expect(changed).not.toMatch(taken);
    expect(changed).not.toMatch(refused);
    // The same config files but another program name (go.mod): the plan the last session wrote
    // down is started, then refused and rebuilt.
    writeFileSync(join(dir, "go.mod"), "module devsvc2\n\ngo 1.24\n");
    const renamed = await session("v2");
    expect(renamed).toMatch(refused);
    expect(renamed).not.toMatch(taken);
    // Four real sessions, each building: more than one test's usual time on a busy machine.
  }, 240_000);

  it("a config typo is an error with its line and a suggestion", async () => {
    const dir = project(await freePort());
    writeFileSync(join(dir, "hotdump.toml"), '[build]\npackage = "."\n\n[watch]\ndebunce = "30ms"\n');
    const r = await runCli(["dev"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /hotdump\.toml:5:1: unknown key "debunce" in \[watch\] \(did you mean "debounce"\?\)/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("init writes a config that dev then loads", async () => {
    const dir = project(await freePort());
    expect((await runCli(["init"], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, "hotdump.toml"), "utf8")).toMatch(/debounce/);
    const again = await runCli(["init"], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
  });
});
