import { describe, expect, it } from "vitest";
import { parseFrameHeader, splitSections, splitTopLevel, toVariable } from "./parseGdb.js";

describe("gdb text parsing", () => {
  it("splits arguments only at top-level commas", () => {
    expect(splitTopLevel("a=1, b={x = 1, y = \"p, q\"}, c='\\'', d=[]int = {1, 2}")).toEqual([
      "a=1",
      'b={x = 1, y = "p, q"}',
      "c='\\''",
      "d=[]int = {1, 2}",
    ]);
    expect(splitTopLevel("")).toEqual([]);
  });

  it("takes the type off runtime-gdb.py's map and slice values and flags optimised-out ones", () => {
    expect(toVariable("m", 'map[string]int = {["a"] = 1}')).toEqual({
      name: "m",
      type: "map[string]int",
      value: '{["a"] = 1}',
    });
    expect(toVariable("x", "<optimized out>")).toMatchObject({ unreadable: "optimized out" });
  });

  it("parses a frame header with and without a pc", () => {
    const f = parseFrameHeader(
      '#13 0x00000000004d439e in main.(*T).run (t=0x0, key="a) at b:1") at /src/main.go:19',
    );
    expect(f).toMatchObject({
      level: 13,
      function: "main.(*T).run",
      file: "/src/main.go",
      line: 19,
      pc: "0x4d439e",
    });
    expect(f?.args.map((a) => a.name)).toEqual(["t", "key"]);
    expect(parseFrameHeader("#0  runtime.raise () at /go/src/runtime/sys_linux_amd64.s:154")).toMatchObject({
      function: "runtime.raise",
      runtime: true,
      line: 154,
    });
  });

  it("cuts stdout at section marks", () => {
    const s = splitSections("noise\n@@hotdump-gdb:a\n1\n2\n@@hotdump-gdb:b\n3");
    expect([...s.entries()]).toEqual([
      ["a", "1\n2"],
      ["b", "3"],
    ]);
  });
});
