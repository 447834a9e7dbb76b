import { describe, expect, it } from "vitest";
import { type CorePathFacts, commFromExecPath, expectedCorePath, timesFit } from "./coreLocation.js";
import { parseCorePattern } from "./corePattern.js";

const facts: CorePathFacts = {
  pid: 4242,
  uid: 1000,
  gid: 1001,
  signal: 6,
  exe: "/srv/app/bin/orders-service-long",
  comm: "orders-service-",
  cwd: "/srv/app",
  hostname: "web1",
  coreLimit: "unlimited",
  dumpable: 1,
  startedAt: 1_700_000_000_000,
  endedAt: 1_700_000_005_500,
};
const file = (p: string, usesPid = false) => {
  const r = parseCorePattern(p, usesPid);
  if (r.kind !== "file") throw new Error("not a file pattern");
  return r;
};

describe("expectedCorePath", () => {
  it("expands every known specifier to an exact path", () => {
    expect(expectedCorePath(file("/c/%p.%P.%u.%g.%d.%s.%h.%e.%f.%c.%%"), facts)).toEqual({
      kind: "exact",
      path: "/c/4242.4242.1000.1001.1.6.web1.orders-service-.orders-service-long.18446744073709551615.%",
    });
  });
  it("resolves a relative pattern against the process's cwd, with core_uses_pid", () => {
    expect(expectedCorePath(file("core"), facts)).toEqual({ kind: "exact", path: "/srv/app/core" });
    expect(expectedCorePath(file("core", true), facts)).toEqual({
      kind: "exact",
      path: "/srv/app/core.4242",
    });
    expect(expectedCorePath(file("cores/x-%p"), facts)).toEqual({
      kind: "exact",
      path: "/srv/app/cores/x-4242",
    });
  });
  it("uses the namespace pid for %p and the initial one for %P", () => {
    const f = { ...facts, pid: 9000, nsPid: 7, initPid: 9000 };
    expect(expectedCorePath(file("/c/%p-%P"), f)).toEqual({ kind: "exact", path: "/c/7-9000" });
  });
  it("makes %t a search with a time capture", () => {
    const loc = expectedCorePath(file("/tmp/x/%e-%p-%t-%s.core"), facts);
    if (loc.kind !== "search") throw new Error("expected a search");
    expect(loc.root).toBe("/tmp/x");
    expect(loc.display).toBe("/tmp/x/orders-service--4242-<t>-6.core");
    const m = loc.components[0]!;
    expect(m.groups).toEqual(["t"]);
    expect(m.regex.exec("orders-service--4242-1700000003-6.core")?.[1]).toBe("1700000003");
    expect(m.regex.test("orders-service--4243-1700000003-6.core")).toBe(false);
  });
  it("matches %E with or without the ' (deleted)' d_path adds after a hot reload", () => {
    const loc = expectedCorePath(file("/c/%E.%p"), facts);
    if (loc.kind !== "search") throw new Error("expected a search");
    const re = loc.components[0]!.regex;
    expect(re.test("!srv!app!bin!orders-service-long.4242")).toBe(true);
    expect(re.test("!srv!app!bin!orders-service-long (deleted).4242")).toBe(true);
    expect(re.test("!srv!app!bin!other.4242")).toBe(false);
  });
  it("searches through directories whose names hold unknowns", () => {
    const loc = expectedCorePath(file("/c/%t/%i/core"), facts);
    if (loc.kind !== "search") throw new Error("expected a search");
    expect(loc.root).toBe("/c");
    expect(loc.components.map((c) => c.regex.source)).toEqual(["^(\\d+)$", "^\\d+$", "^core$"]);
  });
});

describe("timesFit and comm", () => {
  it("accepts %t within the run, with a second of slack", () => {
    expect(timesFit([1_700_000_003], facts)).toBe(true);
    expect(timesFit([1_699_999_999], facts)).toBe(true);
    expect(timesFit([1_699_999_990], facts)).toBe(false);
    expect(timesFit([1_700_000_008], facts)).toBe(false);
  });
  it("derives comm from the exec path: 15 bytes of the basename", () => {
    expect(commFromExecPath("/srv/app/bin/orders-service-long")).toBe("orders-service-");
  });
});
