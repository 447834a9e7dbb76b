/**
 * One answer, for `exec` and for every supervised generation alike, to "the child hotdump started
 * has ended: did something crash, which process, and which exact binary was it running?". As
 * Delve's one Process interface for a core and a live process: two ways of starting, one function.
 */
import {
  type CrashFacts,
  discardFirstReport,
  type FirstReport,
  type ProcessSnapshot,
} from "../capture/index.js";
import type { Race } from "../contracts/index.js";
import type { StoreLayout } from "../store/index.js";
import type { Child, ChildEnd } from "../util/child.js";
import type { Logger } from "../util/log.js";
import { type Ended, judgeEnd } from "./classifyEnd.js";
import {
  type CrashedProcess,
  crashedCwd,
  descendantBinary,
  findCrashedProcess,
  type HeldCores,
} from "./crashedProcess.js";
import type { DescendantTracker } from "./descendants.js";

/** What hotdump started, as it started it. */
export interface Started {
  argv: readonly string[];
  cwd: string;
  envNames: string[];
  /** The binary hotdump started (and its stored copy): the crash's binary when the root is it. */
  binary: NonNullable<CrashFacts["binary"]>;
  startedAt: Date;
  generation?: number;
  /** /proc facts of the root taken after its exec (exec takes them; a generation's descendants carry theirs). */
  rootSnapshot?: Promise<ProcessSnapshot | undefined>;
  /** The root's first report, written while its core was dumped (capture/firstReport.ts). */
  firstReport?: FirstReport;
}

export interface CrashedSummary {
  pid: number;
  argv: string[];
  exe: string;
  /** The child hotdump started (possibly after an exec), rather than one of its descendants. */
  root: boolean;
  evidence: CrashedProcess["evidence"];
}

export interface Attributed {
  ended: Ended;
  stderrTail: string;
  /** The crashed process and what capture needs of it; null when nothing crashed. */
  crash: { facts: CrashFacts; summary: CrashedSummary } | null;
}

export async function attributeEnd(
  child: Pick<Child, "pid" | "stdoutTail" | "stderrTail">,
  end: ChildEnd,
  tracker: DescendantTracker | null,
  s: Started,
  o: {
    /** Stopped by hotdump: a descendant killed on the way down is no crash. */
    expected?: boolean;
    /** Race reports seen while it ran (a watcher on the whole output). */
    races?: Race[];
    layout: StoreLayout | null;
    logger?: Logger;
    /** Cores the capture mode already holds (the tracer's, the handler's): capture/launchCapture.ts. */
    held?: HeldCores;
    /**
     * The root started as a capture wrapper (the tracer) that exec'd the program: the identity the
     * tracker took of the root first is the tracer's (a Go program too), not the program's.
     */
    wrapped?: boolean;
  },
): Promise<Attributed> {
  const endedAt = new Date();
  // The root's bundle opened before its exit, adopted by the capture of that very process only.
  const early = (await s.firstReport?.settle()) ?? null;
  const adopt = (facts: CrashFacts): CrashFacts => {
    if (early && facts.pid === early.report.process?.pid) facts.early = early;
    return facts;
  };
  const attributed = await attributeCrash(child, end, tracker, s, o, endedAt, adopt);
  if (early && attributed.crash?.facts.early !== early) await discardFirstReport(early);
  return attributed;
}

