/**
 * Issue 22 on real cores of test/fixtures/go/govalues: values read in Go's own notation, and only
 * the nil that mattered named (a struct field, a nil map write, a nil interface method call, a nil
 * func call), through the whole analysis and the text, Markdown, HTML and JSON renderers.
 */
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeCrash } from "../src/analyze/analyzeCrash.js";
import type { Frame, Report } from "../src/contracts/reportModel.js";
import { readBinaryIdentity } from "../src/elf/index.js";
import { renderHtml, renderMarkdown, renderText } from "../src/report/index.js";
import { produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";

let bin = "";
const dirs: string[] = [];

async function crash(mode: string): Promise<Report> {
  const r = await produceCore(bin, [mode]);
  dirs.push(r.dir);
  expect(r.signal).toBe("SIGABRT");
  return analyzeCrash({
    binary: bin,
    core: r.core,
    stderr: r.stderr,
    identity: await readBinaryIdentity(bin),
    useGdb: false,
  });
}

const culprit = (r: Report): Frame | undefined => r.goroutine?.frames[r.culprit?.frame ?? -1];
const variable = (r: Report, name: string) =>
  [...(culprit(r)?.args ?? []), ...(culprit(r)?.locals ?? [])].find((v) => v.name === name);

beforeAll(() => {
  bin = buildGoFixture("govalues");
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("Go's notation on a real core", () => {
  it("prints each well-known value the way Go does, with the fields one level down", async () => {
    const r = await crash("values");
    expect(r.sources.delve.used).toBe(true);
    const value = (n: string) => variable(r, n)?.value;
    expect(value("started")).toBe("time.Time(2026-03-01 09:30:00 +0000 UTC)");
    expect(value("local")).toBe("time.Time(2026-03-01 10:30:00.5 +0100 CET)");
    expect(value("timeout")).toBe("1.5s");
    expect(value("key")).toBe('"job\\xffsome_job"');
    expect(value("payload")).toBe('[]byte("hi\\x00there")');
    expect(value("err")).toBe('"load config.toml: file does not exist" (*fmt.wrapError)');
    expect(value("plain")).toBe('"disk full" (*errors.errorString)');
    expect(value("ip")).toBe("net.IP(192.168.1.10)");
    expect(value("ip6")).toBe("net.IP(2001:db8::1)");
    expect(value("u")).toBe("*url.URL(https://example.com:8443/api/v1?q=1#top)");
    expect(value("n")).toBe("*big.Int(123456789012345678901234567890)");
    expect(value("raw")).toBe('json.RawMessage({"a":1})');
    // The raw fields stay in JSON for whoever wants them.
    expect(variable(r, "started")?.raw).toMatch(/^time\.Time \{wall: 0, ext: \d+, loc: nil\}$/);
    expect(variable(r, "timeout")?.raw).toBe("1500000000");
    // A string panic value repeats nothing the message says.
    expect(renderText(r)).not.toMatch(/^ {2}value:/m);
  });
});

describe("Go's notation on the gdb path, on the same cores", () => {
  /** One core analysed twice: by Delve alone, then by gdb alone (what --no-delve or a failed Delve gives). */
  async function bothPaths(mode: string): Promise<{ delve: Report; gdb: Report }> {
    const r = await produceCore(bin, [mode]);
    dirs.push(r.dir);
    const o = { binary: bin, core: r.core, identity: await readBinaryIdentity(bin) };
    const delve = await analyzeCrash({ ...o, useGdb: false });
    const gdb = await analyzeCrash({ ...o, useDelve: false });
    expect(delve.sources.delve.used).toBe(true);
    expect(gdb.sources.gdb.used).toBe(true);
    expect(gdb.sources.delve.used).toBe(false);
    return { delve, gdb };
  }
  const vars = (r: Report) =>
    Object.fromEntries(
      [...(culprit(r)?.args ?? []), ...(culprit(r)?.locals ?? [])].map((v) => [
        v.name,
        { type: v.type, value: v.value, raw: v.raw },
      ]),
    );

  it("prints every well-known value as the Delve path does, with the raw fields one level down", async () => {
    const { delve, gdb } = await bothPaths("values");
    expect(culprit(gdb)?.function).toBe("main.values");
    const g = vars(gdb);
    expect(g.started?.value).toBe("time.Time(2026-03-01 09:30:00 +0000 UTC)");
    expect(g.local?.value).toBe("time.Time(2026-03-01 10:30:00.5 +0100 CET)");
    expect(g.timeout).toEqual({ type: "time.Duration", value: "1.5s", raw: "1500000000" });
    expect(g.key?.value).toBe('"job\\xffsome_job"');
    expect(g.payload?.value).toBe('[]byte("hi\\x00there")');
    expect(g.err?.value).toBe('"load config.toml: file does not exist" (*fmt.wrapError)');
    expect(g.ip6?.value).toBe("net.IP(2001:db8::1)");
    expect(g.u?.value).toBe("*url.URL(https://example.com:8443/api/v1?q=1#top)");
    expect(g.n?.value).toBe("*big.Int(123456789012345678901234567890)");
    expect(g.raw?.value).toBe('json.RawMessage({"a":1})');
    // Not one of them differs from Delve's, types and raw fields included.
    expect(g).toEqual(vars(delve));
    expect(renderText(gdb)).toContain("timeout=1.5s");
  });

  it("prints a struct with its nil fields and a string with an invalid byte as the Delve path does", async () => {
    const { delve, gdb } = await bothPaths("nilfield");
    const g = vars(gdb);
    expect(g.j?.value).toContain(
      "started: time.Time(2026-03-01 02:00:00 +0000 UTC), timeout: 1.5s, owner: nil",
    );
    expect(g.key?.value).toBe('"job\\xffsome_job"');
    expect(g).toEqual(vars(delve));
  });
});

describe("only the nil that mattered, on real cores", () => {
  it("a nil struct field: names j.owner from the crashing line, not the other seven nil fields", async () => {
    const r = await crash("nilfield");
    expect(r.nil).toEqual({ expression: "j.owner", use: "dereference", addr: "0x0" });
    const text = renderText(r);
    expect(text).toContain("nil: j.owner is nil: dereferenced; fault address 0x0");
    expect(text).not.toMatch(/\(nil: j\./);
    expect(variable(r, "j")?.value).toContain(
      "started: time.Time(2026-03-01 02:00:00 +0000 UTC), timeout: 1.5s",
    );
    expect(variable(r, "key")?.value).toBe('"job\\xffsome_job"');
    // Every nil field stays available in JSON.
    expect(variable(r, "j")?.nilFields).toEqual(
      expect.arrayContaining(["j.owner", "j.retry", "j.labels", "j.err"]),
    );
    expect(renderMarkdown(r)).toContain("**Nil:** `j.owner is nil: dereferenced; fault address 0x0`");
    expect(renderHtml(r)).toContain("Nil: <code>j.owner is nil: dereferenced; fault address 0x0</code>");
  });

  it("a nil map write names the map", async () => {
    const r = await crash("nilmap");
    expect(r.message).toBe("assignment to entry in nil map");
    expect(r.nil).toEqual({ expression: "s.counts", use: "map write" });
    expect(renderText(r)).toContain("nil: s.counts is nil: a nil map written to");
  });

  it("a method call on a nil interface names the interface", async () => {
    const r = await crash("niliface");
    expect(r.nil).toEqual({ expression: "s.notifier", use: "method call", addr: "0x0" });
  });

  it("an optimised build says why the nil cannot be named, and how to fix it", async () => {
    const opt = buildGoFixture("govalues", { debug: false });
    const r = await produceCore(opt, ["nilmap"]);
    dirs.push(r.dir);
    const a = await analyzeCrash({
      binary: opt,
      core: r.core,
      stderr: r.stderr,
      identity: await readBinaryIdentity(opt),
      useGdb: false,
    });
    expect(a.nil).toMatchObject({ expression: null, use: "map write" });
    expect(a.nil?.note).toMatch(/cannot be decided: .*s\.counts.*build with -gcflags=all=-N -l/);
  });

  it("a call of a nil func names the func", async () => {
    const r = await crash("nilfunc");
    expect(r.nil).toEqual({ expression: "s.onDone", use: "call", addr: "0x0" });
    expect(renderText(r)).toContain("s.onDone is nil: a nil func called");
  });
});
