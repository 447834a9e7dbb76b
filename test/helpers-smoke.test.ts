import { statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";

describe("test helpers", () => {
  it("build a Go fixture and produce a real core of its crash", async () => {
    const bin = buildGoFixture("panicgoroutine");
    const r = await produceCore(bin);
    expect(r.signal).toBe("SIGABRT");
    expect(r.stderr).toContain("panic: runtime error: invalid memory address or nil pointer dereference");
    expect(statSync(r.core).size).toBeGreaterThan(1_000_000);
  });
});
