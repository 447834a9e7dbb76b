/**
 * Who a binary is: its Go and GNU build IDs, Go version and module, and whether it carries what a
 * debugger needs (DWARF, symbols). Build IDs come from notes, the same ones `go tool buildid` and
 * `readelf -n` print, so a core can be matched to its exact binary.
 */
import { isHotdumpError } from "../errors.js";
import { findGoBuildInfo, type GoBuildInfo, parseGoBuildInfo } from "./buildinfo.js";
import { type ElfNote, type ElfType, PT, SHT } from "./elfStructs.js";
import { openElf } from "./file.js";

/** Note types: Go's linker uses ELF_NOTE_GOBUILDID_TAG = 4 under owner "Go" (cmd/link/internal/ld/elf.go);
 * NT_GNU_BUILD_ID = 3 under owner "GNU" (glibc elf.h). */
const NT_GO_BUILDID = 4;
const NT_GNU_BUILD_ID = 3;

export interface BuildIds {
  goBuildId: string | null;
  /** Lower-case hex, as `readelf -n` prints it. */
  gnuBuildId: string | null;
}

export interface BinaryIdentity extends BuildIds {
  path: string;
  isElf: boolean;
  type: ElfType | null;
  machine: string | null;
  /** e_entry as 0x-hex (a string so the identity stays JSON-serialisable for bundle metadata). */
  entry: string | null;
  goVersion: string | null;
  modulePath: string | null;
  mainPath: string | null;
  buildSettings: Record<string, string>;
  /** .debug_info or .zdebug_info present: Delve can read variables (built without -ldflags=-w). */
  hasDwarf: boolean;
  /** .symtab present (absent with -ldflags=-s). */
  hasSymtab: boolean;
  /** No section headers at all (sstrip-like tools): most hints below are then unknowable. */
  hasSectionHeaders: boolean;
  /** No DWARF and no symbol table: a report will have function names (from .gopclntab) but no variables. */
  stripped: boolean;
}

export function buildIdsFromNotes(notes: Iterable<ElfNote>): BuildIds {
  const ids: BuildIds = { goBuildId: null, gnuBuildId: null };
  for (const n of notes) {
    if (n.name === "Go" && n.type === NT_GO_BUILDID && ids.goBuildId === null) {
      ids.goBuildId = n.desc.toString("utf8").replace(/\0+$/, "");
    } else if (n.name === "GNU" && n.type === NT_GNU_BUILD_ID && ids.gnuBuildId === null) {
      ids.gnuBuildId = n.desc.toString("hex");
    }
  }
  return ids;
}

export async function readBinaryIdentity(path: string): Promise<BinaryIdentity> {
  let f: Awaited<ReturnType<typeof openElf>>;
  try {
    f = await openElf(path);
  } catch (e) {
    if (isHotdumpError(e) && e.code === "E_ELF_NOT_ELF") return notElf(path);
    throw e;
  }
  try {
    const ids = buildIdsFromNotes(await f.notes());
    let info: GoBuildInfo | null = null;
    const bi = f.section(".go.buildinfo");
    if (bi) {
      info = parseGoBuildInfo(await f.readSection(bi));
    } else {
      // No section headers: look at the start of the first writable PT_LOAD, where the linker puts it.
      const data = f.programHeaders.find((p) => p.type === PT.LOAD && p.flags & 2 && p.filesz > 0);
      if (data)
        info = findGoBuildInfo(await f.source.read(data.offset, Math.min(data.filesz, 64 * 1024), "data"));
    }
    const names = new Set(f.sections.map((s) => s.name));
    const hasDwarf = names.has(".debug_info") || names.has(".zdebug_info");
    const hasSymtab = f.sections.some((s) => s.type === SHT.SYMTAB);
    return {
      path,
      isElf: true,
      type: f.header.type,
      machine: f.header.machine,
      entry: `0x${f.header.entry.toString(16)}`,
      ...ids,
      goVersion: info?.goVersion ?? null,
      modulePath: info?.modulePath ?? null,
      mainPath: info?.mainPath ?? null,
      buildSettings: info?.settings ?? {},
      hasDwarf,
      hasSymtab,
      hasSectionHeaders: f.sections.length > 0,
      stripped: !hasDwarf && !hasSymtab,
    };
  } finally {
    await f.close();
  }
}

function notElf(path: string): BinaryIdentity {
  return {
    path,
    isElf: false,
    type: null,
    machine: null,
    entry: null,
    goBuildId: null,
    gnuBuildId: null,
    goVersion: null,
    modulePath: null,
    mainPath: null,
    buildSettings: {},
    hasDwarf: false,
    hasSymtab: false,
    hasSectionHeaders: false,
    stripped: true,
  };
}
