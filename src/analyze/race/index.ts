/**
 * Data races from a `-race` binary's output: `parseRaceReports(stderr)` reads ThreadSanitizer's
 * reports, `applyRaces` makes them the report's subject when nothing else killed the program.
 */
import type { Report } from "../../contracts/index.js";
import { readSourceContext } from "../gdb/index.js";
import { blamedAccess, raceMessage } from "./parseRace.js";

export {
  isUserFunction,
  parseRaceBlock,
  parseRaceReports,
  RACE_RULE,
  RACE_WARNING,
  raceMessage,
} from "./parseRace.js";

/**
 * Every race goes into `races`. When the program died of nothing else (no panic, no fatal error,
 * no signal: the race detector's exit), the first race is the crash: kind `race`, its message, the
 * racing write's user frame as culprit (the stacks are in `races`).
 */
export function applyRaces(report: Report, races: Report["races"]): Report {
  if (races.length === 0) return report;
  // There is no core to read: the source of each racing write comes from this machine's disk,
  // when it is there.
  for (const r of races) {
    const c = r.culprit;
    const f =
      c && blamedAccess(r.accesses)?.frames.find((x) => x.function === c.function && x.line === c.line);
    if (f && !f.source) {
      const source = readSourceContext(f.file, f.line);
      if (source) f.source = source;
    }
  }
  const out: Report = { ...report, races };
  const first = races[0]!;
  if (report.kind === "unknown" || (!report.sources.traceback.used && !report.message)) {
    out.kind = "race";
    const more = races.length > 1 ? ` (and ${races.length - 1} more)` : "";
    out.message = `${raceMessage(first)}${more}`;
    out.culprit = first.culprit;
  } else
    out.warnings = [
      ...report.warnings,
      `the race detector also reported ${races.length} data race${races.length === 1 ? "" : "s"} before the program died`,
    ];
  return out;
}
