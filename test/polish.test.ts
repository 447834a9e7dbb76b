/**
 * What a newcomer met on a first real service: `run` without --listen after a crash (folded
 * traceback, "serving again" after the restart, a truthful history), the bound address said once
 * with --listen 127.0.0.1:0, and `crashes` on a path that is no store.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { createUiServer } from "../src/ui/index.js";
import { launchChromium } from "./helpers/browser.js";
import { runCli } from "./helpers/cli.js";
import { buildDepcrash, buildGoFixture } from "./helpers/go.js";
import { httpGet } from "./helpers/http.js";
import { useScratch } from "./helpers/scratch.js";
import { withinTest } from "./helpers/testLimit.js";

/** Polls `cond` (log lines arrive on stderr, which waitFor does not watch) for up to 20 s. */
async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + withinTest(ms);
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const scratch = useScratch("hotdump-polish-");

describe("hotdump run after a crash, without --listen", () => {
  it("folds the other goroutines, says when the restart serves again, and history tells the crash", async () => {
    const dir = scratch.dir();
    const store = join(dir, "store");
    const port = await freePort();
    const svc = buildGoFixture("crashsvc");
    const sup = scratch.start(["run", "--json-events", "--store", store, "--", svc], {
      cwd: dir,
      env: { ADDR: `127.0.0.1:${port}` },
    });
    const first = await sup.waitFor((e) => e.event === "ready", 30_000, "generation 1 ready");
    expect(await httpGet(port, "/crash")).toMatch(/crashing/);
    const crash = await sup.waitFor((e) => e.event === "crash", 60_000, "the crash");
    const again = await sup.waitFor(
      (e) => e.event === "ready" && e.pid !== first.pid,
      60_000,
      "the restarted process ready",
    );
    expect(again).toMatchObject({ generation: 1, restart: 1 });
    expect(crash).toMatchObject({ generation: 1, runPid: first.pid });
    expect(await httpGet(port)).toMatch(/^up pid/);

    const out = sup.output();
    // The panic and the crashing goroutine are shown...
    expect(out).toMatch(/^panic: runtime error: invalid memory address/m);
    expect(out).toMatch(/main\.settle/);
    // ...the other goroutines (main's, parked in Accept; the runtime's) are folded into one line.
    expect(out).toMatch(/… \d+ more traceback lines \(other goroutines\) folded/);
    expect(out).not.toMatch(/^goroutine 1 /m);
    expect(out).not.toMatch(/net\/http\.\(\*Server\)\.Serve/);
    await until(() => /generation 1 is serving again \(restart 1, pid \d+/.test(sup.output()));

    const h = await runCli(["history", "--store", store]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/ready \(restarted 1×\)\s+crashes: \S+/);
    const json = JSON.parse((await runCli(["history", "--store", store, "--json"])).stdout) as {
      status: string;
      restarts: number;
      crashIds: string[];
      pids: number[];
    }[];
    expect(json[0]).toMatchObject({ status: "ready", restarts: 1, crashIds: [crash.crashId] });
    expect(json[0]!.pids).toEqual([first.pid, again.pid]);

    // `report` with no id is the latest crash, as `report latest` is.
    const bare = await runCli(["report", "--store", store]);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/main\.settle/);
    expect(bare.stdout).toBe((await runCli(["report", "--store", store, String(crash.crashId)])).stdout);
    // Steps' limits: 30 + 60 + 60 s of events, 20 s of output, four CLI runs of up to 60 s each.
  }, 420_000);
}, 170_000);

describe("hotdump run --listen 127.0.0.1:0", () => {
  it("says once which address the kernel bound, in the log and as a listening event", async () => {
    const dir = scratch.dir();
    const svc = buildGoFixture("crashsvc");
    const sup = scratch.start(
      ["run", "--json-events", "--store", join(dir, "store"), "--listen", "127.0.0.1:0", "--", svc],
      { cwd: dir },
    );
    const listening = await sup.waitFor((e) => e.event === "listening", 30_000, "listening");
    await sup.waitFor((e) => e.event === "ready", 30_000, "generation 1 ready");
    const addrs = listening.addrs as string[];
    expect(addrs).toHaveLength(1);
    const m = /^127\.0\.0\.1:(\d+)$/.exec(addrs[0]!);
    expect(m).not.toBeNull();
    const port = Number(m![1]);
    expect(port).toBeGreaterThan(0);
    // The address said is the one that serves.
    expect(await httpGet(port)).toMatch(/^up pid \d+/);
    const said = sup.output().match(/listening on 127\.0\.0\.1:\d+/g) ?? [];
    expect(said).toEqual([`listening on 127.0.0.1:${port}`]);
    expect(sup.events.filter((e) => e.event === "listening")).toHaveLength(1);
  }, 60_000);
});

