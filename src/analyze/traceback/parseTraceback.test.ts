/**
 * Replays tracebacks recorded from real Go 1.26 programs (test/fixtures/tracebacks/record.sh).
 * Expected lines are looked up in the Go sources, so re-recording after editing them keeps working.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  detectGorootSrc,
  findRecoveredHttpPanics,
  groupGoroutines,
  parseTraceback,
  reportFromTraceback,
  type Traceback,
} from "./index.js";

const ROOT = resolve(import.meta.dirname, "../../../test/fixtures");
const REPO = resolve(ROOT, "../..");
/** A recorded stderr, with the checkout's root put back where record.sh wrote @REPO@. */
const fixture = (name: string): string =>
  readFileSync(join(ROOT, "tracebacks", `${name}.txt`), "utf8").replaceAll("@REPO@", REPO);
const goSource = (prog: string): string => join(ROOT, "go", prog, "main.go");
/** 1-based line of the only line in the program's source containing `needle`. */
function lineOf(prog: string, needle: string): number {
  const lines = readFileSync(goSource(prog), "utf8").split("\n");
  const hits = lines.flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`${needle}: ${hits.length} hits in ${prog}`);
  return hits[0] as number;
}
function parse(name: string): Traceback {
  const tb = parseTraceback(fixture(name));
  if (!tb) throw new Error(`no traceback in ${name}`);
  return tb;
}
const crashing = (tb: Traceback) => tb.goroutines.find((g) => g.id === tb.crashingGoroutineId);

