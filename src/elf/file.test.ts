/**
 * The generic reader on a recorded binary head (first 4096 bytes of a real Go binary, see
 * test/fixtures/elf/record.sh), compared with readelf and go tool buildid; and a fast-check
 * property that arbitrary or mutated bytes end in a value or a HotdumpError, never anything else.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isHotdumpError } from "../errors.js";
import { parseGoBuildInfo } from "./buildinfo.js";
import { createBufferSource } from "./byteSource.js";
import { openCore } from "./core.js";
import { openElf } from "./file.js";
import { buildIdsFromNotes } from "./identity.js";

const FIX = resolve(import.meta.dirname, "../../test/fixtures/elf");
const binHead = readFileSync(join(FIX, "bin-head.bin"));
const coreHead = readFileSync(join(FIX, "core-head.bin"));

describe("openElf on a recorded Go binary head", () => {
  it("finds both build-ID notes where readelf and go tool buildid do", async () => {
    const f = await openElf(createBufferSource(binHead, "bin-head"));
    expect(f.header.type).toBe("exec");
    expect(f.header.machine).toBe("x86-64");
    const ids = buildIdsFromNotes(await f.notes());
    expect(ids.goBuildId).toBe(readFileSync(join(FIX, "bin-buildid.txt"), "utf8").trim());
    const readelf = readFileSync(join(FIX, "bin-readelf.txt"), "utf8");
    expect(ids.gnuBuildId).toBe(/Build ID: ([0-9a-f]+)/.exec(readelf)![1]);
    // The section name table lies beyond the first page: names are left empty, not an error.
    expect(f.sections.length).toBeGreaterThan(10);
    expect(f.sections.every((s) => s.name === "")).toBe(true);
  });

  it("names what is wrong with unsupported or foreign input", async () => {
    const as = (b: Buffer) => openElf(createBufferSource(b, "x"));
    await expect(as(Buffer.from("#!/bin/sh\necho hi\n"))).rejects.toMatchObject({ code: "E_ELF_NOT_ELF" });
    const b32 = Buffer.from(binHead);
    b32[4] = 1;
    await expect(as(b32)).rejects.toMatchObject({ code: "E_ELF_UNSUPPORTED" });
    const be = Buffer.from(binHead);
    be[5] = 2;
    await expect(as(be)).rejects.toMatchObject({ code: "E_ELF_UNSUPPORTED" });
    const arm = Buffer.from(binHead);
    arm.writeUInt16LE(183, 18);
    await expect(as(arm)).rejects.toMatchObject({ code: "E_ELF_UNSUPPORTED", shortMessage: /aarch64/ });
    await expect(as(binHead.subarray(0, 40))).rejects.toMatchObject({ code: "E_ELF_TRUNCATED" });
    const farPh = Buffer.from(binHead);
    farPh.writeBigUInt64LE(0x10000n, 32);
    await expect(as(farPh)).rejects.toMatchObject({ code: "E_ELF_TRUNCATED" });
  });
});

describe("openElf on a recorded cgo binary head (8-byte aligned .note.gnu.property)", () => {
  // Recorded by test/fixtures/elf/record-cgo.sh from a real CGO_ENABLED=1 build (gcc links it).
  const cgoHead = readFileSync(join(FIX, "cgo-head.bin"));
  const readelf = readFileSync(join(FIX, "cgo-readelf.txt"), "utf8");

  it("reads every note readelf shows, with the property note's descriptor at offset 16", async () => {
    // gcc puts the section headers at the end of the file: the notes come from the two PT_NOTE
    // segments (0x8 and 0x4 aligned), which cover every note section.
    const f = await openElf(createBufferSource(cgoHead, "cgo-head"), { sections: false });
    const notes = await f.notes();
    // NT_GNU_PROPERTY_TYPE_0 (5), NT_GNU_BUILD_ID (3), NT_GNU_ABI_TAG (1), Go's build ID (4).
    expect(notes.map((n) => `${n.name}/${n.type}`).sort()).toEqual(["GNU/1", "GNU/3", "GNU/5", "Go/4"]);
    const prop = notes.find((n) => n.name === "GNU" && n.type === 5)!;
    expect(prop.desc.length).toBe(
      Number.parseInt(/GNU\s+0x([0-9a-f]+)\s+NT_GNU_PROPERTY_TYPE_0/.exec(readelf)![1]!, 16),
    );
    // x86 ISA needed (GNU_PROPERTY_X86_ISA_1_NEEDED = 0xc0008002), datasz 4, x86-64-baseline (bit 0).
    expect(prop.desc.readUInt32LE(0)).toBe(0xc0008002);
    expect(prop.desc.readUInt32LE(4)).toBe(4);
    expect(prop.desc.readUInt32LE(8) & 1).toBe(1);
    const ids = buildIdsFromNotes(notes);
    expect(ids.gnuBuildId).toBe(/Build ID: ([0-9a-f]+)/.exec(readelf)![1]);
    expect(ids.goBuildId).toBe(readFileSync(join(FIX, "cgo-buildid.txt"), "utf8").trim());
  });

  it("still refuses an 8-byte aligned note whose descriptor runs past its area", async () => {
    const { iterateNotes } = await import("./elfStructs.js");
    const note = Buffer.alloc(32);
    note.writeUInt32LE(4, 0);
    note.writeUInt32LE(17, 4); // 16 + 17 > 32
    note.writeUInt32LE(5, 8);
    note.write("GNU\0", 12, "latin1");
    expect(() => [...iterateNotes(note, 8, "x")]).toThrow(/malformed note at offset 0 \(sizes 4\/17\)/);
    note.writeUInt32LE(16, 4);
    expect([...iterateNotes(note, 8, "x")].map((n) => n.desc.length)).toEqual([16]);
  });
});

describe("parseGoBuildInfo", () => {
  it("reads the inline Go 1.18+ layout and ignores the pointer layout", () => {
    const mod = "path\tex.com/cmd/x\nmod\tex.com\t(devel)\t\nbuild\tGOOS=linux\n";
    const wrapped = `${"S".repeat(16)}${mod}${"E".repeat(16)}`;
    const body = Buffer.concat([
      Buffer.from([8]),
      Buffer.from("go1.26.8"),
      Buffer.from([wrapped.length]),
      Buffer.from(wrapped),
    ]);
    const header = Buffer.alloc(32);
    Buffer.from("\xff Go buildinf:", "latin1").copy(header);
    header[14] = 8;
    header[15] = 2;
    const info = parseGoBuildInfo(Buffer.concat([header, body]));
    expect(info).toEqual({
      goVersion: "go1.26.8",
      mainPath: "ex.com/cmd/x",
      modulePath: "ex.com",
      settings: { GOOS: "linux" },
    });
    header[15] = 0;
    expect(parseGoBuildInfo(Buffer.concat([header, body]))).toBeNull();
  });
});

/** Open as ELF and as core, read notes and some memory: any outcome but a non-Hotdump throw. */
async function exercise(bytes: Uint8Array): Promise<void> {
  const b = Buffer.from(bytes);
  const tryIt = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      if (!isHotdumpError(e)) throw e;
    }
  };
  await tryIt(async () => {
    const f = await openElf(createBufferSource(b, "fuzz"));
    await f.notes();
    for (const s of f.sections.slice(0, 8))
      await f.readSection(s).catch((e) => {
        if (!isHotdumpError(e)) throw e;
      });
  });
  await tryIt(async () => {
    const c = await openCore(createBufferSource(b, "fuzz"));
    for (const s of c.segments.slice(0, 4)) await c.readMemory(s.vaddr, 64, { partial: true });
    for await (const _ of c.chunks({ chunkSize: 4096 })) break;
  });
}

describe("fuzz", () => {
  it("random bytes give a result or a HotdumpError", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), exercise), { numRuns: 300 });
  });

  it("mutated real headers give a result or a HotdumpError", async () => {
    for (const seed of [binHead, coreHead]) {
      const mutation = fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 12,
      });
      await fc.assert(
        fc.asyncProperty(mutation, fc.nat(seed.length), async (muts, cut) => {
          const b = Buffer.from(seed);
          for (const [at, v] of muts) b[at] = v;
          await exercise(b);
          await exercise(b.subarray(0, cut));
        }),
        { numRuns: 300 },
      );
    }
  });
});