describe("hotdump crashes / history on a path that is no store", () => {
  it("says there is no store there (one line, E_NO_STORE, non-zero); an existing empty store has no crashes", async () => {
    for (const cmd of ["crashes", "history"]) {
      const r = await runCli([cmd, "--store", "/proc/nope"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim()).toBe(
        "hotdump: no hotdump store at /proc/nope (it does not exist): check --store, or run hotdump there first [E_NO_STORE]",
      );
    }
    const file = await runCli(["crashes", "--json", "--store", "/etc/hostname"]);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/no hotdump store at \/etc\/hostname \(not a directory\).*E_NO_STORE/);
    const empty = scratch.dir();
    const r = await runCli(["crashes", "--store", empty]);
    expect(r).toMatchObject({ code: 0, stdout: `no crashes in ${empty}\n` });
    expect(JSON.parse((await runCli(["crashes", "--json", "--store", empty])).stdout)).toEqual([]);
  });

  it("without --store, in a project where hotdump never ran: nothing yet, not an error", async () => {
    const fresh = scratch.dir();
    mkdirSync(join(fresh, ".git")); // a project root: the store search stops here, as git's does
    for (const [cmd, noun] of [
      ["crashes", "crashes"],
      ["history", "generations"],
    ] as const) {
      const r = await runCli([cmd], { cwd: fresh });
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toBe(
        `no ${noun} yet: no .hotdump store here or in a parent directory (hotdump exec, dev and run create one)\n`,
      );
      expect(JSON.parse((await runCli([cmd, "--json"], { cwd: fresh })).stdout)).toEqual([]);
    }
    expect(existsSync(join(fresh, ".hotdump"))).toBe(false);
  });
});

describe("the dashboard names a crash site in a dependency as the text report does", () => {
  it("says 'happened in a dependency', never 'user code'", async () => {
    const cwd = scratch.dir();
    const store = join(cwd, "store");
    const r = await runCli(["exec", "--json", "--store", store, "--", buildDepcrash(), "call"], {
      cwd,
      timeoutMs: 120_000,
    });
    const id = (JSON.parse(r.stdout) as { crash: { id: string } }).crash.id;
    const text = await runCli(["report", id, "--store", store], { cwd });
    const said = /happened in (.+): example\.com\/widget\.Render at /.exec(text.stdout)?.[1];
    expect(said).toBe("a dependency");

    const ui = await createUiServer({ storeDir: store, port: 0 });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${ui.url}#/crash/${id}`);
      await page.waitForSelector("#culprit-site");
      const site = (await page.textContent("#culprit-site")) ?? "";
      expect(site).toMatch(new RegExp(`^happened in ${said}: example\\.com/widget\\.Render at `));
      expect(site).not.toContain("user code");
    } finally {
      await browser.close();
      await ui.close();
    }
  }, 180_000);
});

describe("hotdump exec of a program that dies within a millisecond", () => {
  const crashSh = async (prefix: string) => {
    const cwd = scratch.dir();
    // `sh -c 'ulimit -c N; exec node hotdump ...'` gives hotdump (and so the program) hard limit N KiB.
    const r = await runCli(["exec", "--json", "--store", "store", "--", "/bin/sh", "-c", "kill -SEGV $$"], {
      cwd,
      under: ["/bin/sh", "-c", `${prefix}exec "$0" "$@"`],
    });
    return JSON.parse(r.stdout) as {
      outcome: string;
      core: { found: boolean; truncated: boolean; bytes: number };
    };
  };

  it("does not call its complete core truncated (the wrapper's RLIMIT_CORE of 0 is not the program's)", async () => {
    const full = await crashSh("");
    expect(full.outcome).toBe("crash");
    expect(full.core).toMatchObject({ found: true, truncated: false });
    // A core really cut by the limit is still said to be.
    const cut = await crashSh("ulimit -c 64; ");
    expect(cut.core).toMatchObject({ found: true, truncated: true });
    expect(cut.core.bytes).toBeLessThan(full.core.bytes);
  }, 120_000);
});
