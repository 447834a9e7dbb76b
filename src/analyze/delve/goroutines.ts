/**
 * Goroutine states and groups as people read them in a traceback (`chan receive`, `running`).
 */

import type { GoroutineGroup } from "../../contracts/report.js";
import { classifyFrame, type FrameLike } from "../frames.js";
import { goroutineState } from "../goroutineState.js";
import { type GoroutineSketch, type GroupOptions, groupGoroutines } from "../group.js";
import type { Goroutine, ListGoroutinesOut, Location } from "./types.js";

export { goroutineState } from "../goroutineState.js";

/** Stacks read per analysis to find the user frame of goroutines Delve parks in library code. */
const MAX_STACK_READS = 64;

const loc = (l: Location | undefined): FrameLike | undefined =>
  l?.function?.name ? { function: l.function.name, file: l.file, line: l.line } : undefined;

/**
 * Every goroutine Delve listed → the report's groups (../group.ts, the one way groups are formed).
 *
 * Delve's userCurrentLoc skips only the runtime: a goroutine blocked in `sync.(*Mutex).Lock` or
 * `time.Sleep` has that as its "user" location, and the runtime's own goroutines have
 * `runtime.gopark`. For those, one stack is read per distinct (state, location, start function)
 * and lent to every goroutine sharing it: the cost follows the number of distinct places, not of
 * goroutines (10,000 goroutines parked at one user line cost no stack read at all).
 */
export async function delveGoroutineGroups(
  listed: ListGoroutinesOut,
  goVersion: string | null,
  opts: GroupOptions & { maxGroups: number; stackOf: (id: number) => Promise<FrameLike[]> },
): Promise<{ total: number; groups: GoroutineGroup[]; members: Goroutine[] }> {
  const gs = listed.Goroutines ?? [];
  const pending: { id: number; state: string; frames: FrameLike[] | Promise<FrameLike[]> }[] = [];
  const shared = new Map<string, Promise<FrameLike[]>>();
  for (const g of gs) {
    const state = goroutineState(g, goVersion);
    const user = loc(g.userCurrentLoc) ?? loc(g.currentLoc);
    const start = loc(g.startLoc);
    const known = [user, start].filter((f): f is FrameLike => f !== undefined);
    let frames: FrameLike[] | Promise<FrameLike[]> = known;
    if (!user || classifyFrame(user, opts) !== "user") {
      const key = `${state}\u0000${user?.function}\u0000${user?.file}:${user?.line}\u0000${start?.function}`;
      let got = shared.get(key);
      if (!got && shared.size < MAX_STACK_READS) {
        got = opts.stackOf(g.id).then(
          (st) => (st.length > 0 ? st : known),
          () => known,
        );
        shared.set(key, got);
      }
      if (got) frames = got;
    }
    pending.push({ id: g.id, state, frames });
  }
  const sketches: GoroutineSketch[] = await Promise.all(
    pending.map(async (p) => ({ id: p.id, state: p.state, frames: await p.frames })),
  );
  const groups = groupGoroutines(sketches, opts);
  return { total: gs.length, groups: groups.slice(0, opts.maxGroups), members: gs };
}
