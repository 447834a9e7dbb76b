/**
 * Goroutine states and groups as people read them in a traceback (`chan receive`, `running`).
 */

import type { GoroutineGroup } from "../../contracts/index.js";
import { type ClassifyContext, classifyFrame, detectGorootSrc, type FrameLike } from "../frames.js";
import { type GoroutineSketch, type GroupOptions, groupGoroutines } from "../goroutineGroups.js";
import { goroutineState } from "../goroutineState.js";
import type { DelveSession } from "./client.js";
import { type Goroutine, GoroutineField, type ListGoroutinesOut, type Location } from "./delveProtocol.js";

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
async function delveGoroutineGroups(
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

interface ListedGroups {
  total: number;
  groups: GoroutineGroup[];
  members: Goroutine[];
  listed: ListGoroutinesOut;
  /** GOROOT/src as the runtime's frames print it (null under -trimpath). */
  gorootSrc: string | null;
}

/**
 * Every goroutine of the session's target, grouped the one way (../goroutineGroups.ts): what the crash
 * analysis puts in report.json and what `hotdump diff` recomputes when a report kept only the
 * largest groups, so both sides of a diff are grouped alike.
 */
export async function listGoroutineGroups(
  s: DelveSession,
  o: { goVersion: string | null; classify: ClassifyContext; maxGroups: number; maxIds?: number },
): Promise<ListedGroups> {
  const listed = await s.call("ListGoroutines", {
    Start: 0,
    Count: 0,
    // Ungrouped: Delve groups by one location and has no state key, and a group labelled with
    // one member's wait reason mixed them all (7 wait reasons under `force gc (idle)`).
    GroupBy: GoroutineField.None,
    GroupByKey: "",
    MaxGroupMembers: 0,
    MaxGroups: 0,
  });
  const gorootSrc =
    o.classify.gorootSrc !== undefined
      ? o.classify.gorootSrc
      : detectGorootSrc(
          (listed.Goroutines ?? []).flatMap((g) => [g.currentLoc?.file ?? "", g.startLoc?.file ?? ""]),
        );
  const got = await delveGoroutineGroups(listed, o.goVersion, {
    ...o.classify,
    gorootSrc,
    maxGroups: o.maxGroups,
    ...(o.maxIds !== undefined ? { maxIds: o.maxIds } : {}),
    stackOf: async (id) =>
      (await s.call("Stacktrace", { Id: id, Depth: 50, Full: false, Defers: false })).Locations?.map((f) => ({
        function: f.function?.name ?? "?",
        file: f.file,
        line: f.line,
      })) ?? [],
  });
  return { ...got, listed, gorootSrc };
}

/** `go1.26.8` from Delve's TargetGoVersion (`go1.26.8 X:nocoverageredesign`). */
export const targetGoVersion = (v: { TargetGoVersion: string }): string | null =>
  /go\d+\.\d+(\.\d+)?\S*/.exec(v.TargetGoVersion)?.[0] ?? null;
