import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { findRecoveredPanics, recoveredStart, recoveredTraceback } from "./recoveredPanics.js";
import { reportFromTraceback } from "./tracebackReport.js";

// Recorded from real services (test/fixtures/recovered/record.sh).
const recorded = (name: string) =>
  readFileSync(resolve(import.meta.dirname, `../../../test/fixtures/tracebacks/${name}.txt`), "utf8");

describe("recovered panics in each server's own form", () => {
  const cases = [
    // Go's client retried the request once (the server closed the connection): two panics.
    { file: "http", form: "net/http", message: "checkout: empty cart for A-1", fn: "main.checkout", n: 2 },
    {
      file: "recovered-chi",
      form: "chi",
      message: "reserve: order has no lines for A-1",
      fn: "main.reserve",
      n: 1,
    },
    { file: "recovered-gin", form: "gin", message: "total: no prices for A-1", fn: "main.total", n: 1 },
    {
      file: "recovered-echo",
      form: "echo",
      message: "taxFor: no tax table for A-1",
      fn: "main.taxFor",
      n: 1,
    },
    {
      file: "recovered-grpc",
      form: "grpc",
      message: "probeDependency: no dependency table for A-1",
      fn: "main.probeDependency",
      n: 1,
    },
  ] as const;
  for (const c of cases)
    it(`${c.form}: the value, the stack from the panic site, and the culprit by the shared classifier`, () => {
      const found = findRecoveredPanics(recorded(c.file));
      expect(found).toHaveLength(c.n);
      const p = found[0]!;
      expect(p.form).toBe(c.form);
      expect(p.message).toBe(c.message);
      // The site comes first: the recovering handler's own frames are gone.
      expect(p.goroutine?.frames[0]?.function).toBe(c.fn);
      expect(p.goroutine?.frames[0]?.file).toMatch(/\/main\.go$/);
      expect(p.goroutine?.frames.length).toBeGreaterThan(3);
      const r = reportFromTraceback(recoveredTraceback(p));
      expect(r.culprit?.function).toBe(c.fn);
      expect(r.culprit?.line).toBeGreaterThan(0);
      expect(r.nested).toEqual([]);
      // Whose code each frame is: the service's, and the server's it ran under.
      expect(r.goroutine?.frames[0]?.class).toBe("user");
      expect(r.goroutine?.frames.some((f) => f.class === "stdlib" || /@v/.test(f.file))).toBe(true);
    });

  it("gin's package-less names get their package back from the file path", () => {
    const p = findRecoveredPanics(recorded("recovered-gin"))[0]!;
    const fns = p.goroutine?.frames.map((f) => f.function) ?? [];
    expect(fns).toContain("main.main.func1");
    expect(fns).toContain("github.com/gin-gonic/gin.(*Context).Next");
    expect(fns).toContain("net/http.(*conn).serve");
    expect(fns.at(-1)).toBe("runtime.goexit");
  });

  it("chi's coloured output (a terminal) reads the same", () => {
    const colored = recorded("recovered-chi")
      .split("\n")
      .map((l) => (l.trim() ? `\x1b[31m${l}\x1b[0m` : l))
      .join("\n");
    const p = findRecoveredPanics(colored)[0];
    expect(p?.message).toBe("reserve: order has no lines for A-1");
    expect(p?.goroutine?.frames[0]?.function).toBe("main.reserve");
  });

  it("grpc's error escaped on one line by slog reads the same as the raw one", () => {
    const raw = recorded("recovered-grpc");
    const start = raw.indexOf("panic caught: ");
    const escaped = `time=2026-12-05T21:00:00Z level=ERROR msg="grpc call failed" err=${JSON.stringify(raw.slice(start).trimEnd())}`;
    const p = findRecoveredPanics(`starting\n${escaped}\nnext line`)[0];
    expect(p?.form).toBe("grpc");
    expect(p?.message).toBe("probeDependency: no dependency table for A-1");
    expect(p?.goroutine?.frames[0]?.function).toBe("main.probeDependency");
  });

  it("a real crash's panic line and ordinary logs are no recovered panic", () => {
    expect(findRecoveredPanics(recorded("goroutine"))).toEqual([]);
    expect(recoveredStart("panic: boom")).toBeNull();
    expect(recoveredStart("2026/12/05 listening on 127.0.0.1:8080")).toBeNull();
  });

  it("a storm in one text gives one entry each", () => {
    const one = recorded("recovered-gin");
    expect(findRecoveredPanics(one + one + one)).toHaveLength(3);
    const e = recorded("recovered-echo");
    expect(findRecoveredPanics(e + e)).toHaveLength(2);
  });
});
