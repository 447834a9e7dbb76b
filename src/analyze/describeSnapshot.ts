/**
 * A snapshot is a live process, not a crash: no culprit to claim. Delve still selects a thread
 * (whatever goroutine 1 or the current thread was doing: `net.(*netFD).accept` for an idle HTTP
 * service), which the report keeps as "where goroutine N was", not as the cause of anything.
 */
import type { Report } from "../contracts/index.js";

export function describeSnapshot(report: Report, pid: number): void {
  report.kind = "snapshot";
  const n = report.goroutines.total;
  report.message = `snapshot of pid ${pid}${n > 0 ? ` with ${n} goroutine${n === 1 ? "" : "s"}` : ""}: the process kept running`;
  report.value = null;
  report.culprit = null;
  report.warnings = report.warnings.filter((w) => !/^the traceback names /.test(w));
}
