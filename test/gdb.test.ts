/**
 * The gdb fallback against real cores of real Go crashes. Expected lines are cross-checked with
 * the Go traceback the same crash printed on stderr, not hard-coded alone.
 */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeCoreWithGdb, type GdbAnalysis, gdbAnalysisToReport } from "../src/analyze/gdb/index.js";
import { isHotdumpError } from "../src/errors.js";
import { type ProducedCore, produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";

/** `func(...)\n\tFILE:LINE` of the first non-runtime frame in Go's own traceback. */
function tracebackCulprit(stderr: string): { function: string; file: string; line: number } {
  const lines = stderr.split("\n");
  for (let i = 0; i < lines.length - 1; i++) {
    const fn = /^([\w./*()-]+)\(.*\)$/.exec(lines[i]!)?.[1];
    const at = /^\t(\S+):(\d+)/.exec(lines[i + 1]!);
    if (fn && at && !fn.startsWith("runtime.") && fn !== "panic")
      return { function: fn, file: at[1]!, line: Number(at[2]) };
  }
  throw new Error(`no user frame in traceback:\n${stderr}`);
}

const crashes: ProducedCore[] = [];
afterAll(() => {
  for (const c of crashes) rmSync(c.dir, { recursive: true, force: true });
});

async function crash(name: string): Promise<{ bin: string; run: ProducedCore; a: GdbAnalysis }> {
  const bin = buildGoFixture(name);
  const run = await produceCore(bin);
  crashes.push(run);
  const a = await analyzeCoreWithGdb({ binary: bin, core: run.core });
  return { bin, run, a };
}

describe("gdb fallback on a panic in a goroutine", () => {
  let c: Awaited<ReturnType<typeof crash>>;
  beforeAll(async () => {
    c = await crash("gdbpanic");
  });

  it("names the culprit Go's traceback names", () => {
    const tb = tracebackCulprit(c.run.stderr);
    expect(c.a.culprit).toEqual(tb);
    expect(c.a.culprit).toMatchObject({ function: "main.checkout", line: 19 });
    expect(c.a.culprit!.file).toMatch(/gdbpanic\/main\.go$/);
  });

  it("reads the culprit frame's args and locals", () => {
    const f = c.a.frames.find((x) => x.function === "main.checkout")!;
    expect(f.runtime).toBe(false);
    expect(f.args.find((v) => v.name === "limit")?.value).toBe("10");
    expect(f.locals.find((v) => v.name === "total")?.value).toBe("21");
    expect(f.locals.find((v) => v.name === "msg")?.value).toBe('"cart of ada over limit: 21 > 10"');
    // Signal-handler frames before `<signal handler called>` are dropped; the stack starts at raise.
    expect(c.a.frames[0]!.function).toBe("runtime.raise");
    expect(c.a.frames.filter((x) => x.function === "runtime.sigtramp")).toHaveLength(0);
    expect(c.a.frames.at(-1)!.function).toBe("runtime.goexit");
  });

  it("lists goroutines with the crashing one current, and the Go version", () => {
    const id = Number(/^goroutine (\d+) /m.exec(c.run.stderr)![1]);
    expect(c.a.currentGoroutine).toBe(id);
    expect(c.a.goroutines!.find((g) => g.id === id)?.state).toBe("running");
    expect(c.a.goroutineGroups.reduce((n, g) => n + g.count, 0)).toBe(c.a.goroutines!.length);
    const goVersion = execFileSync("go", ["env", "GOVERSION"], { encoding: "utf8" }).trim();
    expect(c.a.goVersion).toBe(goVersion);
    expect(c.a.signal).toBe("SIGABRT");
    expect(c.a.warnings).toEqual([]);
  });

  it("reads registers and the words at rsp", () => {
    const reg = new Map(c.a.registers.map((r) => [r.name, r.value]));
    expect(reg.get("rip")).toMatch(/^0x[0-9a-f]+$/);
    expect(reg.get("rsp")).toMatch(/^0x[0-9a-f]+$/);
    expect(c.a.stack).toHaveLength(10);
    expect(BigInt(c.a.stack[0]!.address)).toBe(BigInt(reg.get("rsp")!));
    expect(c.a.threads.filter((t) => t.current)).toHaveLength(1);
    expect(c.a.threads.find((t) => t.current)?.function).toBe("runtime.raise");
  });

  it("folds into a report", () => {
    const r = gdbAnalysisToReport(c.a);
    expect(r.kind).toBe("panic");
    expect(r.culprit).toEqual(c.a.culprit);
    expect(r.goroutine?.id).toBe(c.a.currentGoroutine);
    expect(r.sources.gdb.used).toBe(true);
    expect(r.registers.some((x) => x.name === "rip")).toBe(true);
  });

  it("skips goroutines when told there is no runtime-gdb.py", async () => {
    const a = await analyzeCoreWithGdb({ binary: c.bin, core: c.run.core, runtimeScript: null });
    expect(a.goroutines).toBeNull();
    expect(a.culprit).toEqual(c.a.culprit);
  });
});

describe("gdb fallback on a nil dereference", () => {
  it("gives the faulting line, not the line before it", async () => {
    const c = await crash("gdbnil");
    const tb = tracebackCulprit(c.run.stderr);
    expect(c.run.stderr).toContain("nil pointer dereference");
    expect(c.a.culprit).toEqual(tb);
    expect(c.a.culprit).toMatchObject({ function: "main.(*account).withdraw", line: 12 });
    const f = c.a.frames.find((x) => x.function === "main.(*account).withdraw")!;
    // Go's notation, as the Delve path prints it (gdb itself says `0x0`).
    expect(f.args.find((v) => v.name === "a")).toMatchObject({
      type: "*main.account",
      value: "(*main.account)(nil)",
    });
    const names = c.a.frames.map((x) => x.function);
    expect(names.indexOf("runtime.sigpanic")).toBe(names.indexOf("main.(*account).withdraw") - 1);
    expect(names).toContain("main.main");
  });
});

describe("gdb fallback on an optimised build", () => {
  it("still names the culprit line, with locals unreadable or present", async () => {
    const bin = buildGoFixture("gdbpanic", { debug: false });
    const run = await produceCore(bin);
    crashes.push(run);
    const a = await analyzeCoreWithGdb({ binary: bin, core: run.core });
    expect(a.culprit).toEqual(tracebackCulprit(run.stderr));
    expect(a.elapsedMs).toBeLessThan(10_000);
  });
});

describe("gdb fallback errors", () => {
  const bin = () => buildGoFixture("gdbpanic");
  const code = async (p: Promise<unknown>) =>
    p.then(
      () => "resolved",
      (e: unknown) => (isHotdumpError(e) ? e.code : String(e)),
    );

  it("reports a missing gdb", async () => {
    expect(await code(analyzeCoreWithGdb({ binary: bin(), core: bin(), gdbPath: "/nonexistent/gdb" }))).toBe(
      "E_GDB_NOT_FOUND",
    );
  });

  it("reports a file that is not a core, with gdb's stderr", async () => {
    const err = await analyzeCoreWithGdb({ binary: bin(), core: "/etc/hostname" }).catch((e: unknown) => e);
    expect(isHotdumpError(err) && err.code).toBe("E_GDB_FAILED");
    expect(isHotdumpError(err) && err.details).toMatch(/not in executable format|not a core dump|format/i);
  });

  it("reports a timeout", async () => {
    expect(await code(analyzeCoreWithGdb({ binary: bin(), core: bin(), timeoutMs: 1 }))).toBe(
      "E_GDB_TIMEOUT",
    );
  });
});
