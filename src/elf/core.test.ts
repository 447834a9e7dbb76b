/**
 * The core reader on a recorded real core (test/fixtures/elf/record.sh): the file is the core cut
 * right after its notes, so it is also a real truncated core. Registers are checked against what
 * gdb printed for the full core when it was recorded.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { createBufferSource } from "./byteSource.js";
import { openCore } from "./core.js";
import { coreExecutableIdentity } from "./coreIdentity.js";
import { X86_64_REGISTER_NAMES } from "./coreNotes.js";

const FIX = resolve(import.meta.dirname, "../../test/fixtures/elf");
const meta = JSON.parse(readFileSync(join(FIX, "core-meta.json"), "utf8")) as {
  pid: number;
  signal: string;
  binary: string;
  coreSize: number;
};
const headBytes = readFileSync(join(FIX, "core-head.bin"));
const open = () => openCore(createBufferSource(headBytes, "core-head.bin"));

/** gdb's `thread apply all info registers`: LWP -> register name -> value. */
function gdbRegisters(): Map<number, Map<string, bigint>> {
  const out = new Map<number, Map<string, bigint>>();
  let cur: Map<string, bigint> | null = null;
  for (const line of readFileSync(join(FIX, "core-gdb.txt"), "utf8").split("\n")) {
    const t = /^Thread \d+ \(LWP (\d+)\)/.exec(line);
    if (t) {
      cur = new Map();
      out.set(Number(t[1]), cur);
      continue;
    }
    const r = /^(\w+)\s+(0x[0-9a-f]+)\s/.exec(line);
    if (cur && r) cur.set(r[1]!, BigInt(r[2]!));
  }
  return out;
}

describe("openCore on a recorded core", () => {
  it("decodes every thread's general registers as gdb does", async () => {
    const core = await open();
    const gdb = gdbRegisters();
    expect(core.threads.map((t) => t.tid).sort()).toEqual([...gdb.keys()].sort());
    let compared = 0;
    for (const t of core.threads) {
      const g = gdb.get(t.tid)!;
      for (const name of X86_64_REGISTER_NAMES) {
        if (!g.has(name)) continue; // gdb does not print orig_rax
        expect({ tid: t.tid, name, v: t.registers[name] }).toEqual({ tid: t.tid, name, v: g.get(name) });
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(core.threads.length * 24);
    await core.close();
  });

  it("puts the thread gdb calls current first, with SIGABRT as its signal", async () => {
    const core = await open();
    const gdbText = readFileSync(join(FIX, "core-gdb.txt"), "utf8");
    const current = Number(/Current thread is 1 \(LWP (\d+)\)/.exec(gdbText)![1]);
    expect(core.threads[0]!.tid).toBe(current);
    expect(core.threads[0]!.cursig).toBe(6);
    expect(meta.signal).toBe("SIGABRT");
    expect(core.signal?.signo).toBe(6);
    // The kernel stamps the fatal signal on every thread, not only the first.
    expect(core.threads.map((t) => t.cursig)).toEqual(core.threads.map(() => 6));
    await core.close();
  });

  it("decodes process info, auxv and the mapped files", async () => {
    const core = await open();
    expect(core.process?.pid).toBe(meta.pid);
    expect(core.process?.psargs).toBe(meta.binary);
    expect(core.process?.fname).toBe("panicgoroutine");
    // Go links non-PIE executables at 0x400000: entry and program headers lie in the binary's first mapping.
    const bin = core.files.filter((f) => f.path === meta.binary);
    expect(bin.length).toBeGreaterThanOrEqual(2);
    expect(bin[0]!.fileOffset).toBe(0n);
    expect(core.entry! >= bin[0]!.start && core.entry! < bin[0]!.end).toBe(true);
    expect(core.phdr).toBe(bin[0]!.start + 64n);
    for (const f of core.files) expect(f.end > f.start).toBe(true);
    await core.close();
  });

  it("reports what is missing and fails reads in the missing part", async () => {
    const core = await open();
    expect(core.notesComplete).toBe(true);
    expect(core.truncated).not.toBeNull();
    expect(core.truncated!.actualSize).toBe(headBytes.length);
    expect(core.truncated!.expectedSize).toBe(meta.coreSize);
    expect(core.truncated!.missingBytes).toBe(meta.coreSize - headBytes.length);
    const text = core.segmentAt(0x400000n)!;
    expect(text.available).toBe(0);
    await expect(core.readMemory(0x400000n, 4)).rejects.toMatchObject({ code: "E_ELF_TRUNCATED" });
    expect((await core.readMemory(0x400000n, 4, { partial: true })).length).toBe(0);
    await expect(core.readMemory(0x10n, 4)).rejects.toMatchObject({ code: "E_ELF_UNMAPPED" });
    // The identity page is gone too: that is said, not thrown.
    const id = await coreExecutableIdentity(core);
    expect(id.path).toBe(meta.binary);
    expect(id.goBuildId).toBeNull();
    expect(id.problem).toMatch(/not readable/);
    await core.close();
  });

  it("keeps the notes read before a cut inside the note area", async () => {
    const full = await open();
    const cut = headBytes.subarray(0, headBytes.length - 100);
    const core = await openCore(createBufferSource(cut, "cut"));
    expect(core.notesComplete).toBe(false);
    expect(core.threads.length).toBeGreaterThan(0);
    expect(core.threads[0]).toEqual(full.threads[0]);
    expect(core.truncated!.missingBytes).toBe(meta.coreSize - cut.length);
  });

  it("follows PN_XNUM extended numbering as the kernel writes it for over 65535 mappings", async () => {
    // Same core, re-encoded the way fs/binfmt_elf.c does past 65535 segments: e_phnum = 0xffff and
    // the real count in section header 0's sh_info (e_shnum = 1).
    const plain = await open();
    const b = Buffer.concat([headBytes, Buffer.alloc(64)]);
    const phnum = b.readUInt16LE(56);
    b.writeUInt16LE(0xffff, 56);
    b.writeBigUInt64LE(BigInt(headBytes.length), 40);
    b.writeUInt16LE(64, 58);
    b.writeUInt16LE(1, 60);
    b.writeUInt32LE(phnum, headBytes.length + 44);
    const core = await openCore(createBufferSource(b, "xnum"));
    expect(core.header.phnum).toBe(phnum);
    expect(core.segments).toEqual(plain.segments);
    expect(core.threads).toEqual(plain.threads);
  });

  it("refuses an executable as a core", async () => {
    const bin = readFileSync(join(FIX, "bin-head.bin"));
    await expect(openCore(createBufferSource(bin, "bin"))).rejects.toMatchObject({ code: "E_ELF_NOT_CORE" });
  });
});
