/**
 * What a newcomer met using hotdump on third-party Go code (a service importing go-httpbin), each
 * case reproduced on a real program: the crash is made for real and hotdump's own output is read.
 */
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Report } from "../src/contracts/reportModel.js";
import { runCli } from "./helpers/cli.js";
import { buildDepcrash, buildGoFixture } from "./helpers/go.js";

const tmp = () => mkdtempSync(join(tmpdir(), "hotdump-newcomer-"));

async function crash(bin: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const cwd = tmp();
  const store = join(cwd, "store");
  const r = await runCli(["exec", "--json", "--store", store, "--", bin, ...args], {
    cwd,
    env,
    timeoutMs: 120_000,
  });
  const out = JSON.parse(r.stdout) as { outcome: string; crash: { id: string; dir: string } | null };
  expect(out.outcome, r.stderr).toBe("crash");
  const report = JSON.parse(readFileSync(join(out.crash!.dir, "report.json"), "utf8")) as Report;
  return { id: out.crash!.id, store, cwd, report, stderr: r.stderr };
}

describe("a crash inside a dependency", () => {
  let bin: string;
  const depcrash = () => {
    bin ??= buildDepcrash();
    return bin;
  };

  it("names the service's own line as the culprit and the dependency's as where it happened (Delve)", async () => {
    const c = await crash(depcrash(), ["call"]);
    expect(c.report.sources.delve?.used).toBe(true);
    expect(c.report.culprit?.function).toBe("main.handle");
    expect(c.report.culprit?.line).toBe(16);
    expect(c.report.site?.function).toBe("example.com/widget.Render");
    expect(c.report.site?.line).toBe(8);
    const text = await runCli(["report", c.id, "--store", c.store], { cwd: c.cwd });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/Culprit\n {2}main\.handle at \S+main\.go:16\n/);
    expect(text.stdout).toContain("happened in a dependency: example.com/widget.Render at ");
    expect(text.stdout).not.toContain("user code");
  }, 180_000);

  it("does the same from the traceback alone (no core: GOTRACEBACK=single exits 2)", async () => {
    const c = await crash(depcrash(), ["call"], { GOTRACEBACK: "single" });
    expect(c.report.sources.delve?.used).toBe(false);
    expect(c.report.culprit?.function).toBe("main.handle");
    expect(c.report.culprit?.line).toBe(16);
    expect(c.report.site?.function).toBe("example.com/widget.Render");
  }, 180_000);

  it("falls back to the dependency's frame when none of the service's frames is on the stack", async () => {
    const c = await crash(depcrash(), ["worker"]);
    expect(c.report.culprit?.function).toBe("example.com/widget.Render");
    expect(c.report.culprit?.line).toBe(8);
  }, 180_000);
});