describe("parseTraceback on recorded crashes", () => {
  it("panic in a goroutine: finds it after service logs, names the inlined worker line", () => {
    const text = fixture("goroutine");
    const tb = parse("goroutine");
    expect(tb.kind).toBe("panic");
    expect(tb.message).toBe("worker 7: bad job 3");
    expect(tb.panics).toEqual([{ message: "worker 7: bad job 3", recovered: false, repanicked: false }]);
    expect(text.split("\n")[tb.startLine]).toBe("panic: worker 7: bad job 3");
    expect(tb.goroutines).toHaveLength(1);
    const g = tb.goroutines[0];
    expect(g?.state).toBe("running");
    expect(tb.crashingGoroutineId).toBe(g?.id);
    expect(g?.frames[0]).toMatchObject({
      function: "main.worker",
      rawArgs: "...",
      inlined: true,
      runtime: false,
    });
    expect(g?.frames[0]?.offset).toBeUndefined();
    expect(g?.frames[1]?.offset).toMatch(/^\+0x[0-9a-f]+$/);
    expect(tb.culprit).toEqual({
      function: "main.worker",
      file: goSource("tbcrash"),
      line: lineOf("tbcrash", "bad job %d"),
      goroutineId: g?.id,
    });
    expect(g?.createdBy).toMatchObject({ function: "main.main", goroutineId: 1, file: goSource("tbcrash") });
    expect(tb.exitStatus).toBeNull();
  });

  it("go run's `exit status 2` line", () => {
    const tb = parse("gorun");
    expect(tb.exitStatus).toBe(2);
    expect(tb.message).toBe("worker 7: bad job 3");
  });

  it("GOTRACEBACK=all: every goroutine, locked-to-thread and syscall states, crasher first", () => {
    const tb = parse("goroutine-all");
    const ids = tb.goroutines.map((g) => g.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(tb.goroutines.length).toBe(fixture("goroutine-all").match(/^goroutine \d+ \[/gm)?.length);
    expect(tb.goroutines[0]?.state).toBe("running");
    expect(tb.crashingGoroutineId).toBe(tb.goroutines[0]?.id);
    const locked = tb.goroutines.filter((g) => g.lockedToThread);
    expect(locked).toHaveLength(1);
    expect(locked[0]?.state).toBe("chan receive");
    expect(tb.goroutines.filter((g) => g.state === "syscall")).toHaveLength(1);
    expect(tb.goroutines.filter((g) => g.state === "chan receive" && !g.lockedToThread)).toHaveLength(3);
    for (const g of tb.goroutines) for (const f of g.frames) expect(f.line).toBeGreaterThan(0);
  });

  it("panic in init", () => {
    const tb = parse("init");
    expect(tb.message).toBe("config: cannot open missing.toml");
    expect(tb.culprit?.function).toBe("main.loadConfig");
    expect(tb.culprit?.line).toBe(lineOf("tbcrash", 'panic("config: cannot open'));
    expect(tb.goroutines[0]?.frames.map((f) => f.function)).toContain("main.init.0");
  });

  it("struct and pointer panic values print only as (type) address", () => {
    expect(parse("struct").message).toMatch(/^\(main\.Fault\) 0x[0-9a-f]+$/);
    expect(parse("structptr").message).toMatch(/^\(\*main\.Fault\) 0x[0-9a-f]+$/);
    expect(parse("error").message).toBe("db: file does not exist");
  });

  it("nested panics: recovered flags, outermost first; report keeps the fatal one as message", () => {
    const tb = parse("nested");
    expect(tb.panics.map((p) => [p.recovered, p.repanicked])).toEqual([
      [true, false],
      [true, false],
      [false, false],
    ]);
    expect(tb.panics[0]?.message).toBe("level3 boom");
    expect(tb.panics[2]?.message).toMatch(/^level1 giving up: /);
    expect(tb.message).toBe("level3 boom");
    // The last panic was raised in level1's deferred func; panic( pseudo-frames sit between.
    expect(tb.culprit).toMatchObject({
      function: "main.level1.func1",
      line: lineOf("tbcrash", "level1 giving up"),
    });
    const frames = tb.goroutines[0]?.frames ?? [];
    expect(frames.filter((f) => f.function === "panic" && f.runtime)).toHaveLength(2);
    const r = reportFromTraceback(tb);
    expect(r.message).toBe(tb.panics[2]?.message);
    expect(r.nested).toEqual([
      { message: "level3 boom", recovered: true },
      { message: tb.panics[1]?.message, recovered: true },
    ]);
  });

  it("a panic in a deferred call without recover chains with tabs; repanic is marked", () => {
    expect(parse("nestedplain").panics.map((p) => p.message)).toEqual([
      "original",
      "first deferred",
      "second",
    ]);
    const re = parse("repanic");
    expect(re.panics).toEqual([{ message: "same value again", recovered: true, repanicked: true }]);
  });

  it("multi-line panic values keep their lines", () => {
    const tb = parse("multiline");
    expect(tb.message).toBe("first line");
    expect(tb.panics[0]?.message).toBe("first line\nsecond line\n\tthird");
    expect(tb.goroutines).toHaveLength(1);
  });

  it("Goexit: deferred panic during Goexit, and main's Goexit deadlock", () => {
    const tb = parse("goexit");
    expect(tb.goexit).toBe(true);
    expect(tb.message).toBe("deferred panic during Goexit");
    const dl = parse("mainexit");
    expect(dl.kind).toBe("fatal");
    expect(dl.deadlock).toBe(true);
  });

  it("fatal concurrent map writes skips internal/runtime frames for the culprit", () => {
    const tb = parse("mapwrites");
    expect(tb.kind).toBe("fatal");
    expect(tb.message).toBe("concurrent map writes");
    expect(tb.goroutines[0]?.frames[0]?.function).toBe("internal/runtime/maps.fatal");
    expect(tb.culprit).toMatchObject({
      function: "main.mapWrites.func1",
      line: lineOf("tbcrash", "m[i%1000] = i"),
    });
  });

  it("deadlock: goroutine 1 blocked in chan send is the one shown", () => {
    const tb = parse("deadlock");
    expect(tb).toMatchObject({
      kind: "fatal",
      deadlock: true,
      message: "all goroutines are asleep - deadlock!",
    });
    expect(tb.crashingGoroutineId).toBe(1);
    expect(tb.goroutines[0]?.state).toBe("chan send");
    expect(tb.culprit).toMatchObject({ function: "main.deadlock", line: lineOf("tbcrash", "ch <- 1") });
    expect(tb.goroutines.some((g) => g.state === "sync.Mutex.Lock")).toBe(true);
  });

  it("stack overflow: limit, runtime stack section, elided frame count", () => {
    const tb = parse("overflow");
    expect(tb.kind).toBe("fatal");
    expect(tb.message).toBe("stack overflow");
    expect(tb.stackOverflow?.limitBytes).toBe(1_000_000_000);
    expect(tb.stackOverflow?.stack?.[0]).toMatch(/^0x/);
    expect(tb.systemStacks[0]?.label).toBe("runtime stack");
    expect(tb.systemStacks[0]?.frames.map((f) => f.function)).toContain("runtime.morestack");
    const g = crashing(tb);
    expect(g?.id).toBe(1);
    expect(g?.gp).toMatch(/^0x/);
    const elided = Number(/^\.\.\.(\d+) frames elided\.\.\.$/m.exec(fixture("overflow"))?.[1]);
    expect(g?.elidedFrames).toBe(elided);
    expect(g?.frames[0]).toMatchObject({ function: "main.recurse" });
    expect(g?.frames[0]?.fp).toMatch(/^0x/);
    expect(tb.culprit?.function).toBe("main.recurse");
  });

  it("bad address: fault address, signal line, fatal", () => {
    const tb = parse("fault");
    expect(tb).toMatchObject({ kind: "fatal", message: "fault", faultAddress: "0xdeadbeef" });
    expect(tb.signal).toMatchObject({
      name: "SIGSEGV",
      description: "segmentation violation",
      code: "0x1",
      addr: "0xdeadbeef",
    });
    expect(tb.culprit).toMatchObject({ function: "main.badAddress", line: lineOf("tbcrash", "return *p") });
    expect(tb.goroutines[0]?.frames[0]).toMatchObject({ function: "runtime.throw", runtime: true });
  });

  it("nil dereference, default and GOTRACEBACK=crash", () => {
    const line = lineOf("tbcrash", "return o.Total * 1.2");
    for (const name of ["nil", "nil-crash"]) {
      const tb = parse(name);
      expect(tb.message).toBe("runtime error: invalid memory address or nil pointer dereference");
      expect(tb.signal).toMatchObject({ name: "SIGSEGV", code: "0x1", addr: "0x8" });
      expect(tb.signal?.pc).toMatch(/^0x[0-9a-f]+$/);
      expect(tb.culprit).toMatchObject({ function: "main.process", line });
    }
    const crash = parse("nil-crash");
    const g = crash.goroutines[0];
    expect(g?.frames.map((f) => f.function).slice(0, 3)).toEqual([
      "panic",
      "runtime.panicmem",
      "runtime.sigpanic",
    ]);
    const proc = g?.frames.find((f) => f.function === "main.process");
    expect(proc?.pc).toBe(crash.signal?.pc);
    expect(proc?.fp).toMatch(/^0x/);
    expect(g?.frames.at(-1)?.function).toBe("runtime.goexit");
    expect(crash.goroutines.map((x) => x.state)).toContain("GC sweep wait");
  });

  it("-trimpath: module-relative files, standard library not told apart by path", () => {
    const tb = parse("nil-trimpath");
    expect(tb.culprit).toMatchObject({
      function: "main.process",
      file: "hotdump.test/fixtures/tbcrash/main.go",
      line: lineOf("tbcrash", "return o.Total * 1.2"),
    });
    expect(tb.goroutines[0]?.frames[0]?.file).toBe("runtime/panic.go");
    expect(detectGorootSrc(tb.goroutines)).toBeNull();
    const chanGroup = groupGoroutines(tb.goroutines).find((g) => g.state === "chan receive" && g.count === 3);
    expect(chanGroup?.function).toBe("main.main.func1");
  });

  it("bare SIGABRT on an idle thread: goroutine 0 is a system stack, no crasher, registers", () => {
    const tb = parse("sigabrt");
    expect(tb).toMatchObject({
      kind: "signal",
      message: "SIGABRT: abort",
      crashingGoroutineId: null,
      culprit: null,
    });
    expect(tb.signal).toMatchObject({ name: "SIGABRT", sigcode: "0", m: "0" });
    expect(tb.systemStacks[0]?.label).toMatch(/^goroutine 0 gp=0x[0-9a-f]+ m=0 mp=0x[0-9a-f]+ \[idle\]$/);
    expect(tb.goroutines.every((g) => g.id > 0)).toBe(true);
    expect(tb.goroutines.find((g) => g.id === 1)?.state).toBe("select (no cases)");
    expect(tb.registers.map((r) => r.name)).toEqual(expect.arrayContaining(["rax", "rip", "rsp", "rflags"]));
    expect(tb.registers.find((r) => r.name === "rip")?.value).toBe(tb.signal?.pc);
  });

  it("no crash in plain logs, nor in a recovered http panic", () => {
    expect(parseTraceback("2026/01/01 listening\nGET / 200\n")).toBeNull();
    expect(parseTraceback(fixture("http"))).toBeNull();
    expect(parseTraceback("")).toBeNull();
  });

  it("picks the last crash when stderr holds several", () => {
    const tb = parseTraceback(`${fixture("nil")}\n${fixture("deadlock")}`);
    expect(tb?.message).toBe("all goroutines are asleep - deadlock!");
  });
});

describe("findRecoveredHttpPanics", () => {
  it("finds each recovered handler panic with its stack and the handler's line", () => {
    const text = fixture("http");
    const found = findRecoveredHttpPanics(text);
    expect(found.length).toBe(text.match(/http: panic serving /g)?.length);
    expect(found.length).toBeGreaterThan(0);
    for (const p of found) {
      expect(p.server).toBe("http");
      expect(p.remoteAddr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(p.message).toBe("checkout: empty cart for A-1");
      expect(p.goroutine?.state).toBe("running");
      expect(p.goroutine?.frames[0]?.function).toBe("net/http.(*conn).serve.func1");
      expect(p.goroutine?.createdBy?.function).toBe("net/http.(*Server).Serve");
      expect(p.culprit).toEqual({
        function: "main.checkout",
        file: goSource("tbhttp"),
        line: lineOf("tbhttp", 'panic("checkout'),
      });
    }
  });
});

describe("groupGoroutines", () => {
  it("groups the parked goroutines of tbmany by user location and state", () => {
    const tb = parse("many-all");
    const groups = groupGoroutines(tb.goroutines);
    expect(groups.reduce((s, g) => s + g.count, 0)).toBe(tb.goroutines.length);
    expect(tb.goroutines.length).toBe(21);
    const byFn = Object.fromEntries(groups.map((g) => [g.function, g]));
    // i%5 placement over 20 goroutines: 4 each.
    for (const fn of ["main.waitOrder", "main.pollQueue", "main.holdLock", "main.drain", "main.pinned"]) {
      expect(byFn[fn]?.count, fn).toBe(4);
      expect(byFn[fn]?.ids).toHaveLength(4);
    }
    expect(byFn["main.holdLock"]?.state).toBe("sync.Mutex.Lock");
    expect(byFn["main.pinned"]?.state).toBe("sleep");
    expect(byFn["main.main"]).toMatchObject({ count: 1, state: "running" });
    expect(groups.at(-1)?.function).toBe("main.main");
    const report = reportFromTraceback(tb, { maxGroups: 3 });
    expect(report.goroutines.total).toBe(21);
    expect(report.goroutines.groups).toHaveLength(3);
  });
});

describe("reportFromTraceback", () => {
  it("fills the contract for a nil dereference under GOTRACEBACK=crash", () => {
    const tb = parse("nil-crash");
    const r = reportFromTraceback(tb);
    expect(r.kind).toBe("panic");
    expect(r.signal).toEqual({ name: "SIGSEGV", code: "0x1", addr: "0x8", pc: tb.signal?.pc });
    expect(r.culprit).toEqual({
      function: "main.process",
      file: goSource("tbcrash"),
      line: lineOf("tbcrash", "return o.Total"),
      frame: r.goroutine?.frames.findIndex((f) => f.function === "main.process"),
    });
    expect(r.goroutine?.frames[r.culprit?.frame ?? -1]?.class).toBe("user");
    expect(r.site ?? null).toBeNull();
    expect(r.goroutine?.id).toBe(1);
    expect(r.goroutine?.frames[0]).toMatchObject({ function: "panic", runtime: true, args: [], locals: [] });
    const proc = r.goroutine?.frames.find((f) => f.function === "main.process");
    expect(proc?.rawArgs).toMatch(/^0x/);
    expect(proc?.pc).toBe(tb.signal?.pc);
    expect(r.goroutines.total).toBe(tb.goroutines.length);
    expect(r.sources.traceback.used).toBe(true);
  });
});
