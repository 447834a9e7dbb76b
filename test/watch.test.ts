import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBuildQueue } from "../src/build/queue.js";
import { loadConfig } from "../src/config/index.js";
import type { ResolvedWatchConfig } from "../src/config/types.js";
import { createWatcher, type Watcher } from "../src/watch/index.js";

let dir: string;
let watcher: Watcher | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hotdump-watch-"));
});
afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const defaults = (): ResolvedWatchConfig => loadConfig({ cwd: dir }).watch;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start a watcher that records batches; `next()` waits for the next batch (or fails after 5 s). */
async function record(config: ResolvedWatchConfig = defaults(), alwaysIgnore: string[] = []) {
  const batches: string[][] = [];
  let wake: (() => void) | undefined;
  watcher = createWatcher({
    root: dir,
    config,
    alwaysIgnore,
    onBatch(files) {
      batches.push(files);
      wake?.();
    },
  });
  await watcher.ready;
  return {
    batches,
    async next(seen = batches.length): Promise<string[]> {
      const deadline = Date.now() + 5000;
      while (batches.length <= seen) {
        if (Date.now() > deadline) throw new Error(`no batch after ${seen}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      return batches[seen] as string[];
    },
  };
}

describe("createWatcher", () => {
  it("coalesces a burst of 50 writes into one batch with every file", async () => {
    // A debounce longer than any gap between the writes, even on a loaded machine: the point is
    // the coalescing, not the speed (bench/dev-latency.mjs measures that).
    const w = await record({ ...defaults(), debounceMs: 500 });
    for (let i = 0; i < 50; i++)
      writeFileSync(join(dir, `f${String(i).padStart(2, "0")}.go`), `package main // ${i}\n`);
    const batch = await w.next();
    expect(batch).toHaveLength(50);
    expect(batch[0]).toBe("f00.go");
    await sleep(300);
    expect(w.batches).toHaveLength(1);
  });

  it("ignores .git, the store, excluded dirs, gitignored paths and non-Go files", async () => {
    for (const d of [".git", ".hotdump", "vendor/x", "gen", "cmd/api"])
      mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, ".gitignore"), "gen/\n*.pb.go\n!keep.pb.go\n");
    const w = await record(defaults(), [join(dir, ".hotdump")]);
    writeFileSync(join(dir, ".git", "HEAD.go"), "x");
    writeFileSync(join(dir, ".hotdump", "store.go"), "x");
    writeFileSync(join(dir, "vendor", "x", "dep.go"), "x");
    writeFileSync(join(dir, "gen", "out.go"), "x");
    writeFileSync(join(dir, "api.pb.go"), "x");
    writeFileSync(join(dir, "notes.txt"), "x");
    writeFileSync(join(dir, "README.md"), "x");
    writeFileSync(join(dir, "keep.pb.go"), "x");
    writeFileSync(join(dir, "cmd", "api", "main.go"), "x");
    writeFileSync(join(dir, "go.mod"), "module x\n");
    expect(await w.next()).toEqual(["cmd/api/main.go", "go.mod", "keep.pb.go"]);
    await sleep(200);
    expect(w.batches).toHaveLength(1);
  });

  it("changes during a slow build queue exactly one more build with the union", async () => {
    const runs: string[][] = [];
    let release: (() => void) | undefined;
    const queue = createBuildQueue({
      run: async (files: string[]) => {
        runs.push(files);
        if (runs.length === 1) await new Promise<void>((r) => (release = r));
        return files.length;
      },
    });
    const batches: string[][] = [];
    watcher = createWatcher({
      root: dir,
      config: { ...defaults(), debounceMs: 20 },
      onBatch: (files) => {
        batches.push(files);
        queue.push(files);
      },
    });
    await watcher.ready;
    /** Wait (up to 10 s: a loaded machine) until a batch after the first `seen` names `file`. */
    const batchWith = async (file: string, seen: number) => {
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(10))
        if (batches.slice(seen).some((b) => b.includes(file))) return;
      throw new Error(`no batch with ${file} after ${seen}: ${JSON.stringify(batches)}`);
    };
    writeFileSync(join(dir, "a.go"), "x");
    await batchWith("a.go", 0);
    for (let i = 0; runs.length === 0 && i < 500; i++) await sleep(10);
    // Three more batches while the first build runs: each write waits for the previous batch, so
    // they are separate batches however slow the machine (no timing gap decides it).
    for (const name of ["b.go", "c.go", "b.go"]) {
      const seen = batches.length;
      writeFileSync(join(dir, name), `x${Math.random()}`);
      await batchWith(name, seen);
    }
    expect(batches.length).toBeGreaterThanOrEqual(4);
    expect(queue.busy).toBe(true);
    expect(runs).toEqual([["a.go"]]);
    expect(queue.pending).toEqual(["b.go", "c.go"]);
    release?.();
    await queue.idle();
    // However many batches the watcher made, the queue ran exactly one more build with their union.
    expect(runs).toEqual([["a.go"], ["b.go", "c.go"]]);
  });

  it("polls when asked (network file systems)", async () => {
    // An existing file changed after the poller's first look: a file created in the same instant
    // as the first poll may be taken for part of the initial scan.
    writeFileSync(join(dir, "main.go"), "package main\n");
    const w = await record({ ...defaults(), poll: true, pollIntervalMs: 50 });
    await sleep(300);
    writeFileSync(join(dir, "main.go"), "package main // changed\n");
    expect(await w.next()).toEqual(["main.go"]);
  });

  it("reports the inotify limit as E_WATCH_LIMIT with the sysctl fix", () => {
    // A user namespace has its own inotify limit (/proc/sys/user/max_inotify_watches, Linux ≥ 4.9),
    // so the limit is hit for real without touching the machine-wide fs.inotify setting.
    for (let i = 0; i < 20; i++) mkdirSync(join(dir, `d${i}`));
    const child = resolve(import.meta.dirname, "watch.enospc-child.ts");
    const viteNode = resolve(import.meta.dirname, "../node_modules/.bin/vite-node");
    const r = spawnSync(
      "unshare",
      [
        "-U",
        "-r",
        "sh",
        "-c",
        'echo 8 > /proc/sys/user/max_inotify_watches && exec "$0" "$@"',
        viteNode,
        child,
        dir,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { code?: string; message?: string };
    expect(out.code, r.stderr).toBe("E_WATCH_LIMIT");
    expect(out.message).toMatch(/sysctl fs\.inotify\.max_user_watches=524288/);
  });
});
