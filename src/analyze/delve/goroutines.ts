/**
 * Goroutine states and groups as people read them in a traceback (`chan receive`, `running`).
 */
import type { GoroutineGroup } from "../../contracts/report.js";
import { parseGoVersion } from "./client.js";
import { type Goroutine, GoroutineStatus, type ListGoroutinesOut } from "./types.js";

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

/** Delve's group name is `FILE:LINE in FUNCTION` (service/debugger formatLoc). */
const GROUP_NAME = /^(.*):(\d+) in (.*)$/;

/** Delve's groups → the report's, largest first, with a total over every group. */
export function toGroups(
  out: ListGoroutinesOut,
  goVersion: string | null,
  maxGroups: number,
): { total: number; groups: GoroutineGroup[]; members: Goroutine[] } {
  const gs = out.Goroutines ?? [];
  const groups: GoroutineGroup[] = [];
  let total = 0;
  for (const grp of out.Groups ?? []) {
    total += grp.Total;
    const members = gs.slice(grp.Offset, grp.Offset + grp.Count);
    const loc = members[0]?.userCurrentLoc;
    const m = GROUP_NAME.exec(grp.Name);
    const states = new Map<string, number>();
    for (const g of members) {
      const s = goroutineState(g, goVersion);
      states.set(s, (states.get(s) ?? 0) + 1);
    }
    const state = [...states].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "unknown";
    groups.push({
      count: grp.Total,
      state,
      function: loc?.function?.name ?? m?.[3] ?? grp.Name,
      file: loc?.file ?? m?.[1] ?? "",
      line: loc?.line ?? Number(m?.[2] ?? 0),
      ids: members.map((g) => g.id),
    });
  }
  groups.sort((a, b) => b.count - a.count || a.function.localeCompare(b.function));
  return { total, groups: groups.slice(0, maxGroups), members: gs };
}
