import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { createRecoveredPanicWatcher } from "./recovered.js";

// Recorded from a real net/http service (test/fixtures/tracebacks/record.sh).
const HTTP = readFileSync(resolve(import.meta.dirname, "../../test/fixtures/tracebacks/http.txt"), "utf8");

describe("recovered HTTP panics in a service's output", () => {
  it("finds the block among ordinary log lines, line by line, and names the handler", () => {
    const seen: { message: string; fn?: string }[] = [];
    const w = createRecoveredPanicWatcher((p) => seen.push({ message: p.message, fn: p.culprit?.function }));
    w.line("2026/11/29 12:00:00 listening");
    for (const l of HTTP.split("\n")) w.line(l);
    w.line("2026/11/29 12:00:01 request served");
    w.flush();
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen[0]?.message).toBeTruthy();
    expect(seen[0]?.fn).toMatch(/^main\./);
  });

  it("ignores output without a recovered panic", () => {
    const seen: unknown[] = [];
    const w = createRecoveredPanicWatcher((p) => seen.push(p));
    for (const l of ["starting", "\tindented but not a panic", "goroutine talk"]) w.line(l);
    w.flush();
    expect(seen).toEqual([]);
  });
});
