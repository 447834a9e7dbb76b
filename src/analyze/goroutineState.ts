/**
 * Goroutine states as people read them in a traceback (`chan receive`, `force gc (idle)`), from
 * the runtime's g.atomicstatus and g.waitreason: Delve lists both, and gdb reads them from
 * runtime.allgs, so every analyser names a state the same way.
 */

/** proc.G status values (runtime2.go: _Gidle.._Gcopystack), as Delve lists them and gdb reads them. */
const GoroutineStatus = {
  Idle: 0,
  Runnable: 1,
  Running: 2,
  Syscall: 3,
  Waiting: 4,
  MoribundUnused: 5,
  Dead: 6,
  Enqueue: 7,
  Copystack: 8,
} as const;

/** `go1.26.8` → [1, 26]. */
function goMinor(v: string): [number, number] | null {
  const m = /go(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

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

export function goroutineState(g: { status: number; waitReason: number }, goVersion: string | null): string {
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
      const v = goVersion ? goMinor(goVersion) : null;
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
