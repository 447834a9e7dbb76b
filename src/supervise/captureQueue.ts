/**
 * Captures run one at a time, apart from the supervisor's decisions: in `run` a crashed service
 * is restarted (after its backoff) while its core is still being compressed and analysed. Never
 * a lost crash: whatever breaks in a capture, the traceback still makes a report.
 */
import { reportFromTracebackOnly } from "../analyze/index.js";
import type { Captured, CrashFacts } from "../capture/index.js";
import type { Logger } from "../util/log.js";

export interface CaptureQueue {
  queue(facts: CrashFacts, generation: number): Promise<Captured>;
  /** Settles once every capture queued so far is done. */
  idle(): Promise<unknown>;
}

export function createCaptureQueue(
  capture: (f: CrashFacts) => Promise<Captured>,
  logger: Logger,
): CaptureQueue {
  let captures: Promise<unknown> = Promise.resolve();
  return {
    queue(facts, generation) {
      const run = captures.then(() =>
        capture(facts).catch((e: Error): Captured => {
          logger.error(`capturing the crash of generation ${generation} failed: ${e.message}`);
          const core = { found: false, reason: `capture failed: ${e.message}` };
          return {
            bundle: null,
            report: reportFromTracebackOnly(facts.traceback, core),
            core,
            problems: [{ code: "E_CAPTURE", message: e.message }],
          };
        }),
      );
      captures = run;
      return run;
    },
    idle: () => captures.catch(() => {}),
  };
}

/** A write the store refuses (a full disk) is said once per kind until it works again. */
export function storeWriteReporter(logger: Logger): (what: string, err: Error | null) => void {
  const failing = new Set<string>();
  return (what, err) => {
    if (!err) {
      if (failing.delete(what)) logger.info(`${what}: writing again`);
      return;
    }
    if (failing.has(what)) return;
    failing.add(what);
    logger.warn(
      `cannot write ${what} (${(err as NodeJS.ErrnoException).code ?? err.message}); the service keeps running`,
    );
  };
}
