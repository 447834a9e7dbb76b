/**
 * The traceback's goroutines grouped the one way every analyser groups them (../goroutineGroups.ts): by
 * state and by the innermost user frame, so 20,000 goroutines parked in `chan receive` at
 * main.waitOrder become one line and the runtime's own goroutines stay apart by wait reason.
 */

import type { GoroutineGroup } from "../../contracts/index.js";
import { detectGorootSrc as detectFromFiles } from "../frames.js";
import { groupGoroutines as groupSketches } from "../goroutineGroups.js";
import type { Goroutine } from "./tracebackTypes.js";

interface GroupOptions {
  /** Member ids kept per group (default 5). */
  maxIds?: number;
  /** GOROOT's `src/` as it appears in frame files; derived from the runtime's own frames when omitted. */
  gorootSrc?: string | null;
  /** The main module's path from the binary's build info (tells a dot-less module from std). */
  modulePath?: string | null;
}

function* runtimeFiles(goroutines: Goroutine[]): Generator<string> {
  for (const g of goroutines.slice(0, 200)) for (const f of g.frames) if (f.runtime) yield f.file;
}

/** GOROOT/src as printed, from any runtime frame's file; null under -trimpath. */
export function detectGorootSrc(goroutines: Goroutine[]): string | null {
  return detectFromFiles(runtimeFiles(goroutines));
}

export function groupGoroutines(goroutines: Goroutine[], opts: GroupOptions = {}): GoroutineGroup[] {
  const gorootSrc = opts.gorootSrc === undefined ? detectGorootSrc(goroutines) : opts.gorootSrc;
  return groupSketches(goroutines, {
    maxIds: opts.maxIds ?? 5,
    gorootSrc,
    modulePath: opts.modulePath ?? null,
  });
}
