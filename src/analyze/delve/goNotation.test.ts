import { describe, expect, it } from "vitest";
import { delveVariable } from "../../../test/helpers/delve.js";
import { Kind } from "./delveProtocol.js";
import { formatVariable } from "./formatVariable.js";
import { durationString, ipString, quoteBytes, shortType, timeString } from "./goNotation.js";

const v = delveVariable;
const u64 = (name: string, value: string) => v({ name, type: "uint64", kind: Kind.Uint64, value });
const i64 = (name: string, value: string) => v({ name, type: "int64", kind: Kind.Int64, value });
const nilLoc = v({
  name: "loc",
  type: "*time.Location",
  kind: Kind.Ptr,
  value: "0",
  children: [v({ addr: 0 })],
});

describe("quoteBytes (strconv.Quote)", () => {
  it.each([
    [Buffer.from("job\xffsome_job", "latin1"), '"job\\xffsome_job"'],
    [Buffer.from('say "hi"\n\t\\'), '"say \\"hi\\"\\n\\t\\\\"'],
    [Buffer.from("\x00\x07\x7f"), '"\\x00\\a\\x7f"'],
    [Buffer.from("héllo, 世界 😀"), '"héllo, 世界 😀"'],
    [Buffer.from("\u200b\u00ad"), '"\\u200b\\u00ad"'],
  ])("%s", (input, want) => expect(quoteBytes(input)).toBe(want));
  it("escapes every byte of invalid UTF-8 (overlong, surrogate, cut)", () => {
    expect(quoteBytes(Buffer.from([0xc0, 0x80, 0xed, 0xa0, 0x80, 0xe4, 0xb8]))).toBe(
      '"\\xc0\\x80\\xed\\xa0\\x80\\xe4\\xb8"',
    );
  });
});

describe("durationString (time.Duration.String)", () => {
  it.each([
    [0n, "0s"],
    [1n, "1ns"],
    [1_100n, "1.1µs"],
    [2_200_000n, "2.2ms"],
    [1_500_000_000n, "1.5s"],
    [120_000_000_000n, "2m0s"],
    [3_723_000_000_000n, "1h2m3s"],
    [-1_500_000_000n, "-1.5s"],
  ])("%s ns", (ns, want) => expect(durationString(ns)).toBe(want));
});

describe("ipString (net.IP.String)", () => {
  it.each([
    [[192, 168, 1, 10], "192.168.1.10"],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 1], "10.0.0.1"],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "2001:db8::1"],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "::1"],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], "2001:db8:1:0:1::1"],
  ])("%j", (bytes, want) => expect(ipString(Buffer.from(bytes))).toBe(want));
});

describe("timeString (time.Time.String)", () => {
  it("reads wall/ext without a monotonic reading, UTC for a nil Location", () => {
    // Recorded from Delve 1.27.2: time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC).
    const t = v({
      type: "time.Time",
      kind: Kind.Struct,
      children: [u64("wall", "0"), i64("ext", "63907927200"), nilLoc],
    });
    expect(timeString(t)).toBe("2026-03-01 02:00:00 +0000 UTC");
  });
  it("takes the offset from Delve's value and the abbreviation from the zone, and shows m=", () => {
    const zone = v({
      type: "time.zone",
      kind: Kind.Struct,
      children: [
        v({ name: "name", type: "string", kind: Kind.String, value: "CET", len: 3 }),
        v({ name: "offset", type: "int", kind: Kind.Int, value: "3600" }),
      ],
    });
    const loc = v({
      name: "loc",
      type: "*time.Location",
      kind: Kind.Ptr,
      value: "824633794560",
      children: [
        v({
          type: "time.Location",
          kind: Kind.Struct,
          children: [
            v({ name: "name", type: "string", kind: Kind.String, value: "Europe/Berlin", len: 13 }),
            v({ name: "zone", type: "[]time.zone", kind: Kind.Slice, len: 1, children: [zone] }),
          ],
        }),
      ],
    });
    // time.Now() style: hasMonotonic, 33-bit seconds since 1885 in wall, ext the monotonic ns.
    const secsSince1885 = 63907954200n - 59453308800n;
    const wall = (1n << 63n) | (secsSince1885 << 30n) | 500_000_000n;
    const t = v({
      type: "time.Time",
      kind: Kind.Struct,
      value: "2026-03-01T10:30:00+01:00",
      children: [u64("wall", String(wall)), i64("ext", "1234567"), loc],
    });
    expect(timeString(t)).toBe("2026-03-01 10:30:00.5 +0100 CET m=+0.001234567");
    expect(formatVariable({ ...t, name: "t" })).toBe(
      "time.Time(2026-03-01 10:30:00.5 +0100 CET m=+0.001234567)",
    );
    expect(formatVariable({ ...t, name: "t" }, { raw: true })).toMatch(
      /^time\.Time \{wall: \d+, ext: 1234567, loc: /,
    );
  });
});

describe("formatVariable in Go's notation", () => {
  it("spells types as %T does and a Duration, []byte and an error the Go way", () => {
    expect(shortType("*net/url.URL")).toBe("*url.URL");
    expect(shortType("map[string]*example.com/widget.Thing")).toBe("map[string]*widget.Thing");
    expect(formatVariable(v({ type: "time.Duration", kind: Kind.Int64, value: "1500000000" }))).toBe("1.5s");
    const bytes = v({
      type: "[]uint8",
      kind: Kind.Slice,
      len: 3,
      cap: 8,
      base: 0xc000100000,
      children: [104, 0, 255].map((n) => v({ type: "uint8", kind: Kind.Uint8, value: String(n) })),
    });
    expect(formatVariable(bytes)).toBe('[]byte("h\\x00\\xff")');
    expect(formatVariable(bytes, { raw: true })).toBe("[]uint8 len: 3, cap: 8, [104, 0, 255]");
    const err = v({
      type: "error",
      kind: Kind.Interface,
      children: [
        v({
          name: "data",
          type: "*errors.errorString",
          kind: Kind.Ptr,
          value: "824634",
          children: [
            v({
              type: "errors.errorString",
              kind: Kind.Struct,
              len: 1,
              children: [v({ name: "s", type: "string", kind: Kind.String, value: "disk full", len: 9 })],
            }),
          ],
        }),
      ],
    });
    expect(formatVariable(err)).toBe('"disk full" (*errors.errorString)');
  });
});
