import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { Report } from "../contracts/index.js";
import { emptyReport } from "../contracts/index.js";
import { normaliseFunction, normaliseMessage, signatureOf } from "./signature.js";
import { parseTraceback, reportFromTraceback } from "./traceback/index.js";

const FIXTURES = resolve(import.meta.dirname, "../../test/fixtures");

/** A report as the traceback path makes it, from a traceback recorded from a real crash. */
function fromTraceback(name: string): Report {
  const text = readFileSync(resolve(FIXTURES, "tracebacks", name), "utf8");
  const tb = parseTraceback(text);
  if (!tb) throw new Error(`no traceback in ${name}`);
  return { ...emptyReport(), ...reportFromTraceback(tb) };
}

describe("signatureOf", () => {
  it("gives one fingerprint to the same crash printed with GOTRACEBACK=single and =crash", () => {
    const plain = signatureOf(fromTraceback("nil.txt"));
    const crash = signatureOf(fromTraceback("nil-crash.txt"));
    expect(plain.frames).toEqual(["main.process", "main.main"]);
    expect(crash.fingerprint).toBe(plain.fingerprint);
    expect(plain.fingerprint).toMatch(/^v2-[0-9a-f]{16}$/);
  });

  it("gives a Delve report and a traceback report of one crash the same fingerprint", () => {
    // gdbpanic's report.json was written by a real run (Delve path); its frames include the
    // runtime's signal frames, which a plain traceback hides.
    const delve = JSON.parse(
      readFileSync(resolve(FIXTURES, "reports/gdbpanic.report.json.txt"), "utf8"),
    ) as Report;
    const frames = (delve.goroutine?.frames ?? []).filter((f) => !f.runtime);
    const tracebackLike: Report = { ...delve, goroutine: { id: 1, frames } };
    expect(signatureOf(tracebackLike).fingerprint).toBe(signatureOf(delve).fingerprint);
    expect(signatureOf(delve).frames).toEqual(["main.checkout", "main.main.func"]);
  });

  it("tells different crashes apart", () => {
    const names = ["nil.txt", "mapwrites.txt", "struct.txt", "nested.txt", "overflow.txt", "deadlock.txt"];
    const prints = names.map((n) => signatureOf(fromTraceback(n)).fingerprint);
    expect(new Set(prints).size).toBe(names.length);
  });

  it("keeps the kind in the fingerprint", () => {
    const r = fromTraceback("nil.txt");
    expect(signatureOf({ ...r, kind: "recovered" as Report["kind"] }).fingerprint).not.toBe(
      signatureOf(r).fingerprint,
    );
  });
});

describe("normaliseMessage", () => {
  it.each([
    [
      "runtime error: index out of range [5] with length 3",
      "runtime error: index out of range [N] with length N",
    ],
    ["panic: (main.Fault) 0xc000084000", "panic: (main.Fault) 0x?"],
    ['unknown order "A-1234"', 'unknown order "…"'],
    ["lease 3f2a9c0d-1b2c-4d5e-8f90-a1b2c3d4e5f6 expired", "lease <uuid> expired"],
    ["dial tcp 127.0.0.1:5432: connection refused", "dial tcp N:N: connection refused"],
    ["sha256 mismatch\nsecond line", "sha256 mismatch"],
    // Found with recovered panics that name a request's id: each id was a signature of its own.
    ["order 5f3a9c2e1b07 not found", "order <hex> not found"],
    ["session 65f1c2a9e4b0d3f2a1c8e7b6: expired", "session <hex>: expired"],
    ["feedface and deadbeef are words", "feedface and deadbeef are words"],
    ["retry 20261205 failed", "retry N failed"],
  ])("%s", (raw, want) => {
    expect(normaliseMessage(raw)).toBe(want);
  });
});

describe("normaliseFunction", () => {
  it.each([
    ["main.handler.func2.1", "main.handler.func"],
    ["main.(*server).routes.func12", "main.(*server).routes.func"],
    ["main.Map[go.shape.int,go.shape.string]", "main.Map[…]"],
    ["main.(*cache[...]).get", "main.(*cache[…]).get"],
    ["main.(*srv).serve-fm", "main.(*srv).serve"],
    ["main.main.gowrap1", "main.main.gowrap"],
    ["main.init.func1.func2", "main.init.func"],
  ])("%s", (raw, want) => {
    expect(normaliseFunction(raw)).toBe(want);
  });
});
