/**
 * One frame numbering (issue 22): every frame the report shows carries the number `eval --frame`
 * takes, on a real crash stored by `hotdump exec`, for a report made by Delve and for one made
 * from the traceback alone (whose stack has no signal frames: its numbers are mapped to Delve's).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../src/contracts/reportModel.js";
import { evalInCapture, memInCapture } from "../src/forensics/inspect.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";

let bin = "";
let dir = "";
beforeAll(() => {
  bin = buildGoFixture("govalues");
  dir = mkdtempSync(join(tmpdir(), "hotdump-frames-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function storedCrash(
  store: string,
  extra: string[] = [],
): Promise<{ id: string; report: Report; text: string }> {
  const e = await runCli(["exec", "--json", "--store", store, ...extra, "--", bin, "nilfield"], { cwd: dir });
  const id = (JSON.parse(e.stdout) as { crash: { id: string } }).crash.id;
  const json = await runCli(["report", id, "--store", store, "--format", "json"], { cwd: dir });
  const text = await runCli(["report", id, "--store", store], { cwd: dir });
  return { id, report: JSON.parse(json.stdout) as Report, text: text.stdout };
}

/** Every number the text report shows: single frames (`#10 main.notify(`) and folded ranges (`#0-#9 ...`). */
function shownNumbers(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/^ {2}#(\d+)(?:-#(\d+))? /gm)) {
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let k = a; k <= b; k++) out.push(k);
  }
  return out;
}

describe("eval --frame N for every N the report shows", () => {
  it("Delve's report: each number reads its own frame, the culprit's reads its args", async () => {
    const store = join(dir, "delve");
    const { id, report, text } = await storedCrash(store);
    expect(report.sources.delve.used).toBe(true);
    const numbers = shownNumbers(text);
    expect(numbers).toEqual(report.goroutine!.frames.map((_, i) => i));
    const culprit = report.culprit!.frame!;
    expect(text).toContain(`#${culprit} main.notify(`);
    for (const n of numbers) {
      const f = report.goroutine!.frames[n]!;
      // A user frame's own argument, or the scope's own goroutine id (runtime.curg is the
      // scope's g to Delve): either way the scope is the report's frame n, which Delve accepts.
      const expr = f.args[0]?.name ?? "runtime.curg.goid";
      const r = await evalInCapture(store, id, expr, { frame: n });
      expect(r, `frame #${n} ${f.function}`).toMatchObject({ frame: n, goroutine: report.goroutine!.id });
      if (expr === "runtime.curg.goid") expect(r.text).toBe(String(report.goroutine!.id));
    }
    expect((await evalInCapture(store, id, "key", { frame: culprit })).text).toBe('"job\\xffsome_job"');
    // mem names the frame an address of the stack lies in, by the same number: main's local `j`
    // lives in main's frame, the one after the culprit.
    const at = (await evalInCapture(store, id, "&j", { frame: culprit + 1 })).variable.children?.[0]?.addr;
    const mem = await memInCapture(store, id, BigInt(at!), 8);
    expect(mem.frame).toEqual({ index: culprit + 1, function: "main.main" });
    expect(mem.regionText).toContain(`frame #${culprit + 1} main.main`);
    // Past the end: says how many there are, never `goroutine -1`.
    const past = await runCli(["eval", id, "key", "--frame", String(numbers.length), "--store", store], {
      cwd: dir,
    });
    expect(past.stderr).toContain(`has ${numbers.length} frames (#0-#${numbers.length - 1}`);
    // A runtime frame lacks the program's variables: no advice to rebuild a -N -l binary.
    const rt = await runCli(["eval", id, "key", "--frame", "0", "--store", store], { cwd: dir });
    expect(rt.code).not.toBe(0);
    expect(rt.stderr).toMatch(/Go runtime's frame/);
    expect(rt.stderr).not.toMatch(/rebuild|goroutine -1/);
  });

  it("a traceback-only report: its numbers are mapped onto Delve's stack", async () => {
    const store = join(dir, "traceback");
    const { id, report, text } = await storedCrash(store, ["--no-analyze"]);
    expect(report.sources.delve.used).toBe(false);
    const frames = report.goroutine!.frames;
    const n = frames.findIndex((f) => f.function === "main.notify");
    expect(text).toContain(`#${n} main.notify(`);
    const r = await evalInCapture(store, id, "j.name", { frame: n });
    expect(r.text).toBe('"nightly"');
    expect(r.frame).toBe(n);
  });
});
