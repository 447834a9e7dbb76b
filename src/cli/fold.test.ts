import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { createGenerationFolds, createTracebackFolder } from "./fold.js";

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

  it("folds each generation on its own, and nothing with --verbose", () => {
    const lines = fixture("nil-crash");
    const folds = createGenerationFolds(false);
    // Generation 2's output arrives in the middle of generation 1's dump (a switch under way).
    const half = Math.floor(lines.length / 2);
    const one = lines.slice(0, half).map((l) => folds.line(1, l));
    expect(folds.line(2, "2026/11/29 listening")).toBe("2026/11/29 listening");
    one.push(...lines.slice(half).map((l) => folds.line(1, l)));
    const shown = one.filter((l) => l !== null).length;
    const tail = folds.flush(1);
    expect(shown + Number(tail?.match(/\d+/)?.[0])).toBe(lines.length);
    expect(folds.flush(2)).toBeNull();
    expect(folds.flush(3)).toBeNull();

    const verbose = createGenerationFolds(true);
    expect(lines.every((l) => verbose.line(1, l) === l)).toBe(true);
    expect(verbose.flush(1)).toBeNull();
  });
});
