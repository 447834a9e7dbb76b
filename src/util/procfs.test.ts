import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readProcText } from "./procfs.js";

describe("readProcText", () => {
  it("reads a file larger than its buffer whole, then a short one alone", () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-procfs-"));
    try {
      const big = join(dir, "big");
      const text = Array.from({ length: 3000 }, (_, i) => `line ${i}`).join("\n");
      writeFileSync(big, text);
      expect(readProcText(big)).toBe(text);
      expect(readProcText(`/proc/${process.pid}/comm`)).toBe(readFileSync("/proc/self/comm", "latin1"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads /proc files that say their size is 0", () => {
    expect(readProcText("/proc/self/stat").split(" ")[0]).toBe(String(process.pid));
  });

  it("throws as readFileSync does for a process that does not exist", () => {
    expect(() => readProcText("/proc/999999999/stat")).toThrow(/ENOENT/);
  });
});
