/**
 * Groups goroutines by where the service's own code is (the first frame that is neither the
 * runtime nor the standard library, as Delve's `goroutines -group userloc` does with its user
 * frame) and by state: 20,000 goroutines parked in `chan receive` at main.waitOrder become one line.
 */
import type { GoroutineGroup } from "../../contracts/report.js";
import type { Goroutine, TracebackFrame } from "./types.js";

export interface GroupOptions {
  /** Member ids kept per group (default 5). */
  maxIds?: number;
  /** GOROOT's `src/` as it appears in frame files; derived from the runtime's own frames when omitted. */
  gorootSrc?: string | null;
}

/**
 * GOROOT/src as printed, from any runtime frame's file (`/usr/local/go/src/runtime/proc.go`). Under
 * -trimpath runtime files print as `runtime/proc.go`, and the standard library cannot be told from
 * the module's own files by path: then null, and only runtime frames are skipped.
 */
export function detectGorootSrc(goroutines: Goroutine[]): string | null {
  for (const g of goroutines.slice(0, 200)) {
    for (const f of g.frames) {
      if (!f.runtime) continue;
      for (const dir of ["/src/runtime/", "/src/internal/"]) {
        const k = f.file.lastIndexOf(dir);
        if (k > 0) return f.file.slice(0, k + 5);
      }
    }
  }
  return null;
}

/** The frame a person would look at: first user frame, else first non-runtime one, else the top. */
export function userFrame(frames: TracebackFrame[], gorootSrc: string | null): TracebackFrame | undefined {
  let nonRuntime: TracebackFrame | undefined;
  for (const f of frames) {
    if (f.runtime) continue;
    if (gorootSrc === null || !f.file.startsWith(gorootSrc)) return f;
    nonRuntime ??= f;
  }
  return nonRuntime ?? frames[0];
}

export function groupGoroutines(goroutines: Goroutine[], opts: GroupOptions = {}): GoroutineGroup[] {
  const maxIds = opts.maxIds ?? 5;
  const goroot = opts.gorootSrc === undefined ? detectGorootSrc(goroutines) : opts.gorootSrc;
  const groups = new Map<string, GoroutineGroup>();
  for (const g of goroutines) {
    const f = userFrame(g.frames, goroot);
    const fn = f?.function ?? "?";
    const file = f?.file ?? "";
    const line = f?.line ?? 0;
    const key = `${g.state}\u0000${fn}\u0000${file}\u0000${line}`;
    let grp = groups.get(key);
    if (!grp) {
      grp = { count: 0, state: g.state, function: fn, file, line, ids: [] };
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
