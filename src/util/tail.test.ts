import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { ELISION_RE, readFileTail, Tail } from "./tail.js";

/** Cuts `data` into chunks at the given points (sorted, deduplicated, in range). */
function chunked(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, data.length]) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  return out;
}

const line = fc.oneof(
  fc.constantFrom(
    "panic: boom",
    "fatal error: all goroutines are asleep",
    "goroutine 1 [running]:",
    "\tmain.go:3",
  ),
  fc.string({ unit: fc.constantFrom("a", "b", " ", ":", "\t", "é"), maxLength: 60 }),
);

describe("Tail", () => {
  it("keeps exactly the last `limit` bytes, however the stream is cut (no whole chunk dropped)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 1, max: 500 }),
        (bytes, cuts, limit) => {
          // No newline and no dump line: the tail is the raw last `limit` bytes.
          const data = Buffer.from(bytes.map((b) => (b === 10 ? 11 : b)));
          const t = new Tail(limit, { dumpHead: false });
          for (const c of chunked(data, cuts)) t.push(c);
          expect(t.toBuffer().equals(data.subarray(Math.max(0, data.length - limit)))).toBe(true);
        },
      ),
    );
  });

  it("gives the same text whatever the chunking, and keeps the dump's first line", () => {
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.integer({ min: 64, max: 800 }),
        (lines, cuts, limit) => {
          const data = Buffer.from(`${lines.join("\n")}\n`);
          const whole = new Tail(limit);
          whole.push(data);
          const parts = new Tail(limit);
          for (const c of chunked(data, cuts)) parts.push(c);
          expect(parts.toString()).toBe(whole.toString());
          const first = lines.findIndex((l) => /^(panic: |fatal error: )/.test(l));
          if (first >= 0) {
            const out = parts.toString();
            expect(out.length).toBeLessThanOrEqual(2 * limit + 200);
            // The head is cut at a line end, so a line that alone exceeds `limit` may not be whole.
            if ((lines[first] as string).length < limit) expect(out).toContain(lines[first]);
          }
        },
      ),
    );
  });

  it("keeps the first line whole when the tail starts exactly at a line start", () => {
    // Found by the property above in CI: the dump's `panic:` line began exactly where the last
    // `limit` bytes began, and the tail was cut to its first newline, dropping that line.
    const t = new Tail(64);
    t.push(Buffer.from(`xxxx\npanic: boom\n${"a".repeat(51)}\n`));
    expect(t.toString()).toBe(`panic: boom\n${"a".repeat(51)}\n`);
    const plain = new Tail(10, { dumpHead: false });
    plain.push(Buffer.from("0123456789\nabcdefghi\n"));
    expect(plain.toString()).toBe("abcdefghi\n");
  });

  it("marks what it left out between the head and the tail", () => {
    const t = new Tail(1000);
    t.push(Buffer.from("starting\n"));
    t.push(Buffer.from("panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n"));
    for (let i = 0; i < 500; i++)
      t.push(Buffer.from(`goroutine ${i + 2} [chan receive]:\nmain.main.func1()\n\n`));
    t.push(Buffer.from("exit status 2\n"));
    const out = t.toString();
    expect(out.startsWith("panic: boom\n")).toBe(true);
    expect(out.endsWith("exit status 2\n")).toBe(true);
    const marker = out.split("\n").find((l) => ELISION_RE.test(l));
    const elided = Number(ELISION_RE.exec(marker ?? "")?.[1]);
    // Kept + elided = everything from the panic line on.
    const fromPanic = Buffer.byteLength(
      `panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n${Array.from({ length: 500 }, (_, i) => `goroutine ${i + 2} [chan receive]:\nmain.main.func1()\n\n`).join("")}exit status 2\n`,
    );
    expect(Buffer.byteLength(out) - Buffer.byteLength(`${marker}\n`) + elided).toBe(fromPanic);
  });
});

describe("readFileTail (the dashboard's output tails)", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const file = (text: string) => {
    const d = mkdtempSync(join(tmpdir(), "hotdump-tail-"));
    dirs.push(d);
    writeFileSync(join(d, "stderr.txt"), text);
    return join(d, "stderr.txt");
  };

  it("keeps the first line when the kept bytes start exactly at a line start", () => {
    // The last 20 bytes are "panic: boom\ngoroutin" ... the byte before them is a newline.
    const text = "0123456789abcdef\npanic: boom\n1234567\n";
    const kept = text.slice(text.indexOf("panic"));
    expect(readFileTail(file(text), kept.length)).toBe(kept);
  });

  it("drops a cut first line, keeps a whole file, and is null for no file", () => {
    const text = "first line\nsecond line\nthird\n";
    expect(readFileTail(file(text), "ne\nthird\n".length)).toBe("third\n");
    expect(readFileTail(file(text), 4096)).toBe(text);
    expect(readFileTail(join(tmpdir(), "hotdump-no-such-file"), 10)).toBeNull();
  });

  it("agrees with Tail on any file and limit", () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.integer({ min: 1, max: 400 }), (lines, max) => {
        const text = lines.join("\n");
        const t = new Tail(max, { dumpHead: false });
        t.push(Buffer.from(text));
        expect(readFileTail(file(text), max)).toBe(t.toString());
      }),
      { numRuns: 60 },
    );
  });
});
