/**
 * The streaming race watcher on real race-detector output (test/fixtures/races/record.sh), fed
 * line by line as the supervisor and exec feed it.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseRaceReports } from "../analyze/race/index.js";
import { createRaceWatcher, MAX_RACES } from "./race.js";

const ROOT = resolve(import.meta.dirname, "../../test/fixtures");
const fixture = (name: string) => readFileSync(join(ROOT, "races", `${name}.txt`), "utf8");

describe("createRaceWatcher", () => {
  it("reports each race as its closing rule arrives, the same as the parser finds in the whole text", () => {
    const text = fixture("two");
    const seen: number[] = [];
    const w = createRaceWatcher((_r, n) => seen.push(n));
    for (const line of text.split("\n")) w.line(line);
    expect(seen).toEqual([1, 2]);
    expect(w.races).toEqual(parseRaceReports(text));
  });

  it("keeps every report of a long run, however much output came between them", () => {
    const one = fixture("once");
    const w = createRaceWatcher();
    const noise = Array.from({ length: 5000 }, (_, i) => `request ${i} served`).join("\n");
    for (let i = 0; i < 50; i++) for (const line of `${noise}\n${one}`.split("\n")) w.line(line);
    expect(w.count).toBe(50);
    expect(w.races).toHaveLength(50);
  });

  it("stops keeping at MAX_RACES but still counts", () => {
    const lines = fixture("once").split("\n");
    const w = createRaceWatcher();
    for (let i = 0; i < MAX_RACES + 3; i++) for (const l of lines) w.line(l);
    expect(w.races).toHaveLength(MAX_RACES);
    expect(w.count).toBe(MAX_RACES + 3);
  });

  it("a report whose closing rule never comes is not reported", () => {
    const text = fixture("once");
    const w = createRaceWatcher();
    for (const l of text.slice(0, text.lastIndexOf("==================")).split("\n")) w.line(l);
    expect(w.count).toBe(0);
  });
});
