/**
 * A hang (issue 18): a generation that failed liveness or missed its watchdog was made to dump
 * every goroutine (SIGQUIT under GOTRACEBACK=crash: the runtime prints each one with its wait
 * reason and, past a minute, its wait time, then dumps core). Its report says what waits, on
 * what, for how long, and which user frame waits: `3 goroutines in sync.Mutex.Lock, 3 minutes, at
 * main.(*store).get store.go:41`.
 */
import type { HangWait, Report } from "../contracts/index.js";
import { type ClassifyContext, classifyFrame, locationIndex } from "./frames.js";
import type { Traceback } from "./traceback/index.js";

/** Waits that are a goroutine's job (idle workers, the runtime's own): listed after the others. */
const IDLE_STATES = new Set([
  "IO wait",
  "select",
  "chan receive",
  "sleep",
  "GC worker (idle)",
  "force gc (idle)",
]);

/** Goroutines grouped by wait reason and the user frame that waits, longest and largest first. */
export function hangWaits(tb: Traceback, ctx: ClassifyContext = {}): HangWait[] {
  const groups = new Map<string, HangWait>();
  for (const g of tb.goroutines) {
    if (g.state === "running" || g.state === "runnable") continue;
    const i = locationIndex(g.frames, ctx);
    const f = g.frames[i];
    if (!f || classifyFrame(f, ctx) === "runtime") continue;
    const key = `${g.state}\u0000${f.function}\u0000${f.file}:${f.line}`;
    let w = groups.get(key);
    if (!w) {
      w = { state: g.state, minutes: 0, count: 0, function: f.function, file: f.file, line: f.line, ids: [] };
      groups.set(key, w);
    }
    w.count++;
    w.minutes = Math.max(w.minutes, g.waitMinutes ?? 0);
    if (w.ids.length < 5) w.ids.push(g.id);
  }
  const rank = (w: HangWait) => (IDLE_STATES.has(w.state) ? 1 : 0);
  return [...groups.values()].sort((a, b) => rank(a) - rank(b) || b.minutes - a.minutes || b.count - a.count);
}

export function describeHang(
  report: Report,
  tb: Traceback | null,
  reason: string,
  ctx: ClassifyContext = {},
): void {
  const waits = tb ? hangWaits(tb, ctx) : [];
  const top = waits[0];
  report.kind = "hang";
  report.hang = { reason, waits };
  report.value = null;
  report.message = top
    ? `hung (${reason}): ${top.count} goroutine${top.count === 1 ? "" : "s"} in ${top.state}${top.minutes ? `, ${top.minutes} minute${top.minutes === 1 ? "" : "s"}` : ""}, at ${top.function}`
    : `hung (${reason})`;
  report.culprit = top ? { function: top.function, file: top.file, line: top.line } : null;
  // The SIGQUIT hotdump sent is no finding: the waits are.
  report.signal = null;
  report.warnings = report.warnings.filter((w) => !/^the traceback names /.test(w));
}
