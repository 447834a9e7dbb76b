/**
 * How a program ended, as every stage names it: the outcome word of the JSON contract, the status a
 * shell would print, and Go's wording for a fatal signal. supervise/ judges an end; capture/ and the
 * renderers only read the verdict.
 */
import type { Outcome } from "./crashMeta.js";

export type { Outcome };

export interface Ended {
  outcome: Outcome;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The status a shell would report: the exit code, or 128 + signal number. */
  status: number;
  /** One line for people: why no core can exist, when that is known now. */
  note?: string;
}

const DESCRIPTIONS: Record<string, string> = {
  SIGQUIT: "quit",
  SIGILL: "illegal instruction",
  SIGTRAP: "trace/breakpoint trap",
  SIGABRT: "abort",
  SIGBUS: "bus error",
  SIGFPE: "floating-point exception",
  SIGSEGV: "segmentation violation",
  SIGXCPU: "CPU time limit exceeded",
  SIGXFSZ: "file size limit exceeded",
  SIGSYS: "bad system call",
};

/** `SIGSEGV: segmentation violation`, Go's own wording for a signal it did not handle. */
export const describeSignal = (sig: string) => (DESCRIPTIONS[sig] ? `${sig}: ${DESCRIPTIONS[sig]}` : sig);
