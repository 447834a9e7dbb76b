/** What a byte scan of a core takes and finds: shared by the in-memory and the streaming scanner. */
import type { CoreSegment } from "../elf/index.js";

export interface ScanPattern {
  bytes: Buffer;
  /** For people: `hex efbeadde`, `string "token"`, `pointer 0xc000012000`. */
  describe: string;
}

export interface RawHit {
  addr: bigint;
  segment: CoreSegment;
  /** Up to `context` bytes before the match (fewer at a segment's start). */
  before: Buffer;
  match: Buffer;
  after: Buffer;
}

export interface ScanStats {
  /** Dumped bytes searched. */
  bytes: number;
  segments: number;
  ms: number;
  /** True when --max stopped the scan before the end. */
  capped: boolean;
}

export interface ScanOptions {
  /** Stop after this many hits (default 1000). */
  max?: number;
  /** Context bytes on each side (default 16). */
  context?: number;
  chunkSize?: number;
}
