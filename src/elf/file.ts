/**
 * An opened ELF file: header, program headers, section headers with names, and notes, read
 * through positioned reads so a multi-GB core costs only its headers and notes in memory.
 */

import { type ByteSource, createFileSource } from "./byteSource.js";
import {
  applySection0,
  cString,
  EHDR_SIZE,
  type ElfHeader,
  type ElfNote,
  iterateNotes,
  type ProgramHeader,
  PT,
  parseElfHeader,
  parseProgramHeaders,
  parseSectionHeaders,
  type SectionHeader,
  SHDR_SIZE,
  SHT,
} from "./elfStructs.js";
import { elfCorrupt } from "./errors.js";

/** Refuse absurd tables from damaged headers instead of allocating them. A core with 10,000
 * threads carries about 35 MB of notes; 512 MiB is far beyond any real note area. */
const MAX_TABLE_BYTES = 64 * 1024 * 1024;
export const MAX_NOTE_BYTES = 512 * 1024 * 1024;
const MAX_SHSTRTAB_BYTES = 16 * 1024 * 1024;

export interface ElfFile {
  readonly source: ByteSource;
  readonly path: string;
  readonly size: number;
  readonly header: ElfHeader;
  readonly programHeaders: readonly ProgramHeader[];
  /** Empty when the file has none (cores, or headers stripped/cut off). */
  readonly sections: readonly SectionHeader[];
  /** A section by name, e.g. ".go.buildinfo". */
  section(name: string): SectionHeader | undefined;
  /** Contents of a section (SHT_NOBITS gives an empty Buffer). */
  readSection(s: SectionHeader): Promise<Buffer>;
  /**
   * Every note: PT_NOTE segments, plus SHT_NOTE sections not covered by one (Go's linker puts
   * .note.gnu.build-id in a section outside its only PT_NOTE segment).
   */
  notes(): Promise<ElfNote[]>;
  close(): Promise<void>;
}

interface OpenElfOptions {
  /** Skip section headers (cores have none; a core's reader never needs them). */
  sections?: boolean;
}

export async function openElf(input: string | ByteSource, opts: OpenElfOptions = {}): Promise<ElfFile> {
  const source = typeof input === "string" ? await createFileSource(input) : input;
  try {
    return await readStructure(source, opts);
  } catch (e) {
    await source.close();
    throw e;
  }
}

async function readStructure(source: ByteSource, opts: OpenElfOptions): Promise<ElfFile> {
  const name = source.name;
  const head = Buffer.alloc(Math.min(EHDR_SIZE, source.size));
  await source.readInto(head, head.length, 0);
  let header = parseElfHeader(head, name);

  let sections: SectionHeader[] = [];
  const wantSections = opts.sections !== false && header.shoff !== 0;
  if (wantSections || header.phnumExtended) {
    // Section 0 carries the real counts under extended numbering.
    if (header.shoff !== 0) {
      const s0 = parseSectionHeaders(
        await source.read(header.shoff, SHDR_SIZE, "section header 0"),
        1,
        SHDR_SIZE,
        name,
      )[0];
      header = applySection0(header, s0);
    } else if (header.phnumExtended) {
      throw elfCorrupt(name, "header (PN_XNUM without section header 0)");
    }
  }

  const phBytes = header.phnum * header.phentsize;
  if (phBytes > MAX_TABLE_BYTES) throw elfCorrupt(name, `program header table (${header.phnum} entries)`);
  const programHeaders =
    header.phnum === 0
      ? []
      : parseProgramHeaders(
          await source.read(header.phoff, phBytes, "program header table"),
          header.phnum,
          header.phentsize,
          name,
        );

  if (wantSections && header.shnum > 0) {
    const shBytes = header.shnum * header.shentsize;
    if (shBytes > MAX_TABLE_BYTES) throw elfCorrupt(name, `section header table (${header.shnum} entries)`);
    sections = parseSectionHeaders(
      await source.read(header.shoff, shBytes, "section header table"),
      header.shnum,
      header.shentsize,
      name,
    );
    const strtab = sections[header.shstrndx];
    // Names are a convenience: a name table cut off (a file's first page only) leaves them "".
    if (
      strtab &&
      strtab.type === SHT.STRTAB &&
      strtab.size <= MAX_SHSTRTAB_BYTES &&
      strtab.offset + strtab.size <= source.size
    ) {
      const names = await source.read(strtab.offset, strtab.size, "section name table");
      for (const s of sections) s.name = cString(names, s.nameOffset);
    }
  }

  const readArea = async (offset: number, size: number, what: string): Promise<Buffer> => {
    if (size > MAX_NOTE_BYTES) throw elfCorrupt(name, `${what} (${size} bytes)`);
    return source.read(offset, size, what);
  };

  return {
    source,
    path: name,
    size: source.size,
    header,
    programHeaders,
    sections,
    section: (n) => sections.find((s) => s.name === n),
    async readSection(s) {
      if (s.type === SHT.NOBITS || s.size === 0) return Buffer.alloc(0);
      return readArea(s.offset, s.size, `section ${s.name || s.index}`);
    },
    async notes() {
      const out: ElfNote[] = [];
      const covered: Array<[number, number]> = [];
      for (const ph of programHeaders) {
        if (ph.type !== PT.NOTE || ph.filesz === 0) continue;
        const area = await readArea(ph.offset, ph.filesz, `note segment ${ph.index}`);
        out.push(...iterateNotes(area, ph.align, name));
        covered.push([ph.offset, ph.offset + ph.filesz]);
      }
      for (const s of sections) {
        if (s.type !== SHT.NOTE || s.size === 0) continue;
        if (covered.some(([a, b]) => s.offset >= a && s.offset + s.size <= b)) continue;
        const area = await readArea(s.offset, s.size, `note section ${s.name || s.index}`);
        out.push(...iterateNotes(area, s.addralign, name));
      }
      return out;
    },
    close: () => source.close(),
  };
}
