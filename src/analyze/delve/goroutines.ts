/**
 * Goroutine states and groups as people read them in a traceback (`chan receive`, `running`).
 */
import { classifyFrame, type FrameLike } from "../frames.js";
import { type GoroutineSketch, type GroupOptions, groupGoroutines } from "../group.js";
import type { GoroutineGroup } from "../report.js";
import { parseGoVersion } from "./client.js";
import { type Goroutine, GoroutineStatus, type ListGoroutinesOut, type Location } from "./types.js";

/**
 * The runtime's waitReason numbering for Go 1.26 (the iota block before waitReasonStrings in
 * GOROOT/src/runtime/runtime2.go, go1.26.8). Delve 1.27.2 uses the same table for 1.26 and 1.27
 * (service/api/waitreason.go); other versions number them differently, so they get "waiting".
 */
const WAIT_REASONS_1_26 = [
  "",
  "GC assist marking",
  "IO wait",
  "dumping heap",
  "garbage collection",
  "garbage collection scan",
  "panicwait",
  "GC assist wait",
  "GC sweep wait",
  "GC scavenge wait",
  "finalizer wait",
  "force gc (idle)",
  "GOMAXPROCS updater (idle)",
  "semacquire",
  "sleep",
  "chan receive (nil chan)",
  "chan send (nil chan)",
  "select (no cases)",
  "select",
  "chan receive",
  "chan send",
  "sync.Cond.Wait",
  "sync.Mutex.Lock",
  "sync.RWMutex.RLock",
  "sync.RWMutex.Lock",
  "sync.WaitGroup.Wait",
  "trace reader (blocked)",
  "wait for GC cycle",
  "GC worker (idle)",
  "GC worker (active)",
  "preempted",
  "debug call",
  "GC mark termination",
  "stopping the world",
  "flushing proc caches",
  "trace goroutine status",
  "trace proc status",
  "page trace flush",
  "coroutine",
  "GC weak to strong wait",
  "synctest.Run",
  "synctest.Wait",
  "chan receive (durable)",
  "chan send (durable)",
  "select (durable)",
  "sync.WaitGroup.Wait (durable)",
  "cleanup wait",
];

export function goroutineState(
  g: Pick<Goroutine, "status" | "waitReason">,
  goVersion: string | null,
): string {
  switch (g.status) {
    case GoroutineStatus.Idle:
      return "idle";
    case GoroutineStatus.Runnable:
      return "runnable";
    case GoroutineStatus.Running:
      return "running";
    case GoroutineStatus.Syscall:
      return "syscall";
    case GoroutineStatus.Dead:
      return "dead";
    case GoroutineStatus.Copystack:
      return "copystack";
    case GoroutineStatus.Waiting: {
      const v = goVersion ? parseGoVersion(goVersion) : null;
      const known = v && v[0] === 1 && (v[1] === 26 || v[1] === 27);
      return (known && WAIT_REASONS_1_26[g.waitReason]) || "waiting";
    }
    // Go 1.26's runtime/runtime2.go: 9 _Gpreempted, 10 _Gleaked (the leak detector found it
    // blocked forever), 11 _Gdeadextra (a dead goroutine kept for an extra M, cgo callbacks).
    case 9:
      return "preempted";
    case 10:
      return "leaked";
    case 11:
      return "dead (extra M)";
    default:
      return `status ${g.status}`;
  }
}

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
