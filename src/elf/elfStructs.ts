/**
 * The ELF64 little-endian structures, decoded from Buffers with bounds checks.
 * Layouts mirror glibc elf/elf.h (Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Nhdr) and the System V
 * gABI, including extended numbering (PN_XNUM, SHN_XINDEX) used by cores with over 65535 mappings.
 * Addresses are bigint: an x86-64 core maps [vsyscall] at 0xffffffffff600000, beyond 2^53.
 * File offsets and sizes are numbers (checked to be safe integers).
 */
import { elfCorrupt, elfNotElf, elfTruncated, elfUnsupported } from "./errors.js";

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
export const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
export const SHDR_SIZE = 64;

export const EM_X86_64 = 62;
export const PT = { NULL: 0, LOAD: 1, DYNAMIC: 2, INTERP: 3, NOTE: 4, PHDR: 6, TLS: 7 } as const;
export const SHT = { NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, NOTE: 7, NOBITS: 8 } as const;
const PN_XNUM = 0xffff;
const SHN_XINDEX = 0xffff;

export type ElfType = "none" | "rel" | "exec" | "dyn" | "core" | "unknown";
const typeNames: Record<number, ElfType> = { 0: "none", 1: "rel", 2: "exec", 3: "dyn", 4: "core" };
const machineNames: Record<number, string> = {
  3: "x86",
  40: "arm",
  62: "x86-64",
  183: "aarch64",
  243: "riscv",
  21: "ppc64",
  22: "s390",
};

const elfTypeName = (t: number): ElfType => typeNames[t] ?? "unknown";
const machineName = (m: number): string => machineNames[m] ?? `machine-${m}`;

export interface ElfHeader {
  type: ElfType;
  typeNumber: number;
  machine: string;
  machineNumber: number;
  entry: bigint;
  phoff: number;
  shoff: number;
  flags: number;
  phentsize: number;
  /** From e_phnum, or section 0's sh_info under PN_XNUM (resolved by the file reader). */
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
  /** e_phnum was PN_XNUM: the real count lives in section header 0. */
  phnumExtended: boolean;
}