describe("a store where no directory can be made", () => {
  // /proc answers mkdir with ENOENT although the parent exists: Node 20's recursive mkdirSync
  // retried that forever (a CPU spinning, no output); the store must fail with its code instead.
  it("--store /proc/...: the crash is reported, the store's error named, and hotdump ends", async () => {
    const bin = buildGoFixture("exectarget");
    const cwd = tmp();
    const started = Date.now();
    const r = await runCli(["exec", "--store", "/proc/hotdump-newcomer/store", "--", bin, "panic"], {
      cwd,
      timeoutMs: 90_000,
    });
    expect(r.signal, "hotdump was killed by the test's timeout: it hung").toBeNull();
    expect(Date.now() - started).toBeLessThan(90_000);
    expect(r.code).toBe(134);
    expect(r.stderr).toContain("cannot write the store at /proc/hotdump-newcomer/store");
    expect(r.stderr).toContain("[E_STORE_UNWRITABLE]");
    expect(r.stderr).toMatch(/culprit\s+main\.process/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 120_000);
});

describe("a Go package directory given where its program belongs", () => {
  // `hotdump exec -- ./cmd/api` is what a newcomer types in a module with cmd/api/main.go. The old
  // hint, `go build -o ./cmd/api`, writes the binary *into* that directory; and a path that does
  // not exist was answered "give a path, e.g. ././nope".
  it("exec and run say it is a directory and how to build a program from it", async () => {
    const cwd = tmp();
    mkdirSync(join(cwd, "cmd", "api"), { recursive: true });
    mkdirSync(join(cwd, "svc"));
    const api = await runCli(["exec", "--store", join(cwd, "store"), "--", "./cmd/api"], { cwd });
    expect(api.code).toBe(126);
    expect(api.stderr.trim()).toBe(
      "hotdump: ./cmd/api is a directory, not a program: build it (go build -o ./api ./cmd/api) and give ./api, or let hotdump dev -p ./cmd/api build and run it [E_EXEC_NOT_A_FILE]",
    );
    // A directory in the current one: the suggested output may not be that directory.
    const svc = await runCli(["exec", "--store", join(cwd, "store"), "--", "./svc"], { cwd });
    expect(svc.stderr).toContain("(go build -o ./svc.bin ./svc) and give ./svc.bin");
    const run = await runCli(["run", "--store", join(cwd, "store"), "--", "./cmd/api"], {
      cwd,
      timeoutMs: 30_000,
    });
    expect(run.signal).toBeNull();
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("is a directory, not a program: build it (go build -o ./api ");
    expect(run.stderr).toContain("[E_PREFLIGHT_NOT_A_FILE]");
    for (const r of [api, svc, run]) expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});

describe("the commands hotdump suggests run as printed", () => {
  // `make demo` runs `exec --store examples/.demo-store`; the `next hotdump report ID` it printed
  // had no --store, and typed as shown it answered E_CRASH_NOT_FOUND.
  it("exec --store DIR: the summary's and the report's next commands name the store", async () => {
    const bin = buildGoFixture("exectarget");
    const cwd = tmp();
    const r = await runCli(["exec", "--store", "crashes-here", "--", bin, "panic"], {
      cwd,
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(134);
    const next =
      /next\s+(hotdump report \S+ --store crashes-here)\s+\|\s+(hotdump debug \S+ --store crashes-here)/.exec(
        r.stderr,
      );
    expect(next, r.stderr).not.toBeNull();
    // Typed as printed, from the same directory.
    const report = await runCli(next![1]!.split(" ").slice(1), { cwd });
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/culprit|Culprit/);
    // A report does not suggest itself (issue 22); the debugger it names carries the store.
    expect(report.stdout).not.toContain(`$ ${next![1]}`);
    expect(report.stdout).toContain(`$ ${next![2]}`);
    // From the store's own parent with the default store name nothing needs adding.
    const plain = await runCli(["exec", "--", bin, "panic"], { cwd, timeoutMs: 120_000 });
    expect(plain.stderr).toMatch(/next\s+hotdump report \S+\s+\|\s+hotdump debug \S+\n/);
  }, 240_000);
});

describe("eval on a plain `go build` binary", () => {
  // `hotdump eval latest o` on a service built without -N -l answered "empty OP stack": Delve's
  // words, which tell a newcomer nothing about the remedy.
  it("says the binary is optimised and how to rebuild, where Delve only says empty OP stack", async () => {
    const c = await crash(buildGoFixture("exectarget", { debug: false }), ["panic"]);
    const key = await runCli(["eval", "--store", c.store, c.id, "key"], { cwd: c.cwd, timeoutMs: 60_000 });
    expect(key.code).not.toBe(0);
    expect(key.stderr).toMatch(
      /could not evaluate "key": .*in the culprit's frame \(goroutine \d+, frame #\d+ \(main\.process\)\)/,
    );
    expect(key.stderr).toContain("the binary is optimised");
    expect(key.stderr).toContain("rebuild with -gcflags=all=-N -l");
    expect(key.stderr).toContain("[E_EVAL]");
    const gone = await runCli(["eval", "--store", c.store, c.id, "secret"], {
      cwd: c.cwd,
      timeoutMs: 60_000,
    });
    expect(gone.stderr).toContain("that function is optimised and may have dropped it");
  }, 180_000);

  it("a debug build reads it; a name not in scope points at --goroutine/--frame", async () => {
    const c = await crash(buildGoFixture("exectarget"), ["panic"]);
    const key = await runCli(["eval", "--store", c.store, c.id, "secret"], { cwd: c.cwd, timeoutMs: 60_000 });
    expect(key.code, key.stderr).toBe(0);
    expect(key.stdout.trim()).toBe('"tok-12345"');
    const none = await runCli(["eval", "--store", c.store, c.id, "nosuch"], {
      cwd: c.cwd,
      timeoutMs: 60_000,
    });
    expect(none.stderr).toContain("(--goroutine N --frame K evaluate elsewhere) [E_EVAL]");
    expect(none.stderr).not.toContain("optimised");
  }, 180_000);
});

describe("a crash of a program that is not Go", () => {
  // `hotdump exec -- /bin/sh -c 'kill -SEGV $$'`: the report said "Not found (no frame outside the
  // Go runtime)" above a "Goroutine 0", and `hotdump debug` opened Delve, which has no stack for it.
  it("the report says it is not Go, and debug opens gdb", async () => {
    const c = await crash("/bin/sh", ["-c", "kill -SEGV $$"]);
    expect(c.report.goVersion).toBeNull();
    const text = await runCli(["report", c.id, "--store", c.store], { cwd: c.cwd });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("None: not a Go program");
    expect(text.stdout).not.toContain("Go runtime");
    expect(text.stdout).toMatch(/^Crashing thread/m);
    const dbg = await runCli(["debug", c.id, "--store", c.store], {
      cwd: c.cwd,
      input: "bt\nquit\n",
      timeoutMs: 60_000,
    });
    expect(dbg.stderr).toContain("is not a Go program: opening gdb");
    expect(dbg.stderr).toMatch(/hotdump: gdb -q /);
    expect(dbg.stdout).toMatch(/#0 /);
  }, 120_000);
});
