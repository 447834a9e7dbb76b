/**
 * The traceback parser on live crashes: builds the tb* Go programs, makes them die for real and
 * parses their stderr as it comes, including a 100,000-goroutine dump. Cores are kept off
 * (`ulimit -c 0`); no core_pattern is touched.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  findRecoveredHttpPanics,
  groupGoroutines,
  parseTraceback,
  reportFromTraceback,
  type Traceback,
} from "../src/analyze/traceback/index.js";
import { type Child, startChild } from "../src/util/child.js";
import { buildGoFixture, GO_FIXTURES } from "./helpers/go.js";

const children: Child[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop({ graceMs: 500 })));
});

async function run(
  bin: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stderr: string; exitCode: number | null; signal: string | null }> {
  const chunks: Buffer[] = [];
  const c = startChild("sh", ["-c", 'ulimit -c 0; exec "$0" "$@"', bin, ...args], {
    env: { ...process.env, GOTRACEBACK: "single", ...env },
    onStderr: (b) => chunks.push(b),
    tailBytes: 1024,
  });
  children.push(c);
  const timer = setTimeout(() => void c.stop({ graceMs: 500 }), 60_000);
  const end = await c.stopped.finally(() => clearTimeout(timer));
  return { stderr: Buffer.concat(chunks).toString("utf8"), exitCode: end.exitCode, signal: end.signal };
}

function lineOf(prog: string, needle: string): number {
  const lines = readFileSync(join(GO_FIXTURES, prog, "main.go"), "utf8").split("\n");
  const i = lines.findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`${needle} not in ${prog}`);
  return i + 1;
}

async function crash(mode: string, env: Record<string, string> = {}): Promise<Traceback> {
  const r = await run(crashBin, [mode], env);
  const tb = parseTraceback(r.stderr);
  if (!tb)
    throw new Error(`no traceback from ${mode} (exit ${r.exitCode}, ${r.signal})\n${r.stderr.slice(-2000)}`);
  return tb;
}

let crashBin = "";
beforeAll(() => {
  crashBin = buildGoFixture("tbcrash");
});

describe("live crashes of tbcrash", () => {
  it("panic in a goroutine, found after the service's log lines", async () => {
    const tb = await crash("goroutine");
    expect(tb.startLine).toBe(2);
    expect(tb).toMatchObject({ kind: "panic", message: "worker 7: bad job 3" });
    expect(tb.culprit).toMatchObject({ function: "main.worker", line: lineOf("tbcrash", "bad job %d") });
    expect(tb.goroutines).toHaveLength(1);
  });

  it("nested recover+repanic chain and the repanicked marker", async () => {
    const tb = await crash("nested");
    expect(tb.panics.map((p) => p.recovered)).toEqual([true, true, false]);
    const r = reportFromTraceback(tb);
    expect(r.message).toMatch(/^level1 giving up: level2 cleanup failed after: level3 boom$/);
    expect(r.nested).toHaveLength(2);
    const re = await crash("repanic");
    expect(re.panics[0]).toMatchObject({ recovered: true, repanicked: true });
  });

  it("deadlock and concurrent map writes are fatal errors with a user culprit", async () => {
    const dl = await crash("deadlock");
    expect(dl).toMatchObject({ kind: "fatal", deadlock: true, crashingGoroutineId: 1 });
    expect(dl.culprit?.line).toBe(lineOf("tbcrash", "ch <- 1"));
    const mw = await crash("mapwrites");
    expect(mw).toMatchObject({ kind: "fatal", message: "concurrent map writes" });
    expect(mw.culprit?.function).toBe("main.mapWrites.func1");
  });

  it("bad address and stack overflow", async () => {
    const f = await crash("fault");
    expect(f).toMatchObject({ kind: "fatal", faultAddress: "0xdeadbeef" });
    expect(f.signal).toMatchObject({ name: "SIGSEGV", addr: "0xdeadbeef" });
    expect(f.culprit?.function).toBe("main.badAddress");
    const o = await crash("overflow");
    expect(o.stackOverflow?.limitBytes).toBe(1_000_000_000);
    expect(o.goroutines.find((g) => g.id === o.crashingGoroutineId)?.elidedFrames).toBeGreaterThan(1000);
    expect(o.culprit?.function).toBe("main.recurse");
  });

  it("GOTRACEBACK=crash: SIGABRT, fp/sp/pc on every frame, runtime goroutines listed", async () => {
    const r = await run(crashBin, ["nil"], { GOTRACEBACK: "crash" });
    expect(r.signal).toBe("SIGABRT");
    const tb = parseTraceback(r.stderr);
    expect(tb?.culprit).toMatchObject({
      function: "main.process",
      line: lineOf("tbcrash", "return o.Total"),
    });
    const g = tb?.goroutines[0];
    expect(g?.gp).toMatch(/^0x/);
    for (const f of g?.frames ?? []) if (!f.inlined) expect(f.pc).toMatch(/^0x/);
    expect(tb?.goroutines.some((x) => x.frames.some((f) => f.function === "runtime.forcegchelper"))).toBe(
      true,
    );
    expect(tb?.goroutines.some((x) => x.state === "syscall")).toBe(true);
  });
});

describe("live net/http recovered panic", () => {
  it("is no crash, and each recovered panic names the handler line", async () => {
    const r = await run(buildGoFixture("tbhttp"), ["once"]);
    expect(r.exitCode).toBe(0);
    expect(parseTraceback(r.stderr)).toBeNull();
    const found = findRecoveredHttpPanics(r.stderr);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]?.culprit).toMatchObject({
      function: "main.checkout",
      line: lineOf("tbhttp", 'panic("checkout'),
    });
  });
});

describe("live 100,000-goroutine dump", () => {
  it("parses every goroutine and groups them by user location", async () => {
    const n = 100_000;
    const r = await run(buildGoFixture("tbmany"), [String(n)], { GOTRACEBACK: "all" });
    const t0 = performance.now();
    const tb = parseTraceback(r.stderr);
    const groups = groupGoroutines(tb?.goroutines ?? []);
    const ms = performance.now() - t0;
    expect(tb?.message).toBe(`tbmany: ${n} goroutines parked`);
    // GOTRACEBACK=all hides the runtime's own goroutines: the N parked ones plus main.
    expect(tb?.goroutines.length).toBe(n + 1);
    const byFn = new Map(groups.map((g) => [g.function, g]));
    const states: Record<string, string> = {
      "main.waitOrder": "chan receive",
      "main.pollQueue": "select",
      "main.holdLock": "sync.Mutex.Lock",
      "main.drain": "sync.WaitGroup.Wait",
      "main.pinned": "sleep",
    };
    for (const [fn, state] of Object.entries(states)) {
      expect(byFn.get(fn), fn).toMatchObject({ count: n / 5, state });
      expect(byFn.get(fn)?.ids).toHaveLength(5);
    }
    expect(groups[groups.length - 1]).toMatchObject({ function: "main.main", count: 1, state: "running" });
    // Generous bound for a shared 2-core machine; bench/traceback-parse.mjs measures properly.
    expect(ms).toBeLessThan(10_000);
  });
});
