/**
 * `hotdump exec`: run a program once under crash capture, forward its output live, and turn its
 * end into an outcome (and, for a crash, a bundle and a report).
 */
import type { Writable } from "node:stream";
import type { AnalyzeOptions } from "../analyze/analyze.js";
import { type Captured, captureCrash } from "../capture/capture.js";
import { snapshotAfterExec } from "../capture/processFacts.js";
import type { Report } from "../contracts/report.js";
import { type BinaryIdentity, readBinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import { archiveBinary, ensureStore, type StoreLayout } from "../store/index.js";
import { LineSplitter } from "../util/lines.js";
import type { Logger } from "../util/log.js";
import { launchService } from "./launch.js";
import { type Ended, judgeEnd } from "./outcome.js";
import { createRaceWatcher } from "./race.js";
import { resolveCommand } from "./resolveCommand.js";

export interface RunOnceOptions {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  storeDir: string;
  stdout: Writable;
  stderr: Writable;
  logger: Logger;
  analyze?: Omit<AnalyzeOptions, "binary" | "core" | "stderr">;
  tailBytes?: number;
  /** Run Delve/gdb on the core (default true); the core is kept either way. */
  runAnalysis?: boolean;
}

export interface RunOnceResult {
  ended: Ended;
  pid: number | undefined;
  crash: Captured | null;
  stderrTail: string;
  /** For exits and kills: the traceback-only report (empty when nothing was printed). */
  report: Report | null;
  storeProblem?: HotdumpError;
}

export async function runOnce(o: RunOnceOptions): Promise<RunOnceResult> {
  const program = resolveCommand(o.command, o.cwd, o.env.PATH);

  let layout: StoreLayout | null = null;
  let storeProblem: HotdumpError | undefined;
  try {
    layout = ensureStore(o.storeDir);
  } catch (e) {
    storeProblem = e as HotdumpError;
    o.logger.warn(`${storeProblem.shortMessage}; crashes will be reported but not kept`);
  }

  // The copy is taken before the program starts, so replacing the file while it runs changes nothing.
  let identity: BinaryIdentity | null = null;
  try {
    identity = await readBinaryIdentity(program);
  } catch {
    identity = null; // a script or another non-ELF program: still runs, no build-ID proof
  }
  let archived: { path: string; sha256: string } | undefined;
  if (layout && identity?.isElf) {
    try {
      archived = await archiveBinary(layout, program);
    } catch (e) {
      o.logger.warn((e as HotdumpError).shortMessage ?? String(e));
    }
  }

  const startedAt = new Date();
  const races = createRaceWatcher();
  const stderrLines = new LineSplitter((l) => races.line(l));
  const child = launchService({
    command: program,
    args: o.args,
    cwd: o.cwd,
    env: o.env,
    stdin: "inherit",
    tailBytes: o.tailBytes ?? 256 * 1024,
    onStdout: (c) => o.stdout.write(c),
    onStderr: (c) => {
      o.stderr.write(c);
      stderrLines.push(c);
    },
  });
  // The child shares our process group, so a terminal's Ctrl-C reaches it directly; a signal sent
  // to hotdump alone (kill PID) is passed on. Either way hotdump stays to record how it ended.
  // Facts about the running process (its exact comm, pid namespace, core limit) for finding the core.
  const snapshot =
    child.pid !== undefined ? snapshotAfterExec(child.pid, program).catch(() => undefined) : undefined;
  const forward = (sig: NodeJS.Signals) => () => child.signal(sig);
  const handlers: [NodeJS.Signals, () => void][] = (["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const).map(
    (s) => [s, s === "SIGINT" ? () => {} : forward(s)],
  );
  for (const [s, h] of handlers) process.on(s, h);
  const end = await child.stopped;
  stderrLines.flush();
  for (const [s, h] of handlers) process.off(s, h);
  const endedAt = new Date();
  if (end.error && child.pid === undefined)
    throw new HotdumpError("exec", "E_EXEC_SPAWN", `could not start ${o.command}: ${end.error.message}`, {
      cause: end.error,
    });

  const { stderrTail, traceback, ended, races: raceReports } = judgeEnd(child, end, races.races);
  let crash: Captured | null = null;
  if (ended.outcome === "crash") {
    crash = await captureCrash(
      {
        pid: child.pid!,
        ended,
        startedAt,
        endedAt,
        cmdline: [o.command, ...o.args],
        cwd: o.cwd,
        envNames: Object.keys(o.env).sort(),
        binary: {
          path: program,
          ...(archived ? { archived: archived.path, sha256: archived.sha256 } : {}),
          identity,
        },
        stdoutTail: child.stdoutTail.toString(),
        stderrTail,
        traceback,
        races: raceReports,
        ...(snapshot && (await snapshot) ? { process: (await snapshot)! } : {}),
      },
      {
        layout,
        ...(storeProblem ? { storeError: storeProblem } : {}),
        ...(o.analyze ? { analyze: o.analyze } : {}),
        ...(o.runAnalysis === false ? { runAnalysis: false } : {}),
        logger: o.logger,
      },
    );
  }
  return {
    ended,
    pid: child.pid,
    crash,
    stderrTail,
    report: crash?.report ?? null,
    ...(storeProblem ? { storeProblem } : {}),
  };
}
