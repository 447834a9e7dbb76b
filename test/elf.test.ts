/**
 * The ELF reader against real Go builds and a real core: build IDs compared with `go tool buildid`
 * and `readelf -n`, the Go version with `go version`, and a core's contents with the binary's bytes.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BinaryIdentity,
  type Core,
  compareCoreToBinary,
  coreExecutableIdentity,
  openCore,
  openElf,
  readBinaryIdentity,
} from "../src/elf/index.js";
import { type ProducedCore, produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";

const GO = "/usr/local/go/bin/go";
const goBuildId = (bin: string) => execFileSync(GO, ["tool", "buildid", bin], { encoding: "utf8" }).trim();
const gnuBuildId = (bin: string) =>
  /Build ID: ([0-9a-f]+)/.exec(execFileSync("readelf", ["-n", bin], { encoding: "utf8" }))?.[1] ?? null;
const goVersion = (bin: string) =>
  /: (go\S+)/.exec(execFileSync(GO, ["version", bin], { encoding: "utf8" }))?.[1] ?? null;

function fileBytes(path: string, offset: number, len: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(len);
    readSync(fd, b, 0, len, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

describe("readBinaryIdentity on real Go builds", () => {
  const builds = [
    { name: "optimised", opts: { debug: false }, dwarf: true, symtab: true },
    { name: "-gcflags=all=-N -l", opts: { debug: true }, dwarf: true, symtab: true },
    {
      name: "-ldflags=-s -w",
      opts: { debug: false, flags: ["-ldflags=-s -w"] },
      dwarf: false,
      symtab: false,
    },
  ];
  const seen = new Set<string>();
  for (const b of builds) {
    it(`agrees with go tool buildid, readelf and go version (${b.name})`, async () => {
      const bin = buildGoFixture("panicgoroutine", b.opts);
      const id = await readBinaryIdentity(bin);
      expect(id.isElf).toBe(true);
      expect(id.type).toBe("exec");
      expect(id.machine).toBe("x86-64");
      expect(id.goBuildId).toBe(goBuildId(bin));
      expect(id.gnuBuildId).toBe(gnuBuildId(bin));
      expect(id.goVersion).toBe(goVersion(bin));
      expect(id.mainPath).toBe("hotdump.test/fixtures/panicgoroutine");
      expect(id.modulePath).toBe("hotdump.test/fixtures");
      expect(id.hasDwarf).toBe(b.dwarf);
      expect(id.hasSymtab).toBe(b.symtab);
      expect(id.stripped).toBe(!b.dwarf);
      expect(JSON.parse(JSON.stringify(id)).goBuildId).toBe(id.goBuildId); // stays JSON-safe for bundle metadata
      seen.add(id.goBuildId!);
    });
  }
  it("gives three builds three build IDs", () => expect(seen.size).toBe(3));

  it("says isElf false for a script and fails typed on a 32-bit ELF", async () => {
    const dir = tmpdir();
    const script = join(dir, `hotdump-elf-script-${process.pid}.sh`);
    const elf32 = join(dir, `hotdump-elf-32-${process.pid}`);
    writeFileSync(script, "#!/bin/sh\necho hi\n");
    const b = readFileSync(buildGoFixture("panicgoroutine")).subarray(0, 4096);
    b[4] = 1;
    writeFileSync(elf32, b);
    try {
      expect((await readBinaryIdentity(script)).isElf).toBe(false);
      await expect(readBinaryIdentity(elf32)).rejects.toMatchObject({ code: "E_ELF_UNSUPPORTED" });
      await expect(readBinaryIdentity(`${script}.absent`)).rejects.toMatchObject({ code: "E_ELF_IO" });
    } finally {
      rmSync(script, { force: true });
      rmSync(elf32, { force: true });
    }
  });
});

describe("openCore on a real crash", () => {
  let bin: string;
  let binId: BinaryIdentity;
  let crash: ProducedCore;
  let core: Core;

  beforeAll(async () => {
    bin = buildGoFixture("panicgoroutine");
    binId = await readBinaryIdentity(bin);
    crash = await produceCore(bin);
    core = await openCore(crash.core);
  });
  afterAll(async () => {
    await core?.close();
    if (crash) rmSync(crash.dir, { recursive: true, force: true });
  });

  it("holds the binary's build IDs, and a rebuild with other -ldflags does not match", async () => {
    const id = await coreExecutableIdentity(core);
    expect(id.path).toBe(bin);
    expect(id.base).toBe(0x400000n);
    expect(id.goBuildId).toBe(binId.goBuildId);
    expect(id.gnuBuildId).toBe(binId.gnuBuildId);
    expect(await compareCoreToBinary(core, binId)).toMatchObject({ match: true });

    const other = await readBinaryIdentity(
      buildGoFixture("panicgoroutine", { flags: ["-ldflags=-X main.v=2"] }),
    );
    expect(other.goBuildId).not.toBe(binId.goBuildId);
    const cmp = await compareCoreToBinary(core, other);
    expect(cmp.match).toBe(false);
    expect(cmp.reason).toMatch(/differs/);
    expect(await compareCoreToBinary(core, { goBuildId: null, gnuBuildId: null })).toMatchObject({
      match: null,
    });
  });

  it("records SIGABRT, the process and the threads", () => {
    expect(crash.signal).toBe("SIGABRT");
    expect(core.truncated).toBeNull();
    expect(core.notesComplete).toBe(true);
    expect(core.signal?.signo).toBe(6);
    expect(core.threads[0]?.cursig).toBe(6);
    expect(core.process?.pid).toBe(crash.pid);
    expect(core.threads.map((t) => t.tid)).toContain(crash.pid);
    expect(new Set(core.threads.map((t) => t.tid)).size).toBe(core.threads.length);
    // The crashing thread stopped in Go's text (runtime.raise), with a mapped stack.
    const rip = core.threads[0]!.registers.rip;
    expect(rip > 0x401000n && rip < 0x401000n + 0x200000n).toBe(true);
    expect(core.segmentAt(core.threads[0]!.registers.rsp)).toBeDefined();
    expect(core.execfn).toBe(bin);
    expect(core.files.some((f) => f.path === bin && f.fileOffset === 0n && f.start === 0x400000n)).toBe(true);
  });

  it("reads memory equal to the binary's bytes, zeros where not dumped, and errors where unmapped", async () => {
    expect(await core.readMemory(0x400000n, 4096)).toEqual(fileBytes(bin, 0, 4096));
    const f = await openElf(bin);
    const bi = f.section(".go.buildinfo")!;
    await f.close();
    expect(await core.readMemory(bi.addr, bi.size)).toEqual(fileBytes(bin, bi.offset, bi.size));
    // The text beyond the first page is file-backed and not dumped by the default coredump_filter.
    const text = core.segmentAt(0x400000n)!;
    expect(text.filesz).toBeLessThan(text.memsz);
    const past = text.vaddr + BigInt(text.filesz);
    expect((await core.readMemory(past - 4n, 8)).subarray(4)).toEqual(Buffer.alloc(4));
    await expect(core.readMemory(past, 8, { notDumped: "error" })).rejects.toMatchObject({
      code: "E_ELF_NOT_DUMPED",
    });
    expect((await core.readMemory(past - 4n, 8, { notDumped: "error", partial: true })).length).toBe(4);
    await expect(core.readMemory(0x1000n, 8)).rejects.toMatchObject({ code: "E_ELF_UNMAPPED" });
  });

  it("streams every dumped byte in chunks that match readMemory", async () => {
    const total = core.segments.reduce((n, s) => n + s.available, 0);
    let seen = 0;
    let chunks = 0;
    let sampled = 0;
    for await (const c of core.chunks({ chunkSize: 1 << 20 })) {
      seen += c.data.length;
      if (chunks++ % 7 === 0) {
        expect(c.data.equals(await core.readMemory(c.addr, c.data.length))).toBe(true);
        sampled++;
      }
    }
    expect(seen).toBe(total);
    expect(sampled).toBeGreaterThan(2);
    // With overlap, each later chunk of a segment begins `overlap` bytes before its predecessor's end.
    let prevEnd: bigint | null = null;
    let prevSeg = -1;
    for await (const c of core.chunks({ chunkSize: 1 << 16, overlap: 64 })) {
      if (c.segment.index === prevSeg) expect(c.addr).toBe(prevEnd! - 64n);
      prevSeg = c.segment.index;
      prevEnd = c.addr + BigInt(c.data.length);
    }
  });

  it("flags a core cut to half as truncated and still reads its notes and identity", async () => {
    const half = Math.floor(core.size / 2);
    const cut = join(crash.dir, "core.half");
    writeFileSync(cut, fileBytes(crash.core, 0, half));
    const c = await openCore(cut);
    try {
      expect(c.truncated).toMatchObject({ actualSize: half, missingBytes: core.size - half });
      expect(c.truncated!.incompleteSegments).toBeGreaterThan(0);
      expect(c.threads).toEqual(core.threads);
      expect(c.files).toEqual(core.files);
      expect(await compareCoreToBinary(c, binId)).toMatchObject({ match: true });
      const lost = c.segments.find((s) => s.available < s.filesz)!;
      await expect(c.readMemory(lost.vaddr + BigInt(lost.filesz) - 8n, 8)).rejects.toMatchObject({
        code: "E_ELF_TRUNCATED",
      });
      let streamed = 0;
      for await (const ch of c.chunks()) streamed += ch.data.length;
      expect(streamed).toBe(c.segments.reduce((n, s) => n + s.available, 0));
    } finally {
      await c.close();
    }
  });
});
