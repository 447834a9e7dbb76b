/**
 * The line recognisers against the formats of runtime/traceback.go (goroutineheader, printFuncName,
 * printArgs) and runtime/signal_unix.go, including shapes the recorded fixtures cannot produce in a
 * test's time (a goroutine blocked for minutes), and robustness of the whole parser on noise.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseTraceback } from "./index.js";
import {
  parseBareSignal,
  parseCreatedBy,
  parseElided,
  parseFunctionLine,
  parseGoroutineHeader,
  parseLocationLine,
  parseRegisterLine,
  parseSignalLine,
} from "./tracebackLines.js";

const DIR = resolve(import.meta.dirname, "../../../test/fixtures/tracebacks");

describe("line recognisers", () => {
  it("goroutine headers: wait minutes, locked to thread, gp/m/mp, unknown extras kept", () => {
    expect(parseGoroutineHeader("goroutine 7 [chan receive, 5 minutes, locked to thread]:")).toMatchObject({
      id: 7,
      state: "chan receive",
      waitMinutes: 5,
      lockedToThread: true,
      stateExtras: [],
    });
    expect(parseGoroutineHeader("goroutine 1 gp=0xc000002380 m=0 mp=0x59e2c0 [running]:")).toMatchObject({
      id: 1,
      state: "running",
      gp: "0xc000002380",
      m: "0",
      mp: "0x59e2c0",
    });
    expect(parseGoroutineHeader("goroutine 9 [select, 1 minutes, synctest bubble 3]:")).toMatchObject({
      state: "select",
      waitMinutes: 1,
      stateExtras: ["synctest bubble 3"],
    });
    expect(parseGoroutineHeader("goroutine 4 [select (no cases)]:")?.state).toBe("select (no cases)");
    expect(parseGoroutineHeader("goroutine x [running]:")).toBeNull();
    expect(parseGoroutineHeader("goroutine 1 running")).toBeNull();
  });

  it("function lines: receivers, generics, inlined; log lines rejected", () => {
    expect(parseFunctionLine("net/http.(*conn).serve(0xc000, {0x77caf8, 0xc0001})")).toEqual({
      function: "net/http.(*conn).serve",
      rawArgs: "0xc000, {0x77caf8, 0xc0001}",
    });
    expect(parseFunctionLine("main.Map[go.shape.int,go.shape.string](...)")).toEqual({
      function: "main.Map[go.shape.int,go.shape.string]",
      rawArgs: "...",
    });
    expect(parseFunctionLine("2026/11/29 GET /x (200)")).toBeNull();
    expect(parseFunctionLine("\tmain.main()")).toBeNull();
  });

  it("location lines: with and without offset, fp/sp/pc, spaces in the path", () => {
    expect(parseLocationLine("\t/src/a b/main.go:39 +0x33 fp=0x1 sp=0x2 pc=0x3")).toEqual({
      file: "/src/a b/main.go",
      line: 39,
      offset: "+0x33",
      fp: "0x1",
      sp: "0x2",
      pc: "0x3",
    });
    expect(parseLocationLine("\t/x/main.go:130 fp=0x1 sp=0x2 pc=0x3")).toMatchObject({
      line: 130,
      pc: "0x3",
    });
    expect(parseLocationLine("\t/x/main.go:47")).toEqual({ file: "/x/main.go", line: 47 });
    expect(parseLocationLine("\tsecond line of a panic")).toBeNull();
  });

  it("created by, elision, signal, bare signal, registers", () => {
    expect(parseCreatedBy("created by main.main in goroutine 1")).toEqual({
      function: "main.main",
      goroutineId: 1,
      file: "",
      line: 0,
    });
    expect(parseCreatedBy("created by main.main")?.goroutineId).toBeUndefined();
    expect(parseElided("...additional frames elided...")).toBe(-1);
    expect(parseElided("...6100692 frames elided...")).toBe(6100692);
    expect(parseSignalLine("[signal SIGBUS: bus error code=0x2 addr=0x7f pc=0x45]")).toEqual({
      name: "SIGBUS",
      description: "bus error",
      code: "0x2",
      addr: "0x7f",
      pc: "0x45",
    });
    expect(parseBareSignal("SIGQUIT: quit")).toEqual({ name: "SIGQUIT", description: "quit" });
    expect(parseBareSignal("SIGnal: x")).toBeNull();
    expect(parseRegisterLine("rflags 0x286")).toEqual({ name: "rflags", value: "0x286" });
    expect(parseRegisterLine("listening 0x1")).toBeNull();
  });
});

describe("parseTraceback robustness", () => {
  const fixtures = readdirSync(DIR)
    .filter((f) => f.endsWith(".txt"))
    .map((f) => readFileSync(join(DIR, f), "utf8"));

  it("never throws and keeps its line range inside the input, on arbitrary text", () => {
    const lineArb = fc.oneof(
      fc.string(),
      fc.constantFrom(
        "panic: x",
        "\tpanic: y",
        "goroutine 1 [running]:",
        "main.f()",
        "\t/a.go:1 +0x1",
        "",
        "runtime stack:",
      ),
    );
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 40 }), (ls) => {
        const text = ls.join("\n");
        const tb = parseTraceback(text);
        if (tb) {
          expect(tb.startLine).toBeGreaterThanOrEqual(0);
          expect(tb.endLine).toBeLessThan(ls.length || 1);
          expect(tb.endLine).toBeGreaterThanOrEqual(tb.startLine);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("finds the same crash whatever log lines precede it", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(fc.stringMatching(/^20\d\d\/\d\d\/\d\d [ -~]{0,40}$/), { maxLength: 8 }),
        (text, logs) => {
          const base = parseTraceback(text);
          const shifted = parseTraceback([...logs, text].join("\n"));
          expect(shifted?.message).toBe(base?.message);
          expect(shifted?.goroutines.length).toBe(base?.goroutines.length);
          if (base && shifted) expect(shifted.startLine - base.startLine).toBe(logs.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});
