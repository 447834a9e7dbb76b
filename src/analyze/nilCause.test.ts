import { describe, expect, it } from "vitest";
import {
  decideNil,
  type EvaluatedCandidate,
  importedNames,
  nilCandidates,
  nilCrashKind,
} from "./nilCause.js";

const pairs = (line: string) => nilCandidates(line).map((c) => `${c.use}:${c.expression}`);

describe("nilCandidates", () => {
  it("reads through each prefix of a selector chain, and ignores strings and comments", () => {
    expect(pairs(`\tfmt.Println("notify", j.name, key, j.owner.email) // j.hooks.x`)).toEqual([
      "method call:fmt",
      "call:fmt.Println",
      "dereference:j",
      "dereference:j.owner",
    ]);
  });
  it("names a map write, a method call on an interface, a func call and a unary *", () => {
    expect(pairs("\ts.counts[word]++")).toEqual(["dereference:s", "map write:s.counts"]);
    expect(pairs("\ts.counts[word] += 2")).toContain("map write:s.counts");
    expect(pairs("\tx := s.counts[word]")).not.toContain("map write:s.counts");
    expect(pairs('\t_ = s.notifier.Notify("down")')).toEqual([
      "dereference:s",
      "method call:s.notifier",
      "call:s.notifier.Notify",
    ]);
    expect(pairs("\ts.onDone(s.name)")).toEqual(["method call:s", "call:s.onDone", "dereference:s"]);
    expect(pairs("\treturn *p + a * b")).toEqual(["dereference:p"]);
  });
});

describe("decideNil", () => {
  const c = (expression: string, use: EvaluatedCandidate["use"], nil: boolean | null, kind: string) => ({
    expression,
    use,
    nil,
    kind,
    ...(nil === null ? { why: "optimised away here" } : {}),
  });
  it("names the one nil, says when several were nil or none could be read", () => {
    expect(
      decideNil(
        "dereference",
        [c("j", "dereference", false, "pointer"), c("j.owner", "dereference", true, "pointer")],
        "0x0",
        true,
      ),
    ).toEqual({ expression: "j.owner", use: "dereference", addr: "0x0" });
    const two = decideNil(
      "dereference",
      [c("a", "dereference", true, "pointer"), c("b", "dereference", true, "pointer")],
      "0x8",
      true,
    );
    expect(two).toMatchObject({
      expression: null,
      candidates: ["a", "b"],
      note: expect.stringMatching(/cannot be decided.*a and b/),
    });
    expect(decideNil("map write", [c("m", "map write", null, "map")], undefined, true)).toMatchObject({
      expression: null,
      note: expect.stringContaining("m could not be read (optimised away here)"),
    });
    expect(decideNil("dereference", [], "0x0", false).note).toMatch(/source is not on this machine/);
  });
  it("counts only a nil used the way its kind crashes", () => {
    // A nil map read does not crash; a nil interface whose method is called does.
    expect(
      decideNil("map write", [c("m", "dereference", true, "map")], undefined, true).expression,
    ).toBeNull();
    expect(decideNil("dereference", [c("n", "method call", true, "interface")], "0x0", true).expression).toBe(
      "n",
    );
  });
});

describe("nilCrashKind", () => {
  it("knows a nil dereference and a nil map write, and a SIGSEGV in the first page", () => {
    expect(nilCrashKind("runtime error: invalid memory address or nil pointer dereference")).toBe(
      "dereference",
    );
    expect(nilCrashKind("assignment to entry in nil map")).toBe("map write");
    expect(nilCrashKind("SIGSEGV: segmentation violation", "0x18")).toBe("dereference");
    expect(nilCrashKind("SIGSEGV: segmentation violation", "0xc000010000")).toBeNull();
    expect(nilCrashKind("boom")).toBeNull();
  });
});

describe("importedNames", () => {
  it("names what the imports bind, aliases included, blank and dot imports left out", () => {
    const src = [
      "package main",
      "",
      "import (",
      '\t"fmt"',
      '\tu "net/url"',
      '\t_ "embed"',
      '\t"github.com/x/go-yaml"',
      ")",
      'import "math/big"',
    ];
    expect([...importedNames(src)].sort()).toEqual(["big", "fmt", "u", "yaml"]);
  });
});
