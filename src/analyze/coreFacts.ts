/**
 * What a core says of itself (memory map, truncation, whether a binary made it) and the analysis
 * that falls back to that map: all `hotdump analyze --binary --core` needs, kept apart from the
 * stored-crash path (reanalyze.ts), which loads the store (SQLite, zod) a plain analysis never uses.
 */
import type { Mapping, Report } from "../contracts/index.js";
import { type BinaryIdentity, compareCoreToBinary, openCore } from "../elf/index.js";
import { type AnalyzeOptions, analyzeCrash } from "./analyzeCrash.js";
import { memoryMapOf } from "./memoryMap.js";

export interface CoreFacts {
  memoryMap: Mapping[];
  /** The ELF says it is cut short (a core cut by RLIMIT_CORE may not say so: see capture/). */
  truncated: boolean;
  /** Set only when the binary's identity was given. */
  buildIdMatch?: boolean | null;
  buildIdReason?: string;
}

/** What the core itself says, read once: memory map, truncation, and whether `identity` made it. */
export async function readCoreFacts(corePath: string, identity?: BinaryIdentity | null): Promise<CoreFacts> {
  const c = await openCore(corePath);
  try {
    const facts: CoreFacts = { memoryMap: memoryMapOf(c), truncated: c.truncated !== null };
    if (identity) {
      const cmp = await compareCoreToBinary(c, identity);
      facts.buildIdMatch = cmp.match;
      facts.buildIdReason = cmp.reason;
    }
    return facts;
  } finally {
    await c.close();
  }
}

/** analyzeCrash, with the core's own memory map when neither Delve nor gdb gave one. */
export async function analyzeWithMap(o: AnalyzeOptions, memoryMap: Mapping[]): Promise<Report> {
  const report = await analyzeCrash(o);
  if (report.memoryMap.length === 0) report.memoryMap = memoryMap;
  return report;
}
