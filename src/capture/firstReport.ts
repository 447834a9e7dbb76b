/**
 * The report before the core. A Go program that dies under GOTRACEBACK=crash prints every
 * goroutine, then the kernel writes its core, then frees its memory, and only then does hotdump
 * hear of the exit: for 10,000 goroutines and a 1 GiB heap here, the traceback was complete 1.3-1.5 s
 * after the panic, the core 0.6-1.9 s later, and the exit 0.55 s after that
 * (bench/crash-to-report.mjs). The traceback alone names the culprit, the panic value and the
 * goroutine groups, so it need not wait: once a fatal header ("panic: ", "fatal error: ") was
 * printed and the kernel says it is dumping (CoreDumping in /proc/PID/status), the bundle opens
 * with report.json from the traceback (capture.ts openFirstReport); the capture that follows the
 * exit adopts it and writes the full report (Delve's locals and registers) over it.
 *
 * Only a dump that lasts (DUMP_MS) gets one: a small program's exit comes within milliseconds of
 * its dump, and its capture goes the usual way.
 */
import { parseTraceback } from "../analyze/traceback/index.js";
import { readProcText } from "../util/procfs.js";
import {
  type CaptureOptions,
  type DumpingFacts,
  type FirstReportBundle,
  openFirstReport,
} from "./capture.js";

/** How long the kernel must have been dumping before the first report is written. */
const DUMP_MS = 200;
/** How often /proc/PID/status is read once a fatal header was printed. */
const POLL_MS = 10;
/**
 * A header seen but no dump after this long: a message that only looked like one (a real crash
 * prints its goroutines first: 1.5 s for 10,000 here). Watching stops; the capture still comes.
 */
const GIVE_UP_MS = 60_000;

const FATAL = /^(panic: |fatal error: )/;

export interface FirstReport {
  /** Each line the process writes on stderr. */
  line(text: string): void;
  /** Stops watching; the bundle opened early, if one was (once: later calls get null). */
  settle(): Promise<FirstReportBundle | null>;
}

export interface FirstReportOptions extends Pick<CaptureOptions, "layout" | "analyze"> {
  /** What is known of the process now (its output so far included). */
  facts: () => DumpingFacts;
  /** The first report was written (dev and run say so in the terminal). */
  onWritten?: (e: FirstReportBundle) => void;
}

export function watchFirstReport(o: FirstReportOptions): FirstReport {
  let timer: NodeJS.Timeout | undefined;
  let armedAt = 0;
  let dumpingSince = 0;
  let opening: Promise<FirstReportBundle | null> | undefined;
  let settled = false;
  const stopPolling = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  const poll = () => {
    const facts = o.facts();
    let status: string | null;
    try {
      status = readProcText(`/proc/${facts.pid}/status`);
    } catch {
      status = null; // gone: its end is the capture's
    }
    const now = Date.now();
    if (status === null || now - armedAt > GIVE_UP_MS) return stopPolling();
    if (!/^CoreDumping:\s*1/m.test(status)) {
      dumpingSince = 0;
      return;
    }
    dumpingSince ||= now;
    if (now - dumpingSince < DUMP_MS) return;
    stopPolling();
    const traceback = parseTraceback(facts.stderrTail);
    if (!traceback) return;
    opening = openFirstReport(facts, traceback, o).then((e) => {
      if (e) o.onWritten?.(e);
      return e;
    });
  };
  return {
    line(text) {
      if (settled || armedAt || !o.layout || !FATAL.test(text)) return;
      armedAt = Date.now();
      timer = setInterval(poll, POLL_MS);
      timer.unref();
    },
    async settle() {
      if (settled) return null;
      settled = true;
      stopPolling();
      return (await opening) ?? null;
    },
  };
}
