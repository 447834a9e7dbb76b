/**
 * `--capture tracer` under whatever core_pattern the machine has (issue 25): the service keeps the
 * pid hotdump started and its own exit status, every signal reaches it, a crash's core comes from
 * the tracer (the kernel writes none next to it), and `hotdump snapshot` of a traced service goes
 * through the tracer (Delve cannot attach while another tracer holds the process).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { decompressFile } from "../src/store/index.js";
import { HOTDUMP, runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";

let crasher = "";
let service = "";
let dir = "";
const started: ChildProcess[] = [];

beforeAll(() => {
  crasher = buildGoFixture("dlvcrash");
  service = buildGoFixture("fxmem");
});
afterEach(() => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

const scratch = () => {
  dir = mkdtempSync(join(tmpdir(), "hotdump-tracer-"));
  return dir;
};

/** Wait for a line on a child's stdout, raced against its exit and a time limit. */
function waitFor(p: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}: ${out}`)), ms);
    p.stdout!.on("data", (c) => {
      out += c;
      if (re.test(out)) {
        clearTimeout(t);
        resolve(out);
      }
    });
    p.once("exit", () => {
      clearTimeout(t);
      reject(new Error(`exited before ${re}: ${out}`));
    });
  });
}

const childrenOf = (pid: number) =>
  readdirSync(`/proc/${pid}/task`).flatMap((t) =>
    readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ").filter(Boolean).map(Number),
  );

describe("--capture tracer", () => {
  it("captures a crash with the tracer's core: locals, build ID, the service's own pid and status", async () => {
    const cwd = scratch();
    const r = await runCli(
      ["exec", "--store", join(cwd, ".hotdump"), "--capture", "tracer", "--json", "--", crasher, "goroutine"],
      { cwd, timeoutMs: 100_000, under: ["sh", "-c", 'ulimit -c unlimited; exec "$0" "$@"'] },
    );
    expect(r.code, r.stderr).toBe(134);
    const out = JSON.parse(r.stdout);
    expect(out.capture).toEqual({ mode: "tracer", why: "--capture tracer" });
    expect(out.process.root).toBe(true);
    expect(out.core).toMatchObject({ found: true, stored: "core.zst", buildIdMatch: true, truncated: false });
    const frame = out.report.goroutine.frames.find(
      (f: { function: string }) => f.function === "main.process",
    );
    expect(frame.locals).toContainEqual(expect.objectContaining({ name: "secret", value: '"tok-12345"' }));
    const meta = JSON.parse(readFileSync(join(out.crash.dir, "meta.json"), "utf8"));
    expect(meta.pid).toBe(out.process.pid);
    // `hotdump analyze` reads the tracer's core like the kernel's, and proves (or refuses) the binary.
    const raw = join(cwd, "tracer.core");
    await decompressFile(join(out.crash.dir, "core.zst"), raw);
    const analyzed = await runCli(["analyze", "--binary", crasher, "--core", raw], {
      cwd,
      timeoutMs: 60_000,
    });
    expect(analyzed.code, analyzed.stderr).toBe(0);
    expect(analyzed.stdout).toMatch(/Culprit\s+main\.process at /);
    const wrong = await runCli(["analyze", "--binary", service, "--core", raw], { cwd, timeoutMs: 60_000 });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr + wrong.stdout).toMatch(/build ID/i);
    rmSync(raw);
    // The tracer kept the kernel from writing a second core (the machine's pattern is a file here,
    // relative or not): nothing new in the working directory, nothing left in the store's tmp.
    expect(readdirSync(cwd).filter((f) => f.startsWith("core"))).toEqual([]);
    expect(readdirSync(join(cwd, ".hotdump", "tmp"))).toEqual([]);
  }, 120_000);

  it("a crash in a descendant (sh -c, which carries on) is found by the core the tracer wrote for it", async () => {
    const cwd = scratch();
    const r = await runCli(
      [
        "exec",
        "--store",
        join(cwd, ".hotdump"),
        "--capture",
        "tracer",
        "--json",
        "--",
        "sh",
        "-c",
        `${crasher} goroutine; exit 1`,
      ],
      { cwd, timeoutMs: 100_000 },
    );
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.outcome).toBe("crash");
    expect(out.process).toMatchObject({ root: false, evidence: "core", exe: crasher });
    expect(out.core).toMatchObject({ found: true, buildIdMatch: true });
    expect(out.report.culprit).toMatchObject({ function: "main.process" });
  }, 120_000);

  it("passes signals through and keeps a plain exit a plain exit", async () => {
    const cwd = scratch();
    const exited = await runCli(
      ["exec", "--store", join(cwd, ".hotdump"), "--capture", "tracer", "--", "sh", "-c", "exit 3"],
      {
        cwd,
      },
    );
    expect(exited.code).toBe(3);
    const p = spawn(
      process.execPath,
      [HOTDUMP, "exec", "--store", join(cwd, ".hotdump"), "--capture", "tracer", "--", service],
      {
        cwd,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    started.push(p);
    await waitFor(p, /listening on \S+/, 60_000);
    const [svc] = childrenOf(p.pid!);
    expect(svc).toBeDefined();
    // Traced by hotdump's tracer, which is the service's own child.
    const tracerPid = Number(/^TracerPid:\s*(\d+)/m.exec(readFileSync(`/proc/${svc}/status`, "utf8"))?.[1]);
    expect(readFileSync(`/proc/${tracerPid}/cmdline`, "utf8")).toContain("hotdump-tracer\0attach");
    const end = new Promise<number | null>((resolve) => p.once("exit", (code) => resolve(code)));
    process.kill(svc!, "SIGTERM");
    expect(await end).toBe(143);
  }, 120_000);

  it("snapshot of a traced service goes through the tracer, and the service runs on", async () => {
    const cwd = scratch();
    const store = join(cwd, ".hotdump");
    const p = spawn(
      process.execPath,
      [HOTDUMP, "exec", "--store", store, "--capture", "tracer", "--", service],
      {
        cwd,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    started.push(p);
    await waitFor(p, /listening on \S+/, 60_000);
    const [svc] = childrenOf(p.pid!);
    const snap = await runCli(["snapshot", "--store", store, "--pid", String(svc), "--json"], {
      cwd,
      timeoutMs: 100_000,
    });
    expect(snap.code, snap.stderr).toBe(0);
    const s = JSON.parse(snap.stdout);
    expect(s.goroutines).toBeGreaterThan(1);
    expect(s.problems).toEqual([]);
    const meta = JSON.parse(readFileSync(join(store, "crashes", s.id, "meta.json"), "utf8"));
    expect(meta.core).toMatchObject({ found: true, buildIdMatch: true });
    // Still serving, still traced.
    expect(existsSync(`/proc/${svc}`)).toBe(true);
    expect(readFileSync(`/proc/${svc}/status`, "utf8")).toMatch(/^State:\s*[SR]/m);
  }, 120_000);

  it("run supervises under the tracer: a crash's bundle holds the tracer's core and its report", async () => {
    const cwd = scratch();
    const store = join(cwd, ".hotdump");
    const p = spawn(
      process.execPath,
      [HOTDUMP, "run", "--store", store, "--capture", "tracer", "--json-events", "--", crasher, "goroutine"],
      { cwd, stdio: ["ignore", "pipe", "pipe"] },
    );
    started.push(p);
    const out = await waitFor(p, /"event":"crash"[^\n]*\n/, 90_000);
    const crash = out
      .split("\n")
      .filter((l) => l.includes('"event":"crash"'))
      .map((l) => JSON.parse(l))[0];
    expect(crash.crashId).toBeTruthy();
    const meta = JSON.parse(readFileSync(join(store, "crashes", crash.crashId, "meta.json"), "utf8"));
    expect(meta.pid).toBe(crash.pid);
    expect(meta.core, JSON.stringify(meta)).toMatchObject({
      found: true,
      stored: "core.zst",
      buildIdMatch: true,
    });
    const report = JSON.parse(readFileSync(join(store, "crashes", crash.crashId, "report.json"), "utf8"));
    expect(report.culprit).toMatchObject({ function: "main.process" });
    const end = new Promise((resolve) => p.once("exit", resolve));
    p.kill("SIGTERM");
    await end;
  }, 120_000);
});
