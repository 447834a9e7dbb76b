import { describe, expect, it } from "vitest";
import { emptyReport, type Frame, type Report } from "../contracts/index.js";
import { renderHtml } from "./html.js";
import { code, fence, renderMarkdown } from "./markdown.js";
import { foldFrames, variableText } from "./present.js";
import { renderText } from "./text.js";

const frame = (fn: string, runtime: boolean, line = 1): Frame => ({
  function: fn,
  file: `/src/${fn}.go`,
  line,
  args: [],
  locals: [],
  runtime,
  class: runtime ? "runtime" : "user",
});

function report(): Report {
  const r = emptyReport();
  r.kind = "panic";
  r.message = "boom";
  r.culprit = { function: "main.work", file: "/src/main.work.go", line: 7 };
  r.goroutine = {
    id: 9,
    frames: [
      frame("runtime.raise", true),
      frame("runtime.gopanic", true),
      frame("main.work", false, 7),
      frame("main.main", false),
      frame("runtime.main", true),
      frame("runtime.goexit", true),
      frame("runtime.x", true),
    ],
  };
  r.goroutines = {
    total: 130,
    groups: Array.from({ length: 13 }, (_, i) => ({
      count: 10,
      state: "chan receive",
      function: `main.worker${i}`,
      file: "/src/w.go",
      line: i + 1,
    })),
  };
  return r;
}

describe("presentation", () => {
  it("folds runs of runtime frames", () => {
    expect(
      foldFrames(report().goroutine!.frames).map((x) => (x.kind === "folded" ? x.count : x.frame.function)),
    ).toEqual([2, "main.work", "main.main", 3]);
    const txt = renderText(report());
    expect(txt).toContain("... 2 runtime frames");
    expect(txt).toContain("... 3 runtime frames");
    expect(txt).not.toContain("runtime.goexit");
  });

  it("shows the top 10 goroutine groups and counts the rest, in every human format", () => {
    for (const out of [renderText(report()), renderMarkdown(report()), renderHtml(report())]) {
      expect(out).toContain("main.worker9");
      expect(out).not.toContain("main.worker10");
      expect(out).toContain("3 more groups");
    }
  });

  it("says why a variable has no value", () => {
    expect(variableText({ name: "x", type: "int", value: "", unreadable: "optimized out" })).toBe(
      "x=<unreadable: optimized out>",
    );
    expect(variableText({ name: "k", type: "string", value: '"tok"', redacted: true })).toBe("k=<redacted>");
    expect(variableText({ name: "s", type: "string", value: "a".repeat(500) })).toHaveLength(2 + 160);
  });

  it("renders a report without culprit or stack", () => {
    const r = emptyReport();
    r.goVersion = "go1.26.8";
    for (const out of [renderText(r), renderMarkdown(r), renderHtml(r)]) expect(out).toMatch(/not found/i);
  });

  it("says a crash without Go build info is not a Go program", () => {
    const r = emptyReport();
    r.kind = "signal";
    for (const out of [renderText(r), renderMarkdown(r), renderHtml(r)])
      expect(out).toMatch(/not a Go program/);
  });

  it("renders nested panics and the decoded value", () => {
    const r = report();
    r.value = 'main.Fault {Code: 503, Reason: "overload"}';
    r.nested = [{ message: "first", recovered: true }];
    const txt = renderText(r);
    expect(txt).toContain('value: main.Fault {Code: 503, Reason: "overload"}');
    expect(txt).toContain("earlier panic: first [recovered]");
    expect(renderMarkdown(r)).toContain('`main.Fault {Code: 503, Reason: "overload"}`');
  });

  it("picks code fences and spans longer than the backticks inside", () => {
    expect(fence("a ``` b")).toBe("````\na ``` b\n````");
    expect(code("a`b")).toBe("``a`b``");
    expect(code("`x`")).toBe("`` `x` ``");
    expect(code("a|b", true)).toBe("`a\\|b`");
  });
});
