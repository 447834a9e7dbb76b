import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { createTracebackFolder } from "./fold.js";

// Recorded from real crashes (test/fixtures/tracebacks/record.sh).
const fixture = (name: string) =>
  readFileSync(resolve(import.meta.dirname, `../../test/fixtures/tracebacks/${name}.txt`), "utf8").split(
    "\n",
  );

describe("folding a crash dump in the terminal", () => {
  it("keeps the panic and the crashing goroutine, folds the other goroutines into one line", () => {
    const lines = fixture("nil-crash");
    const f = createTracebackFolder();
    const shown = lines.map((l) => f.line(l)).filter((l): l is string => l !== null);
    const tail = f.flush();
    expect(shown).toContain("panic: runtime error: invalid memory address or nil pointer dereference");
    expect(shown.join("\n")).toMatch(/goroutine \d+ .*\[running\]/);
    const goroutines = lines.filter((l) => /^goroutine \d+/.test(l)).length;
    expect(goroutines).toBeGreaterThan(1);
    expect(shown.filter((l) => /^goroutine \d+/.test(l))).toHaveLength(1);
    expect(tail).toMatch(/^… \d+ more traceback lines/);
    expect(shown.length + Number(tail?.match(/\d+/)?.[0])).toBe(lines.length);
  });

  it("ends the fold at the next ordinary output line and leaves other output alone", () => {
    const f = createTracebackFolder();
    expect(f.line("2026/11/29 listening")).toBe("2026/11/29 listening");
    for (const l of fixture("nil-crash")) f.line(l);
    const next = f.line("2026/11/29 listening again");
    expect(next).toMatch(/^… \d+ more traceback lines .*\n2026\/11\/29 listening again$/);
    expect(f.flush()).toBeNull();
  });
});
