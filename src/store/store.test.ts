import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { archiveBinary, binaryPath, programName } from "./binaries.js";
import { type CrashMeta, createBundle, listBundles, openBundle, writeBundleFile } from "./bundle.js";
import { compressFile, decompressFile } from "./compress.js";
import { openJournal } from "./journal.js";
import { crashDir, ensureStore, isCrashId, newCrashId, resolveStoreDir } from "./layout.js";
import { enforceBudget } from "./retention.js";

const fresh = () => ensureStore(join(mkdtempSync(join(tmpdir(), "hotdump-store-")), ".hotdump"));
const init = (): Omit<CrashMeta, "schemaVersion" | "id" | "state" | "createdAt" | "problems"> => ({
  type: "crash",
  outcome: "crash",
  exitCode: null,
  signal: "SIGABRT",
  cmdline: ["x"],
  cwd: "/",
  envNames: [],
  binary: null,
  core: { found: false, reason: "test" },
  generation: null,
});

describe("store", () => {
  it("creates owner-only directories and files", async () => {
    const layout = fresh();
    expect(statSync(layout.root).mode & 0o777).toBe(0o700);
    const b = await createBundle(layout, init());
    await writeBundleFile(b, "stderr.txt", "boom");
    expect(statSync(b.dir).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(b.dir)) expect(statSync(join(b.dir, f)).mode & 0o777).toBe(0o600);
  });

  it("rejects crash ids that could leave the store", () => {
    const layout = fresh();
    expect(isCrashId(newCrashId())).toBe(true);
    for (const bad of ["../x", "20261129-123456-3fa2/../../etc", "", "a".repeat(300)])
      expect(() => crashDir(layout, bad)).toThrow(/not a crash id/);
  });

  it("lists bundles newest first and keeps a corrupt one visible", async () => {
    const layout = fresh();
    const a = await createBundle(layout, init());
    const b = await createBundle(layout, init());
    writeFileSync(join(b.dir, "meta.json"), "{not json");
    const list = listBundles(layout);
    expect(list.map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
    expect(list.find((x) => x.id === b.id)?.error).toMatch(/not valid JSON/);
    expect(openBundle(layout, a.id).meta.state).toBe("capturing");
    expect(() => openBundle(layout, "20000101-000000-0000")).toThrow(/no crash/);
  });

  it("stores a binary once by content", async () => {
    const layout = fresh();
    const src = join(layout.root, "..", "prog");
    writeFileSync(src, "hello binary");
    const one = await archiveBinary(layout, src);
    const two = await archiveBinary(layout, src);
    expect(one.added).toBe(true);
    expect(two.added).toBe(false);
    expect(one.path).toBe(two.path);
    expect(one.sha256).toBe(createHash("sha256").update("hello binary").digest("hex"));
    expect(statSync(one.path).mode & 0o777).toBe(0o500);
  });

  it("round-trips a sparse core through compression", async () => {
    const layout = fresh();
    const src = join(layout.root, "..", "core");
    const data = Buffer.alloc(8 << 20);
    data.write("ELF-ish header", 0);
    data.write("tail marker", data.length - 20);
    writeFileSync(src, data);
    const c = await compressFile(src, layout.cache);
    expect(c.storedBytes).toBeLessThan(c.originalBytes / 100);
    const out = join(layout.cache, "back");
    await decompressFile(c.path, out);
    expect(readFileSync(out).equals(data)).toBe(true);
  });

  it("evicts oldest bundles first and never the protected one", async () => {
    const layout = fresh();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const b = await createBundle(layout, init());
      await writeBundleFile(b, "core.zst", Buffer.alloc(64 * 1024, i + 1));
      ids.push(b.id);
    }
    const sorted = [...ids].sort();
    const newest = sorted[3]!;
    const r = enforceBudget(layout, { maxUse: 1, keepFree: 0 }, { protect: [newest] });
    expect(r.evicted).toEqual(sorted.slice(0, 3));
    expect(listBundles(layout).map((b) => b.id)).toEqual([newest]);
  });

  it("never evicts the binary a running process executes, and removes an idle one", async () => {
    const layout = fresh();
    const running = await archiveBinary(layout, "/bin/sleep");
    const idle = await archiveBinary(layout, "/bin/true");
    for (const sha of [running.sha256, idle.sha256]) {
      const b = await createBundle(layout, { ...init(), binary: { path: "x", sha256: sha } });
      await writeBundleFile(b, "core.zst", Buffer.alloc(64 * 1024, 1));
    }
    // Started from the store, as a generation is: /proc/PID/exe points into binaries/.
    const { spawn } = await import("node:child_process");
    const child = spawn(running.path, ["30"], { stdio: "ignore" });
    try {
      await new Promise((r) => child.once("spawn", r));
      const r = enforceBudget(layout, { maxUse: 1, keepFree: 0 });
      expect(r.evicted.length).toBe(2);
      expect(r.removedBinaries).toEqual([idle.sha256]);
      expect(readdirSync(layout.binaries)).toEqual([running.sha256]);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("keeps each binary under its hash by the program's name, and still reads an older store's hash-named file", async () => {
    const layout = fresh();
    const a = await archiveBinary(layout, "/bin/sleep");
    expect(a.path).toBe(join(layout.binaries, a.sha256, "sleep"));
    expect(binaryPath(layout, a.sha256)).toBe(a.path);
    // Started from the store, the process is named after the program, not the hash.
    const child = spawn(a.path, ["30"], { stdio: "ignore" });
    try {
      await new Promise((r) => child.once("spawn", r));
      expect(readFileSync(`/proc/${child.pid}/comm`, "utf8").trim()).toBe("sleep");
      expect(readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0")[0]).toBe(a.path);
    } finally {
      child.kill("SIGKILL");
    }
    // /proc/self/fd/N names the file it links to.
    expect(programName("/proc/self/exe")).toBe("node");
    // An older store: binaries/<sha256> is the file itself. Found, and not copied again.
    const old = ensureStore(join(mkdtempSync(join(tmpdir(), "hotdump-store-")), ".hotdump"));
    const sha = createHash("sha256").update(readFileSync("/bin/true")).digest("hex");
    writeFileSync(join(old.binaries, sha), readFileSync("/bin/true"), { mode: 0o500 });
    expect(binaryPath(old, sha)).toBe(join(old.binaries, sha));
    const again = await archiveBinary(old, "/bin/true");
    expect(again).toMatchObject({ path: join(old.binaries, sha), added: false });
  });

  it("writes a .gitignore that keeps the whole store out of git", () => {
    const layout = fresh();
    expect(readFileSync(join(layout.root, ".gitignore"), "utf8")).toMatch(/^\*$/m);
  });

  it("finds the nearest store upwards like git, and stops at a repository root", () => {
    const top = mkdtempSync(join(tmpdir(), "hotdump-find-"));
    const project = join(top, "project");
    const sub = join(project, "cmd", "svc");
    mkdirSync(sub, { recursive: true });
    // No store anywhere: the default is .hotdump in the cwd.
    expect(resolveStoreDir(sub)).toBe(join(sub, ".hotdump"));
    ensureStore(join(project, ".hotdump"));
    expect(resolveStoreDir(sub)).toBe(join(project, ".hotdump"));
    expect(resolveStoreDir(sub, "elsewhere")).toBe(join(sub, "elsewhere"));
    // An empty directory named .hotdump is not a store.
    mkdirSync(join(project, "cmd", ".hotdump"));
    expect(resolveStoreDir(sub)).toBe(join(project, ".hotdump"));
    // A store above a repository's root is not the repository's store.
    const repo = join(top, "other", "repo");
    mkdirSync(join(repo, ".git"), { recursive: true });
    ensureStore(join(top, "other", ".hotdump"));
    expect(resolveStoreDir(join(repo))).toBe(join(repo, ".hotdump"));
  });

  it("a supervisor's journal on a full disk holds its writes, in order, and writes them when space returns", () => {
    const mnt = mkdtempSync(join(tmpdir(), "hotdump-journal-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    try {
      const layout = ensureStore(join(mnt, ".hotdump"));
      const states: (string | null)[] = [];
      const j = openJournal(layout, {
        holdOnFailure: true,
        onWriteState: (e) => states.push(e ? ((e as { code?: string }).code ?? e.message) : null),
      });
      const g1 = j.newGeneration({
        sha256: "a",
        binary: "b",
        goBuildId: null,
        gnuBuildId: null,
        changed: [],
        buildMs: null,
        source: "run",
      });
      j.append({ event: "started", generation: g1.n });
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${join(mnt, "filler")}`, "bs=4k"], { stdio: "ignore" });
      } catch {
        // ENOSPC
      }
      // A WAL grows by pages: write until SQLite meets the full disk.
      for (let i = 0; i < 200 && j.held() === 0; i++)
        j.append({ event: "ready", generation: g1.n, pad: "x".repeat(2000) });
      expect(j.held()).toBeGreaterThan(0);
      expect(states).toEqual(["SQLITE_FULL"]);
      const g2 = j.newGeneration({
        sha256: "c",
        binary: "d",
        goBuildId: null,
        gnuBuildId: null,
        changed: [],
        buildMs: null,
        source: "run",
      });
      expect(g2.n).toBe(g1.n + 1);
      j.append({ event: "crash", generation: g2.n, pid: 42 });
      const heldNow = j.held();
      expect(heldNow).toBeGreaterThanOrEqual(3);
      rmSync(join(mnt, "filler"));
      j.append({ event: "stopped", generation: g2.n });
      expect(j.held()).toBe(0);
      expect(states).toEqual(["SQLITE_FULL", null]);
      const tail = j
        .events()
        .slice(-2)
        .map((e) => `${e.event}:${e.generation}`);
      expect(tail).toEqual([`crash:${g2.n}`, `stopped:${g2.n}`]);
      expect(j.generations().map((g) => g.n)).toEqual([g1.n, g2.n]);
      expect(j.integrityCheck()).toBe("ok");
      j.close();
    } finally {
      execFileSync("umount", ["-l", mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  it("journals events, generations and crashes, and counts evicted crashes", () => {
    const layout = fresh();
    const j = openJournal(layout);
    j.append({ event: "build-start", generation: null });
    const g1 = j.newGeneration({
      sha256: "a".repeat(64),
      binary: "/b",
      goBuildId: null,
      gnuBuildId: null,
      changed: ["main.go"],
      buildMs: 12,
      source: "dev",
    });
    const g2 = j.newGeneration({
      sha256: "b".repeat(64),
      binary: "/b",
      goBuildId: null,
      gnuBuildId: null,
      changed: [],
      buildMs: 10,
      source: "dev",
    });
    expect([g1.n, g2.n]).toEqual([1, 2]);
    j.recordCrash({
      id: "20261129-000000-0001",
      ts: new Date().toISOString(),
      generation: 2,
      outcome: "crash",
      signal: "SIGABRT",
      kind: "panic",
      message: "boom",
      culprit: null,
      binarySha256: g2.sha256,
    });
    j.markEvicted(["20261129-000000-0001"]);
    const reader = openJournal(layout, { readonly: true });
    expect(reader.crashes()[0]?.evicted).toBe(true);
    expect(reader.events()[0]?.event).toBe("build-start");
    expect(reader.generations()[1]?.changed).toEqual([]);
    expect(j.integrityCheck()).toBe("ok");
    reader.close();
    j.close();
  });
});
