import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createBatcher } from "./debounce.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("createBatcher", () => {
  const batcher = (delayMs = 50) => {
    const batches: string[][] = [];
    const b = createBatcher({ delayMs, onFlush: (p) => batches.push(p) });
    return { b, batches };
  };

  it("waits the whole debounce while a write is in progress", () => {
    const { b, batches } = batcher();
    b.add("main.go");
    vi.advanceTimersByTime(49);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([["main.go"]]);
  });

  it("flushes 2 ms after the last event once every file in the batch is complete", () => {
    const { b, batches } = batcher();
    b.add("main.go"); // IN_MODIFY
    b.add("main.go", true); // IN_CLOSE_WRITE
    vi.advanceTimersByTime(2);
    expect(batches).toEqual([["main.go"]]);
  });

  it("keeps waiting while another file of the batch is still being written", () => {
    const { b, batches } = batcher();
    b.add("a.go");
    b.add("b.go");
    b.add("a.go", true);
    vi.advanceTimersByTime(10);
    expect(batches).toEqual([]);
    b.add("b.go", true);
    vi.advanceTimersByTime(2);
    expect(batches).toEqual([["a.go", "b.go"]]);
  });

  it("never waits longer than the debounce, and a write after completion reopens the file", () => {
    const { b, batches } = batcher(5);
    b.add("x.go", true);
    b.add("x.go");
    vi.advanceTimersByTime(4);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([["x.go"]]);
  });
});
