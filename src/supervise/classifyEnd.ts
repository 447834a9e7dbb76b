/**
 * How a program ended, in the words of the JSON contract: `crash`, `exit` or `killed`.
 * With GOTRACEBACK=crash every Go crash kind tried (panics in a goroutine, in init, nested; a map
 * written concurrently; deadlock; stack overflow; a bad-address fault) prints its traceback and
 * dies of SIGABRT with a core (status 134 from a shell); os.Exit(3) and log.Fatal exit 3 and 1
 * without one (test/fixtures/go/tbcrash runs each kind, test/traceback.test.ts checks them). With the user's own GOTRACEBACK (single, all, none) a
 * panic exits with status 2 after printing its traceback: still a crash, just without a core.
 */
import { parseRaceReports } from "../analyze/race/index.js";
import { parseTraceback, type Traceback } from "../analyze/traceback/index.js";
import { CORE_SIGNALS } from "../capture/index.js";
import type { Ended, Outcome, Race } from "../contracts/index.js";
import type { ChildEnd } from "../util/child.js";
import { signalNumber } from "../util/child.js";

export type { Ended, Outcome };

export function classifyEnd(end: ChildEnd, opts: { goTracebackSeen: boolean; races?: number }): Ended {
  const signal = end.signal;
  if (signal) {
    const status = 128 + (signalNumber(signal) ?? 0);
    if (CORE_SIGNALS.has(signal)) return { outcome: "crash", exitCode: null, signal, status };
    const note =
      signal === "SIGKILL"
        ? "killed by SIGKILL from outside (the OOM killer or kill -9): no core is possible"
        : `killed by ${signal} from outside: no core is written for it`;
    return { outcome: "killed", exitCode: null, signal, status, note };
  }
  const code = end.exitCode ?? 0;
  if (code === 2 && opts.goTracebackSeen)
    return {
      outcome: "crash",
      exitCode: code,
      signal: null,
      status: code,
      note: "the program panicked but exited with status 2 instead of dumping core (GOTRACEBACK is not 'crash')",
    };
  // The race detector ends the program itself (exit 66 by default; GORACE=exitcode=N changes it)
  // and writes no core: a failing exit after a race report is the race's doing.
  if (code !== 0 && (opts.races ?? 0) > 0)
    return {
      outcome: "crash",
      exitCode: code,
      signal: null,
      status: code,
      note: `the race detector reported ${opts.races} data race${opts.races === 1 ? "" : "s"} and exited with status ${code}: it writes no core (the binary and the output are kept)`,
    };
  return { outcome: "exit", exitCode: code, signal: null, status: code };
}

/** How a finished child is judged, by exec and by the supervisor alike: its stderr's traceback and its end. */
export function judgeEnd(
  child: { stderrTail: { toString(): string } },
  end: ChildEnd,
  /** Race reports seen while it ran (a watcher on the whole output); else parsed from the tail. */
  seenRaces?: Race[],
): { stderrTail: string; traceback: Traceback | null; races: Race[]; ended: Ended } {
  const stderrTail = child.stderrTail.toString();
  const traceback = parseTraceback(stderrTail);
  const races = seenRaces && seenRaces.length > 0 ? seenRaces : parseRaceReports(stderrTail);
  return {
    stderrTail,
    traceback,
    races,
    ended: classifyEnd(end, { goTracebackSeen: traceback !== null, races: races.length }),
  };
}