export interface ProgramHeader {
  index: number;
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

export interface SectionHeader {
  index: number;
  nameOffset: number;
  /** Filled from .shstrtab when present; "" otherwise. */
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface ElfNote {
  /** Owner without the trailing NUL: "CORE", "LINUX", "GNU", "Go". */
  name: string;
  type: number;
  desc: Buffer;
  /** Where the note header starts, relative to the start of the note area. */
  offset: number;
}

/** A u64 field that must be a file offset or size: anything beyond 2^53 is damage, not data. */
function safe(b: Buffer, at: number, name: string, what: string): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw elfCorrupt(name, `${what} (value 0x${v.toString(16)})`);
  return Number(v);
}

/** Identify and decode the 64-byte ELF header; `b` may be shorter (then it says what is missing). */
export function parseElfHeader(b: Buffer, name: string): ElfHeader {
  if (b.length < 4 || !b.subarray(0, 4).equals(ELF_MAGIC)) throw elfNotElf(name, "no \\x7fELF magic");
  if (b.length < 6) throw elfTruncated(name, "ELF identification", 16, b.length);
  if (b[4] !== 2) throw elfUnsupported(name, b[4] === 1 ? "32-bit ELF" : `ELF class ${b[4]}`);
  if (b[5] !== 1) throw elfUnsupported(name, b[5] === 2 ? "big-endian ELF" : `ELF data encoding ${b[5]}`);
  if (b.length < EHDR_SIZE) throw elfTruncated(name, "ELF header", EHDR_SIZE, b.length);
  const typeNumber = b.readUInt16LE(16);
  const machineNumber = b.readUInt16LE(18);
  const phnum = b.readUInt16LE(56);
  const h: ElfHeader = {
    type: elfTypeName(typeNumber),
    typeNumber,
    machine: machineName(machineNumber),
    machineNumber,
    entry: b.readBigUInt64LE(24),
    phoff: safe(b, 32, name, "e_phoff"),
    shoff: safe(b, 40, name, "e_shoff"),
    flags: b.readUInt32LE(48),
    phentsize: b.readUInt16LE(54),
    phnum: phnum === PN_XNUM ? 0 : phnum,
    shentsize: b.readUInt16LE(58),
    shnum: b.readUInt16LE(60),
    shstrndx: b.readUInt16LE(62),
    phnumExtended: phnum === PN_XNUM,
  };
  if (machineNumber !== EM_X86_64) throw elfUnsupported(name, `machine ${h.machine}`);
  if (h.phnum > 0 && h.phentsize < PHDR_SIZE) throw elfCorrupt(name, `e_phentsize ${h.phentsize}`);
  if (h.shoff !== 0 && h.shentsize < SHDR_SIZE && (h.shnum > 0 || h.shentsize !== 0)) {
    throw elfCorrupt(name, `e_shentsize ${h.shentsize}`);
  }
  return h;
}

/** Apply extended numbering from section header 0 (gABI "Extended Section Header Numbering"). */
export function applySection0(h: ElfHeader, s0: SectionHeader | undefined): ElfHeader {
  if (!s0) return h;
  return {
    ...h,
    phnum: h.phnumExtended ? s0.info : h.phnum,
    shnum: h.shnum === 0 && h.shoff !== 0 ? s0.size : h.shnum,
    shstrndx: h.shstrndx === SHN_XINDEX ? s0.link : h.shstrndx,
  };
}

export function parseProgramHeaders(
  b: Buffer,
  count: number,
  entsize: number,
  name: string,
): ProgramHeader[] {
  const out: ProgramHeader[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * entsize;
    if (o + PHDR_SIZE > b.length) throw elfTruncated(name, `program header ${i}`, o + PHDR_SIZE, b.length);
    out.push({
      index: i,
      type: b.readUInt32LE(o),
      flags: b.readUInt32LE(o + 4),
      offset: safe(b, o + 8, name, `program header ${i} p_offset`),
      vaddr: b.readBigUInt64LE(o + 16),
      paddr: b.readBigUInt64LE(o + 24),
      filesz: safe(b, o + 32, name, `program header ${i} p_filesz`),
      memsz: safe(b, o + 40, name, `program header ${i} p_memsz`),
      align: safe(b, o + 48, name, `program header ${i} p_align`),
    });
  }
  return out;
}

export function parseSectionHeaders(
  b: Buffer,
  count: number,
  entsize: number,
  name: string,
): SectionHeader[] {
  const out: SectionHeader[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * entsize;
    if (o + SHDR_SIZE > b.length) throw elfTruncated(name, `section header ${i}`, o + SHDR_SIZE, b.length);
    out.push({
      index: i,
      nameOffset: b.readUInt32LE(o),
      name: "",
      type: b.readUInt32LE(o + 4),
      flags: b.readBigUInt64LE(o + 8),
      addr: b.readBigUInt64LE(o + 16),
      offset: safe(b, o + 24, name, `section header ${i} sh_offset`),
      size: safe(b, o + 32, name, `section header ${i} sh_size`),
      link: b.readUInt32LE(o + 40),
      info: b.readUInt32LE(o + 44),
      addralign: safe(b, o + 48, name, `section header ${i} sh_addralign`),
      entsize: safe(b, o + 56, name, `section header ${i} sh_entsize`),
    });
  }
  return out;
}

/** NUL-terminated string at `at` in a string table; "" when out of range. */
export function cString(b: Buffer, at: number, max = b.length): string {
  if (at < 0 || at >= b.length) return "";
  const end = Math.min(b.length, at + max);
  const nul = b.indexOf(0, at);
  return b.toString("utf8", at, nul === -1 || nul > end ? end : nul);
}

// Arithmetic, not bit masks: namesz/descsz are u32 and `&` would wrap them to negative numbers.
const align = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Walk an Elf64_Nhdr sequence. Linux writes core and build-id notes with 4-byte padding even in
 * ELF64 (binutils readelf does the same); an area whose p_align/sh_addralign is 8
 * (.note.gnu.property, in every cgo or externally linked build and in gcc's own binaries) pads
 * to 8. The padding is of the *offset* within the area, as binutils' readelf and glibc's
 * dl-prop do: the descriptor of a GNU property note (namesz 4) starts at 12 + 4 = 16, not at
 * 12 + align(4, 8) = 20. A malformed note throws E_ELF_CORRUPT naming the note area.
 */
export function* iterateNotes(area: Buffer, alignment: number, name: string): Generator<ElfNote> {
  const a = alignment === 8 ? 8 : 4;
  let o = 0;
  while (o + 12 <= area.length) {
    const namesz = area.readUInt32LE(o);
    const descsz = area.readUInt32LE(o + 4);
    const type = area.readUInt32LE(o + 8);
    const nameStart = o + 12;
    const descStart = align(nameStart + namesz, a);
    const next = align(descStart + descsz, a);
    if (descStart + descsz > area.length)
      throw elfCorrupt(name, `note at offset ${o} (sizes ${namesz}/${descsz})`);
    const rawName = area.subarray(nameStart, nameStart + namesz);
    const nul = rawName.indexOf(0);
    yield {
      name: rawName.toString("latin1", 0, nul === -1 ? rawName.length : nul),
      type,
      desc: area.subarray(descStart, descStart + descsz),
      offset: o,
    };
    o = next;
  }
}
