/**
 * The binary's symbol table (.symtab + its string table), so an address in data or bss is named
 * by the variable it falls in. Go's linker writes .symtab unless built with -ldflags=-s.
 */
import { type ElfFile, type SectionHeader, SHT } from "../elf/index.js";

const SYM_SIZE = 24;
const STT_OBJECT = 1;
const STT_FUNC = 2;

interface ElfSymbol {
  name: string;
  value: bigint;
  size: number;
  kind: "object" | "func";
}

export interface SymbolTable {
  /** The symbol whose [value, value+size) holds addr, else the nearest one below it in the same section. */
  lookup(addr: bigint): { symbol: ElfSymbol; offset: number } | null;
  /** The section (.data, .bss, .noptrdata, .noptrbss, .rodata, .text...) an address lies in. */
  sectionAt(addr: bigint): SectionHeader | null;
  readonly count: number;
}

export async function readSymbolTable(elf: ElfFile): Promise<SymbolTable> {
  const symtab = elf.sections.find((s) => s.type === SHT.SYMTAB);
  const strtab = symtab ? elf.sections[symtab.link] : undefined;
  const syms: ElfSymbol[] = [];
  if (symtab && strtab) {
    const [table, names] = await Promise.all([elf.readSection(symtab), elf.readSection(strtab)]);
    syms.push(...decodeSymbols(table, names));
  }
  syms.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const alloc = elf.sections.filter((s) => s.addr !== 0n && s.size > 0 && (s.flags & 2n) !== 0n);
  const sectionAt = (addr: bigint) =>
    alloc.find((s) => addr >= s.addr && addr < s.addr + BigInt(s.size)) ?? null;
  return {
    count: syms.length,
    sectionAt,
    lookup(addr) {
      let lo = 0;
      let hi = syms.length - 1;
      let best = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (syms[mid]!.value <= addr) {
          best = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (best < 0) return null;
      const symbol = syms[best]!;
      const sec = sectionAt(addr);
      // Nearest-below only counts inside the same section: past a section's end it names nothing.
      if (sec && sectionAt(symbol.value) !== sec) return null;
      return { symbol, offset: Number(addr - symbol.value) };
    },
  };
}

function decodeSymbols(table: Buffer, names: Buffer): ElfSymbol[] {
  const out: ElfSymbol[] = [];
  for (let o = 0; o + SYM_SIZE <= table.length; o += SYM_SIZE) {
    const type = table[o + 4]! & 0xf;
    if (type !== STT_OBJECT && type !== STT_FUNC) continue;
    const value = table.readBigUInt64LE(o + 8);
    if (value === 0n) continue;
    const at = table.readUInt32LE(o);
    const end = names.indexOf(0, at);
    out.push({
      name: names.toString("utf8", at, end < 0 ? names.length : end),
      value,
      size: Number(table.readBigUInt64LE(o + 16)),
      kind: type === STT_OBJECT ? "object" : "func",
    });
  }
  return out;
}
