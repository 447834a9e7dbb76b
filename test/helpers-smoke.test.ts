import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";
import { startSupervised } from "./helpers/supervised.js";
import { withinTest } from "./helpers/testLimit.js";

describe("test helpers", () => {
  it("build a Go fixture and produce a real core of its crash", async () => {
    const bin = buildGoFixture("panicgoroutine");
    const r = await produceCore(bin);
    expect(r.signal).toBe("SIGABRT");
    expect(r.stderr).toContain("panic: runtime error: invalid memory address or nil pointer dereference");
    expect(statSync(r.core).size).toBeGreaterThan(1_000_000);
  });

  it("cut every wait to what is left of the test's own limit, and say so", async () => {
    expect(withinTest(60_000)).toBeLessThanOrEqual(15_000 - 3_000);
    // A supervisor waited on for an event that never comes: the wait ends inside the test's
    // 15 s, named, not as vitest's "Test timed out" after 60 s.
    const cwd = mkdtempSync(join(tmpdir(), "hotdump-smoke-"));
    const sup = startSupervised(["run", "--", "sleep", "1000"], { cwd });
    try {
      const started = Date.now();
      const err = await sup
        .waitFor((e) => e.event === "never", 60_000, "an event that never comes")
        .catch((e) => e);
      expect(String(err)).toMatch(
        /timed out waiting for an event that never comes \(\d+ ms, all the test had left of its limit\)/,
      );
      expect(Date.now() - started).toBeLessThan(13_000);
    } finally {
      await sup.stop("SIGKILL");
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 15_000);
});
