import { describe, expect, it } from "vitest";
import { goroutineState } from "./goroutines.js";

describe("goroutine states (Go 1.26 runtime/runtime2.go)", () => {
  it("names the statuses Go 1.26 added or kept, not a bare number", () => {
    const s = (status: number, waitReason = 0) => goroutineState({ status, waitReason }, "go1.26.8");
    expect(s(2)).toBe("running");
    expect(s(9)).toBe("preempted");
    expect(s(10)).toBe("leaked");
    expect(s(11)).toBe("dead (extra M)");
    expect(s(42)).toBe("status 42");
  });
});
