/**
 * `hotdump dev` under faults: a service that crashes as soon as it starts (a crash storm) with a
 * store budget of 100 KB from hotdump.toml, read by `crashes` and `report` in loops while the
 * supervisor writes; and hotdump SIGKILLed in the middle of a rebuild, then started again.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Backoff } from "../src/supervise/backoff.js";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { integrityCheck, processesMentioning, until } from "./helpers/faults.js";
import { httpGet } from "./helpers/http.js";
import { useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-faultdev-");

const crasher = `package main

import (
	"fmt"
	"time"
)

type job struct{ Name string }

func run(j *job) string { return j.Name }

func main() {
	time.Sleep(50 * time.Millisecond)
	fmt.Println(run(nil))
}
`;

const server = (port: number, body: string) => `package main

import (
	"fmt"
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "${body}") })
	http.ListenAndServe("127.0.0.1:${port}", nil)
}
`;

function project(main: string, toml = ""): string {
  const dir = scratch.dir();
  writeFileSync(join(dir, "go.mod"), "module faultsvc\n\ngo 1.24\n");
  writeFileSync(join(dir, "main.go"), main);
  if (toml) writeFileSync(join(dir, "hotdump.toml"), toml);
  return dir;
}

describe("crash storm under hotdump dev", () => {
  it("backs off (growing, capped delays), keeps the store within max_use, counts every crash, and readers never see a lock error or a torn file", async () => {
    const dir = project(crasher, '[store]\nmax_use = "100KB"\n');
    const store = join(dir, ".hotdump");
    const sup = scratch.start(["dev", "--json-events"], { cwd: dir });
    await sup.waitFor((e) => e.event === "started", 90_000, "first start");

    // Two readers in loops while the supervisor captures, evicts and journals.
    let storming = true;
    const failures: string[] = [];
    let reads = 0;
    const reader = async (args: string[]) => {
      while (storming && reads < 400) {
        const r = await runCli([...args, "--store", store], { cwd: dir, timeoutMs: 20_000 });
        reads++;
        if (/locked|SQLITE_BUSY|at .*\.js:\d+/i.test(r.stderr)) failures.push(`${args[0]}: ${r.stderr}`);
        if (r.code === 0) {
          try {
            JSON.parse(r.stdout);
          } catch {
            failures.push(`${args[0]}: torn JSON ${r.stdout.slice(0, 200)}`);
          }
        } else if (!/^\S*\s*.*E_[A-Z_]+|no crash/im.test(r.stderr)) {
          failures.push(`${args[0]} exit ${r.code}: ${r.stderr}`);
        }
      }
    };
    const readers = Promise.all([
      reader(["crashes", "--json"]),
      reader(["report", "latest", "--format", "json"]),
    ]);

    // Delays 0.5 s, 1 s, 2 s, 4 s: five crashes in ~12 s instead of one every 50 ms.
    const crashAt: number[] = [];
    const startAt: number[] = [Date.now()];
    for (let i = 1; i <= 5; i++) {
      await sup.waitFor(
        (e) => e.event === "crash" && sup!.events.filter((x) => x.event === "crash").length >= i,
        30_000,
        `crash ${i}`,
      );
      crashAt.push(Date.now());
      if (i < 5) {
        await sup.waitFor(
          (e) => e.event === "started" && sup!.events.filter((x) => x.event === "started").length >= i + 1,
          30_000,
          `start ${i + 1}`,
        );
        startAt.push(Date.now());
      }
    }
    storming = false;
    await readers;
    const delays = [...sup.output().matchAll(/restarting in (\d+) ms/g)].map((m) => Number(m[1]));
    expect(delays.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    for (let i = 0; i < 4; i++)
      expect(startAt[i + 1]! - crashAt[i]!).toBeGreaterThanOrEqual(delays[i]! * 0.9);
    await sup.stop("SIGTERM");

    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(4);
    const ids = readdirSync(join(store, "crashes"));
    const listed = JSON.parse(
      (await runCli(["crashes", "--json", "--store", store], { cwd: dir })).stdout,
    ) as {
      id: string;
      evicted: boolean;
    }[];
    // Every crash counted, the budget kept: only the newest bundle is still on disk.
    expect(listed.length).toBeGreaterThanOrEqual(5);
    expect(ids.length).toBe(1);
    expect(listed.filter((c) => c.evicted).length).toBe(listed.length - 1);
    expect(listed.find((c) => !c.evicted)?.id).toBe(ids[0]);
    expect(integrityCheck(store)).toBe("ok");
  }, 170_000);

  it("the delay stops growing at its cap", () => {
    const b = new Backoff();
    const ds = Array.from({ length: 12 }, () => b.next(50));
    expect(ds.slice(0, 3)).toEqual([500, 1000, 2000]);
    expect(Math.max(...ds)).toBe(30_000);
    expect(ds.slice(-4)).toEqual([30_000, 30_000, 30_000, 30_000]);
  });
});

describe("hotdump dev SIGKILLed mid-build", () => {
  it("leaves no service running, and a restart builds, serves and keeps a sound journal", async () => {
    const port = await freePort();
    const dir = project(server(port, "v1"));
    const store = join(dir, ".hotdump");
    let sup = scratch.start(["dev", "--json-events", "--probe", "alive:300ms"], { cwd: dir });
    const first = await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 90_000, "generation 1");
    expect(first).toBeDefined();
    writeFileSync(join(dir, "main.go"), server(port, "v2"));
    await sup.waitFor((e) => e.event === "build-start" && e.generation !== 1, 20_000, "rebuild starts");
    await sup.stop("SIGKILL");
    // The generation-1 service dies with hotdump; `go build` may finish on its own, briefly.
    const left = await until(
      () => {
        const l = processesMentioning(store).concat(
          processesMentioning(dir).filter((x) => !x.includes("go build")),
        );
        return l.length === 0 ? l : undefined;
      },
      10_000,
      "service gone",
    ).catch(() => processesMentioning(store));
    expect(left).toEqual([]);

    sup = scratch.start(["dev", "--json-events", "--probe", "alive:300ms"], { cwd: dir });
    const ready = await sup.waitFor((e) => e.event === "ready", 90_000, "ready after restart");
    expect(ready.generation).toBeGreaterThan(1);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe("v2");
    await sup.stop("SIGTERM");
    expect(integrityCheck(store)).toBe("ok");
    const history = JSON.parse((await runCli(["history", "--json", "--store", store], { cwd: dir })).stdout);
    expect(history.length).toBeGreaterThanOrEqual(2);
  }, 230_000);
});

const crashOnDemand = (port: number) => `package main

import (
	"fmt"
	"net/http"
	"os"
)

type account struct{ Balance int }

func settle(a *account) int { return a.Balance * 2 }

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "up pid %d", os.Getpid()) })
	http.HandleFunc("/crash", func(w http.ResponseWriter, r *http.Request) {
		// Whole before the crash: a chunked body's last chunk would race it (see crashsvc).
		w.Header().Set("Content-Length", "8")
		fmt.Fprint(w, "crashing")
		w.(http.Flusher).Flush()
		go func() { fmt.Println(settle(nil)) }()
	})
	http.ListenAndServe("127.0.0.1:${port}", nil)
}
`;

describe("hotdump dev while its store's disk is full", () => {
  it("restarts the crashed service, reports the crash with the reason, and keeps running", async () => {
    const port = await freePort();
    const mnt = scratch.tmpfs(scratch.dir(), "32m");
    const store = join(mnt, ".hotdump");
    const dir = project(crashOnDemand(port), `[store]\ndir = "${store}"\n`);
    const sup = scratch.start(["dev", "--json-events", "--probe", "alive:300ms"], { cwd: dir });
    const first = await sup.waitFor((e) => e.event === "ready", 90_000, "generation 1 ready");
    expect(await httpGet(port)).toMatch(/^up pid /);
    try {
      execFileSync("dd", ["if=/dev/zero", `of=${join(mnt, "filler")}`, "bs=64k"], {
        stdio: "ignore",
      });
    } catch {
      // ENOSPC: the disk is full
    }
    expect(await httpGet(port, "/crash")).toBe("crashing");
    const crash = await sup.waitFor((e) => e.event === "crash", 60_000, "crash on a full disk");
    expect(crash.pid).toBe(first.pid);
    expect(crash.message).toContain("nil pointer dereference");
    expect(crash.crashId).toBeNull();
    expect(JSON.stringify(crash.problems)).toMatch(/ENOSPC|no space|disk full/i);
    await sup.waitFor((e) => e.event === "ready" && e.pid !== first.pid, 30_000, "restarted");
    expect(await httpGet(port)).toMatch(/^up pid \d+$/);
    expect(sup.proc.exitCode).toBeNull();
    expect(sup.output()).not.toMatch(/internal error/);
    expect(await sup.stop("SIGTERM")).toBe(0);
  }, 200_000);
});
