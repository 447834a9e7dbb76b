/**
 * Bad input, seeded with real samples: every input to the core reader, the traceback parser, the
 * core_pattern parser and the config loader ends in a result or a HotdumpError within a time
 * bound, never a hang (catastrophic regex backtracking, a loop on a bogus count) or an
 * unhandled exception. src/elf/file.test.ts fuzzes ELF headers; this adds cores cut and corrupted
 * where the reader trusts counts and offsets (e_phnum, p_filesz, note sizes).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseTraceback } from "../src/analyze/traceback/index.js";
import { expectedCorePath } from "../src/capture/coreLocation.js";
import { parseCorePattern } from "../src/capture/corePattern.js";
import { loadConfig, renderInitConfig } from "../src/config/index.js";
import { createBufferSource } from "../src/elf/byteSource.js";
import { openCore } from "../src/elf/core.js";
import { isHotdumpError } from "../src/errors.js";

const FIX = join(import.meta.dirname, "fixtures");
const coreHead = readFileSync(join(FIX, "elf/core-head.bin"));
const tracebacks = readdirSync(join(FIX, "tracebacks"))
  .filter((f) => f.endsWith(".txt"))
  .map((f) => readFileSync(join(FIX, "tracebacks", f), "utf8"));
const PER_RUN_MS = 5_000;

/** Result or HotdumpError, within PER_RUN_MS; anything else fails the property. */
async function bounded(what: string, fn: () => unknown | Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer in ${PER_RUN_MS} ms`)), PER_RUN_MS);
      }),
    ]);
  } catch (e) {
    if (!isHotdumpError(e)) throw e;
  } finally {
    clearTimeout(timer);
  }
  // A synchronous hang cannot be raced; its time still shows here.
  expect(performance.now() - t0, what).toBeLessThan(PER_RUN_MS);
}

describe("core reader on mutated real core heads", () => {
  // Where the 64-bit ELF header keeps e_phoff (32), e_phentsize (54) and e_phnum (56), and the
  // program headers start: the bytes a hostile core would lie in.
  const hot = fc.oneof(
    fc.integer({ min: 0, max: 64 }),
    fc.integer({ min: 64, max: Math.min(coreHead.length - 1, 64 + 56 * 40) }),
    fc.nat(coreHead.length - 1),
  );
  it("any mutation and cut: segments, notes, memory and chunks read, or a HotdumpError", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(hot, fc.oneof(fc.constant(0xff), fc.constant(0), fc.integer({ min: 0, max: 255 }))),
          { minLength: 1, maxLength: 16 },
        ),
        fc.nat(coreHead.length),
        async (muts, cut) => {
          const b = Buffer.from(coreHead);
          for (const [at, v] of muts) b[at] = v;
          for (const bytes of [b, b.subarray(0, cut)])
            await bounded("openCore", async () => {
              const c = await openCore(createBufferSource(bytes, "fuzz-core"));
              try {
                for (const s of c.segments.slice(0, 6)) await c.readMemory(s.vaddr, 256, { partial: true });
                let n = 0;
                for await (const _ of c.chunks({ chunkSize: 4096 })) if (++n > 4) break;
                expect(c.threads.length).toBeGreaterThanOrEqual(0);
              } finally {
                await c.close();
              }
            });
        },
      ),
      { numRuns: 250, seed: 1729 },
    );
  }, 60_000);
});

describe("traceback parser on mutated real tracebacks", () => {
  const lineEdit = fc.oneof(
    fc.record({ op: fc.constant("drop" as const), at: fc.nat() }),
    fc.record({ op: fc.constant("dup" as const), at: fc.nat(), times: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text: fc.string({ maxLength: 80 }) }),
    fc.record({ op: fc.constant("cut" as const), at: fc.nat(), col: fc.nat(120) }),
    fc.record({
      op: fc.constant("tabs" as const),
      at: fc.nat(),
      text: fc.constantFrom(
        "\t",
        "\t\t",
        "goroutine ",
        "panic: ",
        "created by ",
        " +0x",
        "[signal ",
        "\r",
        "\u0000",
        "(...)",
        "...additional frames elided...",
      ),
    }),
  );
  it("every edit gives a Traceback or null, in bounded time", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...tracebacks),
        fc.array(lineEdit, { maxLength: 10 }),
        async (seed, edits) => {
          const lines = seed.split("\n");
          for (const e of edits) {
            const at = lines.length ? e.at % lines.length : 0;
            if (e.op === "drop") lines.splice(at, 1);
            else if (e.op === "dup") lines.splice(at, 0, ...Array(e.times).fill(lines[at] ?? ""));
            else if (e.op === "insert") lines.splice(at, 0, e.text);
            else if (e.op === "cut") lines[at] = (lines[at] ?? "").slice(0, e.col);
            else lines[at] = e.text + (lines[at] ?? "");
          }
          await bounded("parseTraceback", () => {
            const t = parseTraceback(lines.join("\n"));
            if (t !== null) expect(typeof t).toBe("object");
          });
        },
      ),
      { numRuns: 400, seed: 42 },
    );
  }, 60_000);

  it("pathological lines: one 1 MB line, 50,000 'goroutine ' headers, deep nesting of panics", async () => {
    await bounded("long line", () => parseTraceback(`panic: ${"x".repeat(1 << 20)}\n`));
    await bounded("headers", () =>
      parseTraceback(`panic: a\n\n${"goroutine 1 [running]:\n".repeat(50_000)}`),
    );
    await bounded("nested", () => parseTraceback(`${"panic: a [recovered]\n\t".repeat(20_000)}panic: b\n`));
    await bounded("spaces", () =>
      parseTraceback(
        `panic: ${" ".repeat(100_000)}\ngoroutine 1 [running]:\nmain.f(${" ".repeat(100_000)}\n`,
      ),
    );
  }, 30_000);
});

describe("core_pattern parser", () => {
  const real = [
    "core",
    "core.%p",
    "/var/crash/%e.%p.%t",
    "|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h %d %F",
    "|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -F%F -- %E",
    "/tmp/cores/core-%e-%p-%t",
    "@/run/coredump.socket",
    "@@/run/x",
    "%%%e/%h/%%p",
  ];
  const specs = fc.constantFrom(
    ..."%p %P %i %I %u %g %d %s %c %t %C %F %h %e %f %E %% % / . .. |".split(" "),
  );
  const pattern = fc.oneof(
    fc.constantFrom(...real),
    fc.array(fc.oneof(specs, fc.string({ maxLength: 6 })), { maxLength: 30 }).map((a) => a.join("")),
    fc.tuple(fc.constantFrom(...real), fc.string({ maxLength: 140 })).map(([a, b]) => a + b),
  );
  const facts = fc.record({
    pid: fc.integer({ min: 1, max: 4_194_304 }),
    comm: fc.oneof(fc.string({ maxLength: 16 }), fc.constantFrom("../../etc", "..", "a/b", "*.*", "(x)|[y]")),
    exe: fc.oneof(
      fc.constant("/srv/app"),
      fc.string({ maxLength: 40 }).map((s) => `/x/${s}`),
    ),
    hostname: fc.string({ maxLength: 20 }),
    uid: fc.nat(65535),
    signal: fc.integer({ min: 1, max: 64 }),
  });
  it("any pattern and any process facts: a parse, a location that stays absolute, regexes that answer fast", async () => {
    await fc.assert(
      fc.asyncProperty(
        pattern,
        fc.boolean(),
        facts,
        fc.array(fc.string({ maxLength: 60 }), { maxLength: 5 }),
        async (p, usesPid, f, names) => {
          await bounded("parseCorePattern", () => {
            const parsed = parseCorePattern(p, usesPid);
            expect(["file", "pipe", "socket"]).toContain(parsed.kind);
            expect(parsed.pattern.length).toBeLessThanOrEqual(127);
            if (parsed.kind !== "file") return;
            const loc = expectedCorePath(parsed, {
              ...f,
              cwd: "/work/app",
              startedAt: 1_700_000_000_000,
              endedAt: 1_700_000_001_000,
            });
            if (loc.kind === "exact") expect(isAbsolute(loc.path)).toBe(true);
            else {
              expect(isAbsolute(loc.root)).toBe(true);
              for (const c of loc.components) for (const n of [...names, "x".repeat(5000)]) c.regex.test(n);
            }
          });
        },
      ),
      { numRuns: 500, seed: 7 },
    );
  }, 60_000);
});

describe("config loader", () => {
  const valid = renderInitConfig();
  const air = readFileSync(join(FIX, "config/air-realistic.toml"), "utf8");
  const load = (text: string, name = "hotdump.toml") => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-fuzzcfg-"));
    try {
      writeFileSync(join(dir, name), text);
      return loadConfig({ cwd: dir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("the seeds load", () => {
    expect(load(valid).source).toBe("hotdump.toml");
    expect(load(air, ".air.toml").source).toBe(".air.toml");
  });

  it("random TOML-ish text and mutated valid configs: a config or a HotdumpError", async () => {
    const tomlish = fc.array(
      fc.oneof(
        fc.constantFrom(
          "[build]",
          "[run]",
          "[watch]",
          "[store]",
          "[supervise]",
          "[[x]]",
          "[build",
          "a = ",
          "= 1",
          'cmd = "go build"',
          "args = [",
          "]",
          'dir = "/"',
          'max_use = "-1GB"',
          "debounce = 1e999",
          'stop_timeout = "99999h"',
          "env = { A = 1 }",
          '"""',
          "'''",
          "\\u0000",
        ),
        fc.string({ maxLength: 30 }),
      ),
      { maxLength: 25 },
    );
    const mutated = fc
      .tuple(
        fc.constantFrom(valid, air),
        fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.string({ maxLength: 12 })), { minLength: 1, maxLength: 6 }),
      )
      .map(([seed, edits]) => {
        let s = seed;
        for (const [at, op, text] of edits) {
          const i = at % (s.length + 1);
          s =
            op === 0
              ? s.slice(0, i) + text + s.slice(i)
              : op === 1
                ? s.slice(0, i) + s.slice(i + text.length + 1)
                : op === 2
                  ? s.slice(0, i)
                  : s.replace(/^#\s?/m, "");
        }
        return s;
      });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          tomlish.map((a) => a.join("\n")),
          mutated,
        ),
        fc.boolean(),
        async (text, asAir) => {
          await bounded("loadConfig", () => load(text, asAir ? ".air.toml" : "hotdump.toml"));
        },
      ),
      { numRuns: 300, seed: 99 },
    );
  }, 60_000);
});
