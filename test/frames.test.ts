/**
 * The frame classifier on real crashes (issue 12): a throw inside sync, a cgo NULL dereference in
 * C, -trimpath, PIE and optimised builds, the runtime's own goroutines grouped apart by wait
 * reason the same way by Delve, the traceback and gdb, and `debug`/`eval` opening on the culprit.
 * Each case builds a fixture, lets it crash under `hotdump exec` and reads the stored report.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { GoroutineGroup, Report } from "../src/contracts/reportModel.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture, GO_FIXTURES } from "./helpers/go.js";
import { expectRuntimeHelpers, FINALIZER, FORCE_GC, SCAVENGER, SWEEPER } from "./helpers/runtimeGroups.js";

interface Crash {
  id: string;
  store: string;
  cwd: string;
  report: Report;
}

async function crash(bin: string, args: string[], cwd = mkdtempSync(join(tmpdir(), "hotdump-frames-"))) {
  const store = join(cwd, "store");
  const r = await runCli(["exec", "--json", "--store", store, "--", bin, ...args], {
    cwd,
    timeoutMs: 120_000,
  });
  const out = JSON.parse(r.stdout) as { outcome: string; crash: { id: string; dir: string } | null };
  expect(out.outcome, r.stderr).toBe("crash");
  const report = JSON.parse(readFileSync(join(out.crash!.dir, "report.json"), "utf8")) as Report;
  return { id: out.crash!.id, store, cwd, report } satisfies Crash;
}

async function reanalyse(c: Crash, flags: string[]): Promise<Report> {
  const r = await runCli(["analyze", "--format", "json", "--store", c.store, "--crash", c.id, ...flags], {
    cwd: c.cwd,
    timeoutMs: 120_000,
  });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

const groupKeys = (gs: GoroutineGroup[]) =>
  gs.map((g) => `${g.count} ${g.state} ${g.function}:${g.line}`).sort();

const hasCc = (() => {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe("a throw inside the standard library", () => {
  let c: Crash;
  it("names the user's caller, not sync.(*Mutex).Unlock, and the sync method as the site", async () => {
    c = await crash(buildGoFixture("ledger"), ["unlock"]);
    const r = c.report;
    expect(r.kind).toBe("fatal");
    expect(r.message).toBe("sync: unlock of unlocked mutex");
    expect(r.culprit).toMatchObject({ function: "main.(*ledger).add", line: 35 });
    expect(r.culprit?.file).toMatch(/ledger\/main\.go$/);
    expect(r.site).toMatchObject({ function: "sync.(*Mutex).Unlock", class: "stdlib" });
    const frames = r.goroutine?.frames ?? [];
    expect(frames[r.culprit?.frame ?? -1]?.function).toBe("main.(*ledger).add");
    expect(frames.find((f) => f.function === "sync.(*Mutex).Unlock")?.class).toBe("stdlib");
    expect(frames.find((f) => f.function === "runtime.fatal")?.class).toBe("runtime");
    // The receiver's nil field is named even though the one-line value is cut in text.
    const l = frames[r.culprit?.frame ?? -1]?.args.find((a) => a.name === "l");
    expect(l?.nilFields).toContain("l.audit");
  }, 120_000);

  it("hotdump eval and debug open on the culprit frame (its locals, not runtime.raise's)", async () => {
    const e = await runCli(["eval", "--store", c.store, c.id, "key"]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout.trim()).toBe('"rent"');
    const d = await runCli(["debug", "--store", c.store, c.id], { input: "args\nexit\n", timeoutMs: 60_000 });
    expect(d.stdout).toMatch(/key = "rent"/);
    expect(d.stdout).toMatch(/amount = 100/);
  }, 120_000);

  it("groups goroutines by wait reason and user location, the same with Delve and the traceback", async () => {
    const groups = c.report.goroutines.groups;
    // Before: `6 force gc (idle) runtime.gopark` held six goroutines in five wait reasons.
    expect(groups.filter((g) => g.function === "runtime.gopark")).toEqual([]);
    expectRuntimeHelpers(groups, [FORCE_GC, SWEEPER, SCAVENGER, FINALIZER]);
    expect(groups.find((g) => g.state === "chan receive")).toMatchObject({
      count: 3,
      function: "main.waitOrder",
      class: "user",
    });
    // Delve's userCurrentLoc would say sync.(*Mutex).Lock: the user frame below it is what counts.
    expect(groups.find((g) => g.state === "sync.Mutex.Lock")).toMatchObject({
      count: 1,
      function: "main.waitLock",
    });
    expect(new Set(groups.map((g) => `${g.state}|${g.function}|${g.line}`)).size).toBe(groups.length);
    expect(c.report.sources.delve.used).toBe(true);

    const tb = await reanalyse(c, ["--no-delve", "--no-gdb"]);
    expect(tb.sources.traceback.used).toBe(true);
    expect(groupKeys(tb.goroutines.groups)).toEqual(groupKeys(groups));
    expect(tb.culprit).toMatchObject({ function: "main.(*ledger).add", line: 35 });
  }, 120_000);

  it("gdb alone reads the wait reasons too: the same groups by state, never `waiting` for all", async () => {
    const core = await storedCore(c);
    const gdb = async (extra: string[]) => {
      const g = await runCli(
        [
          "analyze",
          "--format",
          "json",
          "--no-delve",
          "--binary",
          buildGoFixture("ledger"),
          "--core",
          core,
          ...extra,
        ],
        { timeoutMs: 120_000 },
      );
      expect(g.code, g.stderr).toBe(0);
      return JSON.parse(g.stdout) as Report;
    };
    const r = await gdb([]);
    expect(r.sources.gdb.used).toBe(true);
    const states = (gs: GoroutineGroup[]) => gs.map((g) => `${g.count} ${g.state}`).sort();
    expect(states(r.goroutines.groups)).toEqual(states(c.report.goroutines.groups));
    // Named by the function each goroutine started on (gdb cannot unwind a parked goroutine).
    expect(r.goroutines.groups.find((g) => g.state === "force gc (idle)")?.function).toBe(
      "runtime.forcegchelper",
    );
    // A throw runs on the system stack, where gdb's unwinding stops: the traceback names the
    // culprit, gdb adds nothing wrong.
    const stderr = join(c.store, "crashes", c.id, "stderr.txt");
    const both = await gdb(["--stderr", stderr]);
    expect(both.culprit).toMatchObject({ function: "main.(*ledger).add", line: 35 });
    expect(both.site).toMatchObject({ function: "sync.(*Mutex).Unlock", class: "stdlib" });
  }, 120_000);
});

async function storedCore(c: Crash): Promise<string> {
  const dir = join(c.store, "crashes", c.id);
  const out = join(c.cwd, "core.plain");
  execFileSync("zstd", ["-q", "-d", "-f", join(dir, "core.zst"), "-o", out]);
  return out;
}

describe("a nil field of the receiver", () => {
  it("is named in the report and in text, with the receiver's fields in full", async () => {
    const c = await crash(buildGoFixture("ledger"), ["nilfield"]);
    expect(c.report.kind).toBe("panic");
    expect(c.report.culprit).toMatchObject({ function: "main.(*ledger).record", line: 40 });
    const f = c.report.goroutine?.frames[c.report.culprit?.frame ?? -1];
    const l = f?.args.find((a) => a.name === "l");
    expect(l?.value).toMatch(/owner: "acme"/);
    expect(l?.value).toMatch(/audit: nil/);
    expect(l?.nilFields).toEqual(["l.audit"]);
    // Only the nil that mattered (issue 22): the one the crashing line read through.
    expect(c.report.nil).toMatchObject({ expression: "l.audit", use: "dereference" });
    const text = await runCli(["report", "--store", c.store, c.id]);
    expect(text.stdout).toContain("nil: l.audit is nil: dereferenced");
  }, 120_000);
});

describe.skipIf(!hasCc)("a cgo crash: C code dereferences NULL", () => {
  let c: Crash;
  it("shows the C frame and names the Go caller, not the generated _Cfunc_ wrapper", async () => {
    c = await crash(buildGoFixture("cgonull", { cgo: true }), []);
    const r = c.report;
    expect(r.kind).toBe("signal");
    expect(r.signal?.name).toBe("SIGSEGV");
    expect(r.culprit).toMatchObject({ function: "main.lookup", line: 12 });
    expect(r.culprit?.file).toMatch(/cgonull\/main\.go$/);
    expect(r.site).toMatchObject({ function: "C.read_slot", class: "c" });
    expect(r.site?.file).toMatch(/cgonull\/slot\.c$/);
    expect(r.site?.line).toBeGreaterThan(0);
    const frames = r.goroutine?.frames ?? [];
    const cFrame = frames.find((f) => f.function === "C.read_slot");
    expect(cFrame?.class).toBe("c");
    expect(cFrame?.source?.lines.join("\n")).toContain("s->value");
    expect(cFrame?.args.find((a) => a.name === "s")?.value).toMatch(/nil/);
    expect(frames.find((f) => f.function === "main._Cfunc_read_slot")?.class).toBe("cgo");
    // The binary was archived (a gcc-linked binary's notes read), so the crash can be debugged.
    const e = await runCli(["eval", "--store", c.store, c.id, "s"]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/nil/);
  }, 180_000);

  it("gdb finds the C frame from DWARF too, and the traceback the Go caller", async () => {
    const r = await reanalyse(c, ["--no-delve"]);
    expect(r.sources.gdb.used).toBe(true);
    expect(r.culprit).toMatchObject({ function: "main.lookup", line: 12 });
    expect(r.site).toMatchObject({ function: "read_slot", class: "c" });
    expect(r.site?.file).toMatch(/slot\.c$/);
  }, 120_000);
});

describe("builds people ship", () => {
  it("-trimpath: the module path maps to the local module, a newer file is called out", async () => {
    const mod = mkdtempSync(join(tmpdir(), "hotdump-trimpath-"));
    writeFileSync(join(mod, "go.mod"), "module example.com/tp\n\ngo 1.24\n");
    mkdirSync(join(mod, "app"));
    copyFileSync(join(GO_FIXTURES, "ledger/main.go"), join(mod, "app/main.go"));
    const bin = join(mod, "tp");
    execFileSync("go", ["build", "-trimpath", "-o", bin, "./app"], {
      cwd: mod,
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" },
    });
    const c = await crash(bin, ["unlock"], mod);
    const r = c.report;
    expect(r.culprit).toMatchObject({
      function: "main.(*ledger).add",
      file: "example.com/tp/app/main.go",
      line: 35,
      localFile: join(mod, "app/main.go"),
    });
    expect(r.site).toMatchObject({
      function: "sync.(*Mutex).Unlock",
      file: "sync/mutex.go",
      class: "stdlib",
    });
    const f = r.goroutine?.frames[r.culprit?.frame ?? -1];
    expect(f?.source?.path).toBe(join(mod, "app/main.go"));
    expect(f?.source?.lines).toContain("\tl.mu.Unlock()");
    expect(f?.source?.stale).toBeUndefined();

    const later = new Date(Date.now() + 120_000);
    utimesSync(join(mod, "app/main.go"), later, later);
    const again = await reanalyse(c, []);
    const g = again.goroutine?.frames[again.culprit?.frame ?? -1];
    expect(g?.source?.stale).toMatch(/modified after the build/);
    expect(again.warnings.join("\n")).toMatch(/app\/main\.go was modified after the build/);
  }, 180_000);

  it.each([
    ["PIE", { flags: ["-buildmode=pie"] }],
    ["optimised (no -N -l)", { debug: false }],
  ])(
    "%s: culprit and site stay right",
    async (_label, opts) => {
      const c = await crash(buildGoFixture("ledger", opts), ["unlock"]);
      expect(c.report.sources.delve.used).toBe(true);
      expect(c.report.culprit).toMatchObject({ function: "main.(*ledger).add", line: 35 });
      expect(c.report.site).toMatchObject({ function: "sync.(*Mutex).Unlock", class: "stdlib" });
      expect(c.report.goroutines.groups.filter((g) => g.function === "runtime.gopark")).toEqual([]);
      const e = await runCli(["eval", "--store", c.store, c.id, "amount"]);
      expect(e.stdout.trim()).toBe("100");
    },
    180_000,
  );
});