async function attributeCrash(
  child: Pick<Child, "pid" | "stdoutTail" | "stderrTail">,
  end: ChildEnd,
  tracker: DescendantTracker | null,
  s: Started,
  o: Parameters<typeof attributeEnd>[4],
  endedAt: Date,
  adopt: (facts: CrashFacts) => CrashFacts,
): Promise<Attributed> {
  const judged = judgeEnd(child, end, o.races);
  const { stderrTail, traceback, races } = judged;
  let ended = judged.ended;
  let crashed = tracker
    ? await findCrashedProcess(tracker, end, traceback, { startedAt: s.startedAt, endedAt }, o.held)
    : null;
  await tracker?.stop(crashed ? [crashed.process] : []);
  if (crashed && !crashed.root && o.expected) crashed = null;
  // Judged a crash from its own output alone (a race report's exit status): the child is the one.
  const root = tracker?.list().find((d) => d.pid === child.pid);
  if (!crashed && ended.outcome === "crash" && root)
    crashed = { process: root, root: true, ended, evidence: "exit-status" };
  if (!crashed) {
    if (ended.outcome !== "crash") return { ended, stderrTail, crash: null };
    // A crash judged from the exit alone with no tree to look at (a fake host, a failed /proc).
    return {
      ended,
      stderrTail,
      crash: {
        facts: adopt(
          factsOf(s, child, { pid: child.pid ?? 0, ended, endedAt, stderrTail, traceback, races }),
        ),
        summary: {
          pid: child.pid ?? 0,
          argv: [...s.argv],
          exe: s.binary.path,
          root: true,
          evidence: "exit-status",
        },
      },
    };
  }
  const p = crashed.process;
  const summary: CrashedSummary = {
    pid: p.pid,
    // The root is seen first as the launch shell: its argv then is hotdump's prelude.
    argv: p.argv.length && (p.isGo || !crashed.root) && !(crashed.root && o.wrapped) ? p.argv : [...s.argv],
    exe: p.exe.replace(/ \(deleted\)$/, ""),
    root: crashed.root,
    evidence: crashed.evidence,
  };
  if (ended.outcome !== "crash")
    ended = {
      ...ended,
      outcome: "crash",
      note: `pid ${p.pid} (${summary.argv.join(" ")}) crashed; ${s.argv[0]} then ${ended.signal ? `died of ${ended.signal}` : `exited with status ${ended.exitCode}`}`,
    };
  // The binary that really ran: the one started when the root is that very program (same Go build
  // ID), else the process's own executable through the fd kept while it ran (a launcher that
  // exec'd its program, `go run` that deleted its file, a worker).
  const sameAsStarted =
    crashed.root &&
    (o.wrapped === true ||
      (s.binary.identity?.goBuildId != null && p.identity?.goBuildId === s.binary.identity.goBuildId));
  const binary = (!sameAsStarted && (await descendantBinary(p, o.layout, o.logger))) || s.binary;
  // A Go process's snapshot is re-taken once its binary is known to be Go (after any exec); a root
  // not yet identified (it crashed within a poll) has the one taken once it exec'd the program.
  const snapshot =
    p.isGo || !crashed.root ? (p.snapshot ?? undefined) : s.rootSnapshot ? await s.rootSnapshot : undefined;
  const facts = factsOf(s, child, {
    pid: p.pid,
    ended: crashed.ended,
    endedAt,
    stderrTail,
    traceback,
    races,
  });
  facts.cmdline = summary.argv;
  facts.cwd = snapshot?.cwd ?? crashedCwd(crashed, s.cwd);
  facts.binary = binary;
  if (snapshot) facts.process = snapshot;
  const held = await o.held?.coreOf(p.pid);
  if (held) facts.claimed = held;
  return { ended, stderrTail, crash: { facts: adopt(facts), summary } };
}

function factsOf(
  s: Started,
  child: Pick<Child, "stdoutTail">,
  e: Pick<CrashFacts, "pid" | "ended" | "endedAt" | "stderrTail" | "traceback"> & { races: Race[] },
): CrashFacts {
  return {
    pid: e.pid,
    ended: e.ended,
    startedAt: s.startedAt,
    endedAt: e.endedAt,
    cmdline: [...s.argv],
    cwd: s.cwd,
    envNames: s.envNames,
    binary: s.binary,
    stdoutTail: child.stdoutTail.toString(),
    stderrTail: e.stderrTail,
    traceback: e.traceback,
    races: e.races,
    ...(s.generation !== undefined ? { generation: s.generation } : {}),
  };
}
