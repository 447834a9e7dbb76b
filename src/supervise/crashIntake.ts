/**
 * Where a supervisor's crashes go: one capture at a time (captureQueue.ts) within its deadline,
 * recovered panics as bundles without core, the core set aside the moment a crash is seen, and
 * the cores the core handler filed while no supervisor was there. The last good build's binary is
 * pinned in the store, so a capture's retention never takes the binary a rollback needs.
 */

import { signatureOf } from "../analyze/signature.js";
import {
  type Captured,
  type CrashFacts,
  captureCrash,
  claimCore,
  createRecoveredRecorder,
  type DumpingFacts,
  type FirstReport,
  type FirstReportBundle,
  fileOrphanedCores,
  type RecoveredRecorder,
  watchFirstReport,
} from "../capture/index.js";
import { redactOptions } from "../util/redactor.js";
import { createCaptureQueue, storeWriteReporter } from "./captureQueue.js";
import type { ResolvedSupervisor } from "./supervisorOptions.js";

export interface CrashIntake {
  /** Capture a crash of `generation` after those queued before it. */
  queue(facts: CrashFacts, generation: number): Promise<Captured>;
  /** Set a crash's core aside before anything restarts. */
  claim(facts: CrashFacts): Promise<CrashFacts["claimed"]>;
  recorder: RecoveredRecorder;
  /** Reports a store write failing (once) and writing again. */
  storeWrite(what: string, err: Error | null): void;
  /** Settles once every crash and recovered panic seen so far is stored. */
  idle(): Promise<void>;
  /** Watches a process for a core dump, to write its first report (capture/firstReport.ts). */
  firstReport(facts: () => DumpingFacts, onWritten?: (e: FirstReportBundle) => void): FirstReport;
}

export function createCrashIntake(r: ResolvedSupervisor, pinned: () => string[]): CrashIntake {
  const { o, budget } = r;
  const journal = o.journal ? { journal: o.journal } : {};
  const store = () => ({
    layout: o.layout,
    pinnedBinaries: pinned(),
    ...(budget ? { budget } : {}),
    ...journal,
  });
  const captures = createCaptureQueue(
    o.capture ??
      ((facts: CrashFacts) =>
        captureCrash(facts, {
          ...store(),
          analyze: redactOptions(o.redact, o.env),
          deadline: facts.endedAt.getTime() + r.captureDeadlineMs,
        })),
    o.logger,
  );
  if (r.captureMode.mode === "handler") fileOrphans(r);
  // A panic the service recovered is a bundle without core; the same one again only counts.
  const recorder = createRecoveredRecorder({
    layout: o.layout,
    ...journal,
    capture: (facts) => captureCrash(facts, store()),
    emit: o.emit,
    logger: o.logger,
    fingerprint: (rep) => signatureOf(rep).fingerprint,
  });
  return {
    firstReport: (facts, onWritten) =>
      watchFirstReport({
        layout: o.layout,
        analyze: redactOptions(o.redact, o.env),
        facts,
        ...(onWritten ? { onWritten } : {}),
      }),
    queue: captures.queue,
    claim: o.claim ?? claimCore,
    recorder,
    storeWrite: storeWriteReporter(o.logger),
    async idle() {
      await captures.idle();
      await recorder.flush();
    },
  };
}

/** Cores the handler filed while no supervisor was there to take them (one was killed mid-dump). */
function fileOrphans({ o }: ResolvedSupervisor): void {
  void fileOrphanedCores(o.layout, { logger: o.logger, ...(o.journal ? { journal: o.journal } : {}) }).then(
    (filed) => {
      for (const c of filed)
        o.logger.warn(`filed an earlier crash the core handler kept: ${c.bundle?.id ?? "(not stored)"}`);
    },
    (e: Error) => o.logger.warn(`could not file the core handler's earlier cores: ${e.message}`),
  );
}
