/**
 * Goroutine groups, formed one way for every analyser (Delve, the traceback, gdb): by state
 * (wait reason) and by the frame that names the goroutine (frames.ts locationIndex: the innermost
 * user frame), like panicparse's signature grouping. Two goroutines with different wait reasons
 * never share a group, so a label never claims one member's state for all of them.
 */

import type { GoroutineGroup } from "../contracts/index.js";
import { type ClassifyContext, classifyFrame, type FrameLike, locationIndex } from "./frames.js";

export interface GoroutineSketch {
  id: number;
  /** `chan receive`, `running`, `force gc (idle)`: the runtime's wait reason when waiting. */
  state: string;
  /** Innermost first; as much of the stack as the analyser knows. */
  frames: readonly FrameLike[];
}

export interface GroupOptions extends ClassifyContext {
  /** Member ids kept per group (default 5). */
  maxIds?: number;
}

export function groupGoroutines(
  goroutines: Iterable<GoroutineSketch>,
  opts: GroupOptions = {},
): GoroutineGroup[] {
  const maxIds = opts.maxIds ?? 5;
  const groups = new Map<string, GoroutineGroup>();
  // Goroutines sharing one frames array (Delve: one stack read for a whole pre-group) share its
  // location: classify each array once.
  const located = new WeakMap<readonly FrameLike[], FrameLike | undefined>();
  for (const g of goroutines) {
    let f = located.get(g.frames);
    if (!located.has(g.frames)) {
      f = g.frames[locationIndex(g.frames, opts)];
      located.set(g.frames, f);
    }
    const fn = f?.function ?? "?";
    const file = f?.file ?? "";
    const line = f?.line ?? 0;
    const key = `${g.state}\u0000${fn}\u0000${file}\u0000${line}`;
    let grp = groups.get(key);
    if (!grp) {
      grp = {
        count: 0,
        state: g.state,
        function: fn,
        file,
        line,
        class: f ? classifyFrame(f, opts) : "runtime",
        ids: [],
      };
      groups.set(key, grp);
    }
    grp.count++;
    if (grp.ids && grp.ids.length < maxIds) grp.ids.push(g.id);
  }
  return [...groups.values()].sort(
    (a, b) =>
      b.count - a.count ||
      a.function.localeCompare(b.function) ||
      a.state.localeCompare(b.state) ||
      a.line - b.line,
  );
}
