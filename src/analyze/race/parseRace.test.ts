/**
 * Replays race-detector reports recorded from a real -race Go 1.26 program
 * (test/fixtures/races/record.sh, test/fixtures/go/racewrite).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { emptyReport } from "../../contracts/index.js";
import { applyRaces, isUserFunction, parseRaceReports, raceMessage } from "./index.js";

const ROOT = resolve(import.meta.dirname, "../../../test/fixtures");
const REPO = resolve(ROOT, "../..");
const fixture = (name: string): string =>
  readFileSync(join(ROOT, "races", `${name}.txt`), "utf8").replaceAll("@REPO@", REPO);
const SRC = join(ROOT, "go", "racewrite", "main.go");
function lineOf(needle: string): number {
  const lines = readFileSync(SRC, "utf8").split("\n");
  const hits = lines.flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`${needle}: ${hits.length} hits`);
  return hits[0] as number;
}

describe("parseRaceReports", () => {
  it("reads both accesses, their stacks and the goroutines' creation sites", () => {
    const races = parseRaceReports(fixture("once"));
    expect(races).toHaveLength(1);
    const r = races[0]!;
    expect(r.accesses.map((a) => a.previous)).toEqual([false, true]);
    expect(r.accesses.map((a) => a.op).sort()).toEqual(["read", "write"]);
    expect(new Set(r.accesses.map((a) => a.addr)).size).toBe(1);
    expect(r.accesses[0]!.addr).toMatch(/^0x[0-9a-f]+$/);
    const write = r.accesses.find((a) => a.op === "write")!;
    const read = r.accesses.find((a) => a.op === "read")!;
    expect(write.frames[0]).toMatchObject({
      function: "main.(*ledger).deposit",
      file: SRC,
      line: lineOf("l.balance += n"),
      runtime: false,
    });
    expect(write.frames[1]?.function).toBe("main.race.func1");
    expect(read.frames[0]).toMatchObject({
      function: "main.(*ledger).audit",
      line: lineOf("return l.balance"),
    });
    expect(write.goroutine).not.toBe(read.goroutine);
    // Both goroutines were started in main.race, at the two `go func()` lines.
    expect(r.created.map((c) => c.goroutine).sort()).toEqual([write.goroutine, read.goroutine].sort());
    for (const c of r.created) {
      expect(c.state).toMatch(/^(running|finished)$/);
      expect(c.frames.map((f) => f.function)).toEqual(["main.race", "main.main"]);
    }
    // The racing write is the culprit, whichever access the detector saw first.
    expect(r.culprit).toEqual({
      function: "main.(*ledger).deposit",
      file: SRC,
      line: lineOf("l.balance += n"),
    });
  });

  it("keeps every report of a run; the main goroutine has no number", () => {
    const races = parseRaceReports(fixture("two"));
    expect(races).toHaveLength(2);
    const fees = races[1]!;
    expect(fees.accesses.map((a) => a.op)).toEqual(["write", "write"]);
    expect(fees.accesses.some((a) => a.goroutine === null)).toBe(true);
    expect(fees.culprit).toMatchObject({ function: "main.(*ledger).charge", line: lineOf("l.fees = n") });
    // The main goroutine has no creation site: only the other one is listed.
    expect(fees.created).toHaveLength(1);
  });

  it("halt_on_error=1 stops at the first report", () => {
    expect(parseRaceReports(fixture("halt"))).toHaveLength(1);
  });

  it("a map race: the runtime's map frames are skipped for the culprit", () => {
    const [r] = parseRaceReports(fixture("map"));
    const write = r!.accesses.find((a) => a.op === "write")!;
    expect(write.frames[0]?.function).toBe("runtime.mapassign_faststr");
    expect(write.frames[0]?.runtime).toBe(true);
    expect(r!.culprit).toMatchObject({ function: "main.tally", line: lineOf("seen[k]++") });
  });

  it("a report cut at its start by a ring buffer is skipped, not misread", () => {
    const text = fixture("two");
    const cut = text.slice(text.indexOf("WARNING: DATA RACE") + 5);
    expect(parseRaceReports(cut)).toHaveLength(1);
  });

  it("no race in plain output nor in a Go panic", () => {
    const tb = readFileSync(join(ROOT, "tracebacks", "goroutine.txt"), "utf8");
    expect(parseRaceReports(tb)).toEqual([]);
  });
});

describe("applyRaces", () => {
  it("makes the first race the crash when nothing else killed the program", () => {
    const races = parseRaceReports(fixture("two"));
    const r = applyRaces(emptyReport(), races);
    expect(r.kind).toBe("race");
    expect(r.message).toBe(`${raceMessage(races[0]!)} (and 1 more)`);
    expect(r.message).toMatch(
      /^data race on 0x[0-9a-f]+: write by goroutine \d+ at main\.go:\d+, read by goroutine \d+ at main\.go:\d+ \(and 1 more\)$/,
    );
    expect(r.culprit?.function).toBe("main.(*ledger).deposit");
    expect(r.races).toHaveLength(2);
  });

  it("a panic stays the crash; the races are kept beside it with a warning", () => {
    const base = { ...emptyReport(), kind: "panic" as const, message: "boom" };
    base.sources.traceback = { used: true };
    const r = applyRaces(base, parseRaceReports(fixture("once")));
    expect(r.kind).toBe("panic");
    expect(r.message).toBe("boom");
    expect(r.races).toHaveLength(1);
    expect(r.warnings.join()).toMatch(/also reported 1 data race/);
  });
});

describe("isUserFunction", () => {
  it("main and domain-named modules are the user's; std and runtime are not", () => {
    expect(isUserFunction("main.(*ledger).deposit")).toBe(true);
    expect(isUserFunction("example.com/shop/cart.(*Cart).Add")).toBe(true);
    expect(isUserFunction("sync.(*Mutex).Unlock")).toBe(false);
    expect(isUserFunction("net/http.(*conn).serve")).toBe(false);
    expect(isUserFunction("runtime.mapassign_faststr")).toBe(false);
  });
});
