import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBuildQueue } from "../src/build/queue.js";
import type { ResolvedWatchConfig } from "../src/config/configTypes.js";
import { loadConfig } from "../src/config/index.js";
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

/** inotify watches held by this process, from /proc/self/fdinfo (one "inotify wd:" line per watch). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fdinfo")) {
    try {
      n += readFileSync(`/proc/self/fdinfo/${fd}`, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("inotify wd:")).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Wait until the batches from `seen` on together name every file in `want`; returns the batch count then. */
async function waitFor(
  w: { batches: string[][]; next(seen?: number): Promise<string[]> },
  want: string[],
  seen = 0,
) {
  for (let n = seen; ; n++) {
    await w.next(n);
    const got = new Set(w.batches.slice(seen).flat());
    if (want.every((f) => got.has(f))) return n + 1;
  }
}

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

  it("uses inotify with one watch per kept directory: excluded and gitignored trees get none", async () => {
    for (const d of [
      "a/b/c",
      "vendor/x/y",
      "node_modules/p",
      "gen/deep",
      "keep",
      ".git/objects",
      ".hotdump/s",
    ])
      mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, ".gitignore"), "gen/\n");
    const before = inotifyWatches();
    const w = await record({ ...defaults(), excludeDir: [...defaults().excludeDir, "node_modules"] }, [
      join(dir, ".hotdump"),
    ]);
    expect(watcher?.backend).toBe("inotify");
    // root, a, a/b, a/b/c, keep, and the root's parent (to see the root itself removed)
    expect(inotifyWatches() - before).toBe(6);
    // A pruned directory created later gets no watch either, a kept one does (with what is in it).
    mkdirSync(join(dir, "gen", "later"));
    mkdirSync(join(dir, "vendor", "later"));
    mkdirSync(join(dir, "fresh", "sub"), { recursive: true });
    writeFileSync(join(dir, "fresh", "sub", "x.go"), "package sub\n");
    expect(await w.next()).toEqual(["fresh/sub/x.go"]);
    expect(inotifyWatches() - before).toBe(8);
    await watcher?.close();
    watcher = undefined;
    expect(inotifyWatches()).toBe(before);
  });

  it("sees files in a new directory tree created at once, and edits in it afterwards", async () => {
    const w = await record();
    // Written before the new directories' watches can be on: the crawl of the new tree reports them.
    mkdirSync(join(dir, "p", "q", "r"), { recursive: true });
    writeFileSync(join(dir, "p", "q", "r", "deep.go"), "package r\n");
    writeFileSync(join(dir, "p", "top.go"), "package p\n");
    const first = await waitFor(w, ["p/q/r/deep.go", "p/top.go"]);
    writeFileSync(join(dir, "p", "q", "r", "deep.go"), "package r // edited\n");
    expect(await w.next(first)).toEqual(["p/q/r/deep.go"]);
  });

  it("reports both names of a renamed file, and a deleted one", async () => {
    writeFileSync(join(dir, "old.go"), "package main\n");
    writeFileSync(join(dir, "gone.go"), "package main\n");
    const w = await record();
    renameSync(join(dir, "old.go"), join(dir, "new.go"));
    expect(await w.next()).toEqual(["new.go", "old.go"]);
    unlinkSync(join(dir, "gone.go"));
    expect(await w.next(1)).toEqual(["gone.go"]);
  });

  it("follows a renamed directory: its old name once, then edits under the new name only", async () => {
    mkdirSync(join(dir, "pkg", "inner"), { recursive: true });
    writeFileSync(join(dir, "pkg", "inner", "a.go"), "package inner\n");
    const w = await record();
    renameSync(join(dir, "pkg"), join(dir, "lib"));
    const seen = await waitFor(w, ["lib/inner/a.go", "pkg"]);
    writeFileSync(join(dir, "lib", "inner", "a.go"), "package inner // edited\n");
    expect(await w.next(seen)).toEqual(["lib/inner/a.go"]);
    // Moved out of the root: its files left the build.
    renameSync(join(dir, "lib"), join(tmpdir(), `hotdump-moved-${process.pid}`));
    try {
      expect(await w.next(seen + 1)).toEqual(["lib"]);
    } finally {
      rmSync(join(tmpdir(), `hotdump-moved-${process.pid}`), { recursive: true, force: true });
    }
  });

  it("takes an editor's atomic save (temp file + rename over) as one change of the file", async () => {
    writeFileSync(join(dir, "main.go"), "package main\n");
    const w = await record();
    // vim/VS Code/GoLand style: write a temp beside the file, then rename it over the original.
    writeFileSync(join(dir, ".main.go.swp"), "x");
    writeFileSync(join(dir, "main.go.tmp.123"), "package main // saved\n");
    renameSync(join(dir, "main.go.tmp.123"), join(dir, "main.go"));
    unlinkSync(join(dir, ".main.go.swp"));
    expect(await w.next()).toEqual(["main.go"]);
    expect(readFileSync(join(dir, "main.go"), "utf8")).toContain("saved");
    await sleep(200);
    expect(w.batches).toHaveLength(1);
  });

  it("keeps include globs, exclude globs, exclude_regex and nested .gitignore negations", async () => {
    for (const d of ["web/tpl", "internal/mock", "api"]) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, ".gitignore"), "*.gen.go\n");
    writeFileSync(join(dir, "api", ".gitignore"), "!wanted.gen.go\n");
    const w = await record({
      ...defaults(),
      include: ["web/tpl/*.html"],
      exclude: ["internal/mock/**"],
      excludeRegex: ["_test\\.go$"],
    });
    for (const f of [
      "web/tpl/index.html",
      "web/other.html",
      "internal/mock/m.go",
      "x_test.go",
      "a.gen.go",
      "api/wanted.gen.go",
      "api/api.go",
    ])
      writeFileSync(join(dir, f), "x");
    expect(await w.next()).toEqual(["api/api.go", "api/wanted.gen.go", "web/tpl/index.html"]);
  });

  it("follows symlinked directories only when asked, without looping on a cycle", async () => {
    mkdirSync(join(dir, "real"));
    symlinkSync(join(dir, "real"), join(dir, "link"));
    symlinkSync(dir, join(dir, "real", "loop"));
    const w = await record({ ...defaults(), followSymlinks: true });
    writeFileSync(join(dir, "real", "r.go"), "x");
    // The same inode has one watch, under the first name the crawl met.
    const batch = await w.next();
    expect(batch).toHaveLength(1);
    expect(["real/r.go", "link/r.go"]).toContain(batch[0]);
  });

  it("stops reading when closed: close resolves and events after it are not reported", async () => {
    const w = await record();
    await watcher?.close();
    watcher = undefined;
    writeFileSync(join(dir, "late.go"), "x");
    await sleep(200);
    expect(w.batches).toHaveLength(0);
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
