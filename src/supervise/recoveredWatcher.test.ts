import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { createRecoveredPanicWatcher } from "./recoveredWatcher.js";

// Recorded from real services (test/fixtures/tracebacks/record.sh, test/fixtures/recovered/record.sh).
const recorded = (name: string) =>
  readFileSync(resolve(import.meta.dirname, `../../test/fixtures/tracebacks/${name}.txt`), "utf8");

function watch(lines: string[]) {
  const seen: { form: string; message: string; fn?: string; text: string }[] = [];
  const w = createRecoveredPanicWatcher((p, text) =>
    seen.push({ form: p.form, message: p.message, fn: p.goroutine?.frames[0]?.function, text }),
  );
  for (const l of lines) w.line(l);
  w.flush();
  return seen;
}

describe("recovered panics in a service's output, line by line", () => {
  for (const [file, form, fn] of [
    ["http", "net/http", "main.checkout"],
    ["recovered-chi", "chi", "main.reserve"],
    ["recovered-gin", "gin", "main.total"],
    ["recovered-echo", "echo", "main.taxFor"],
    ["recovered-grpc", "grpc", "main.probeDependency"],
  ] as const)
    it(`${form}: found among ordinary log lines, the panic site named`, () => {
      const seen = watch([
        "2026/11/29 12:00:00 listening",
        ...recorded(file).split("\n"),
        "2026/11/29 12:00:01 request served",
      ]);
      expect(seen.length).toBeGreaterThanOrEqual(1);
      expect(seen[0]?.form).toBe(form);
      expect(seen[0]?.message).toBeTruthy();
      expect(seen[0]?.fn).toBe(fn);
      // The block handed on is the panic's own text, not the log around it.
      expect(seen[0]?.text).not.toContain("listening");
    });

  it("two panics back to back are two blocks", () => {
    const gin = recorded("recovered-gin").split("\n");
    expect(watch([...gin, ...gin]).map((s) => s.form)).toEqual(["gin", "gin"]);
  });

  it("ignores output without a recovered panic", () => {
    expect(
      watch(["starting", "\tindented but not a panic", "goroutine talk", "panic: not recovered"]),
    ).toEqual([]);
  });
});
