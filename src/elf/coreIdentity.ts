/**
 * Which executable a core came from, read from the core itself: the kernel dumps the first page of
 * every file-backed ELF mapping (coredump_filter bit 4, "ELF headers", set by default), and Go's
 * linker puts both build-ID notes in that page. So the IDs are read from the in-memory ELF header,
 * its PT_NOTE segments, and its SHT_NOTE sections (Go places the section headers in the first page
 * too, and .note.gnu.build-id lies outside Go's only PT_NOTE).
 */

import type { Core } from "./core.js";
import {
  type ElfNote,
  iterateNotes,
  PT,
  parseElfHeader,
  parseProgramHeaders,
  parseSectionHeaders,
  SHT,
} from "./elfStructs.js";
import { type BuildIds, buildIdsFromNotes } from "./identity.js";

interface CoreExecutableIdentity extends BuildIds {
  /** The mapped file's path from NT_FILE, else AT_EXECFN; null when neither is known. */
  path: string | null;
  /** Address the executable's first page is mapped at, when found. */
  base: bigint | null;
  /** Why the IDs are null, when they are. */
  problem: string | null;
}

const PAGE = 4096;
const MAX_HEADERS = 64 * 1024;

/** The main executable's load base: the NT_FILE mapping at file offset 0 of the file whose
 * mappings hold AT_ENTRY (or AT_PHDR); else the first offset-0 mapping. */
function findMainMapping(core: Core): { path: string | null; base: bigint | null } {
  const probes = [core.entry, core.phdr].filter((a): a is bigint => a !== null && a !== 0n);
  for (const a of probes) {
    const hit = core.files.find((m) => a >= m.start && a < m.end);
    if (!hit) continue;
    const first = core.files.find((m) => m.path === hit.path && m.fileOffset === 0n);
    if (first) return { path: first.path, base: first.start };
  }
  const first = core.files.find((m) => m.fileOffset === 0n);
  if (first) return { path: first.path, base: first.start };
  // No NT_FILE (older kernels): AT_PHDR lies in the first page for ordinary executables.
  if (core.phdr !== null) return { path: core.execfn, base: core.phdr & ~BigInt(PAGE - 1) };
  return { path: core.execfn, base: null };
}

/** Last resort (cores from Delve's dump carry no NT_FILE): the lowest segment that holds an ELF header. */
async function findElfSegment(core: Core): Promise<bigint | null> {
  for (const seg of core.segments) {
    const magic = await core.readMemory(seg.vaddr, 4, { notDumped: "error" }).catch(() => null);
    if (magic?.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return seg.vaddr;
  }
  return null;
}

export async function coreExecutableIdentity(core: Core): Promise<CoreExecutableIdentity> {
  const found = findMainMapping(core);
  const path = found.path;
  const base = found.base ?? (await findElfSegment(core));
  const none = (problem: string): CoreExecutableIdentity => ({
    path,
    base,
    goBuildId: null,
    gnuBuildId: null,
    problem,
  });
  if (base === null) return none("the core names no executable mapping (no NT_FILE, no AT_PHDR)");
  const strict = { notDumped: "error" as const };
  const mem = (addr: bigint, len: number) => core.readMemory(addr, len, strict);
  try {
    const label = `${core.path} memory at 0x${base.toString(16)}`;
    const header = parseElfHeader(await mem(base, 64), label);
    if (header.phnum * header.phentsize > MAX_HEADERS) return none("the in-memory ELF header is damaged");
    const phdrs = parseProgramHeaders(
      await mem(base + BigInt(header.phoff), header.phnum * header.phentsize),
      header.phnum,
      header.phentsize,
      label,
    );
    // Load bias: where the file's offset-0 page sits relative to the address the linker chose.
    const firstLoad = phdrs.find((p) => p.type === PT.LOAD && p.offset === 0);
    const bias = firstLoad ? base - (firstLoad.vaddr & ~BigInt(PAGE - 1)) : 0n;
    const fileToAddr = (off: number): bigint | null => {
      const p = phdrs.find((l) => l.type === PT.LOAD && off >= l.offset && off < l.offset + l.filesz);
      return p ? p.vaddr + BigInt(off - p.offset) + bias : null;
    };
    const notes: ElfNote[] = [];
    const areas: Array<[bigint, number, number]> = [];
    for (const p of phdrs)
      if (p.type === PT.NOTE && p.memsz > 0) areas.push([p.vaddr + bias, p.memsz, p.align]);
    // Section headers are not loaded by definition, but with Go they lie inside the first page.
    if (header.shoff !== 0 && header.shnum > 0 && header.shnum * header.shentsize <= MAX_HEADERS) {
      const at = fileToAddr(header.shoff);
      const bytes =
        at === null
          ? null
          : await core.readMemory(at, header.shnum * header.shentsize, strict).catch(() => null);
      if (bytes) {
        for (const s of parseSectionHeaders(bytes, header.shnum, header.shentsize, label)) {
          if (s.type !== SHT.NOTE || s.size === 0 || s.size > PAGE * 16) continue;
          const a = s.addr !== 0n ? s.addr + bias : fileToAddr(s.offset);
          if (a !== null && !areas.some(([x, len]) => a >= x && a < x + BigInt(len)))
            areas.push([a, s.size, s.addralign]);
        }
      }
    }
    for (const [addr, len, align] of areas) {
      const bytes = await core.readMemory(addr, len, strict).catch(() => null);
      if (!bytes) continue;
      try {
        for (const n of iterateNotes(bytes, align, label)) notes.push(n);
      } catch {
        // a damaged area: keep the notes read so far
      }
    }
    const ids = buildIdsFromNotes(notes);
    const problem =
      ids.goBuildId || ids.gnuBuildId ? null : "no build-ID note in the executable's dumped first page";
    return { path, base, ...ids, problem };
  } catch (e) {
    return none(`the executable's first page is not readable from the core (${(e as Error).message})`);
  }
}

interface BuildIdComparison {
  /** null: the core does not say (page not dumped, or no ID kind in common). */
  match: boolean | null;
  reason: string;
  core: CoreExecutableIdentity;
}

export async function compareCoreToBinary(
  core: Core | CoreExecutableIdentity,
  binary: BuildIds,
): Promise<BuildIdComparison> {
  const c = "readMemory" in core ? await coreExecutableIdentity(core) : core;
  if (!c.goBuildId && !c.gnuBuildId)
    return { match: null, reason: c.problem ?? "the core holds no build ID", core: c };
  const checks: Array<[string, string | null, string | null]> = [
    ["Go build ID", c.goBuildId, binary.goBuildId],
    ["GNU build ID", c.gnuBuildId, binary.gnuBuildId],
  ];
  const compared = checks.filter(([, a, b]) => a && b);
  if (compared.length === 0) {
    return { match: null, reason: "the core and the binary share no kind of build ID", core: c };
  }
  const differ = compared.find(([, a, b]) => a !== b);
  if (differ) {
    return {
      match: false,
      reason: `${differ[0]} differs: core has ${differ[1]}, binary has ${differ[2]}; this binary did not produce the core`,
      core: c,
    };
  }
  return { match: true, reason: `${compared.map(([k]) => k).join(" and ")} match`, core: c };
}
