/**
 * Recovered panics as records: the first of a kind in a process becomes a bundle without core
 * (its output, its binary, the parsed stack, a report) through captureCrash like any crash; the
 * same panic again (same fingerprint, same process) only counts: the bundle's count and last-seen
 * are written at most once a second, so a storm of a thousand is one bundle and a number.
 */
import { type RecoveredPanic, recoveredTraceback, reportFromTraceback } from "../analyze/traceback/index.js";
import type { Report } from "../contracts/index.js";
import { type EventInput, type Journal, readMeta, type StoreLayout, saveMeta } from "../store/index.js";
import type { Logger } from "../util/log.js";
import type { Captured, CrashFacts } from "./capture.js";

/** What the supervisor knows of the process that recovered it. */
export interface RecoveredContext {
  generation: number | null;
  pid: number;
  startedAt: Date;
  cmdline: string[];
  cwd: string;
  envNames: string[];
  binary: CrashFacts["binary"];
  stdoutTail: string;
}

export interface RecoveredRecorderOptions {
  layout: StoreLayout;
  journal?: Journal;
  /** captureCrash with the caller's store options (budget, journal, pinned binaries). */
  capture: (facts: CrashFacts) => Promise<Captured>;
  emit: (e: EventInput) => unknown;
  logger: Logger;
  /** The fingerprint of a report (src/analyze/signature.ts): what makes two panics the same. */
  fingerprint: (r: Pick<Report, "kind" | "message" | "goroutine" | "culprit" | "races">) => string;
  /** How often a storm's count is written (default 1 s). */
  countEveryMs?: number;
}

export interface RecoveredRecorder {
  record(p: RecoveredPanic, text: string, ctx: RecoveredContext): void;
  /** Every bundle and count written (shutdown). */
  flush(): Promise<void>;
}

interface Seen {
  id: string | null;
  count: number;
  written: number;
  lastSeen: Date;
  captured: Promise<unknown>;
  timer?: NodeJS.Timeout;
}

export function createRecoveredRecorder(o: RecoveredRecorderOptions): RecoveredRecorder {
  const every = o.countEveryMs ?? 1000;
  // Keyed by process and fingerprint: a restart or a new generation is a new process, a new
  // bundle (its own binary); grouping across them is the signatures' job (`hotdump crashes`).
  const seen = new Map<string, Seen>();
  let captures: Promise<unknown> = Promise.resolve();

  const writeCount = async (s: Seen) => {
    if (!s.id || s.count === s.written) return;
    const count = s.count;
    const before = s.written;
    const lastSeen = s.lastSeen.toISOString();
    try {
      const dir = `${o.layout.crashes}/${s.id}`;
      const meta = readMeta(dir);
      await saveMeta(dir, { ...meta, count, lastSeen });
      o.journal?.countCrash(s.id, count, lastSeen);
      s.written = count;
    } catch (e) {
      o.logger.warn(`cannot count recovered panic ${s.id}: ${(e as Error).message}`);
    }
    // Said past 10, 100, 1000...: a storm is visible without a line per panic.
    if (count >= 10 && String(count).length > String(before).length)
      o.logger.warn(`recovered panic ${s.id} seen ${count} times (last ${lastSeen})`);
  };

  return {
    record(p, text, ctx) {
      const tb = recoveredTraceback(p);
      const parsed = reportFromTraceback(tb);
      const fp = o.fingerprint({ ...parsed, kind: "recovered", races: [] });
      const key = `${ctx.pid}\0${fp}`;
      const now = new Date();
      const known = seen.get(key);
      if (known) {
        known.count++;
        known.lastSeen = now;
        known.timer ??= setTimeout(() => {
          known.timer = undefined;
          void known.captured.then(() => writeCount(known));
        }, every);
        return;
      }
      const s: Seen = { id: null, count: 1, written: 1, lastSeen: now, captured: Promise.resolve() };
      seen.set(key, s);
      const facts: CrashFacts = {
        pid: ctx.pid,
        ended: {
          outcome: "recovered",
          exitCode: null,
          signal: null,
          status: 0,
          note: "a recovered panic: the process kept running, so there is no core",
        },
        startedAt: ctx.startedAt,
        endedAt: now,
        cmdline: ctx.cmdline,
        cwd: ctx.cwd,
        envNames: ctx.envNames,
        binary: ctx.binary,
        stdoutTail: ctx.stdoutTail,
        stderrTail: text,
        traceback: tb,
        races: [],
        generation: ctx.generation,
        recovered: { by: p.form, ...(p.remoteAddr ? { remoteAddr: p.remoteAddr } : {}) },
      };
      s.captured = captures = captures
        .then(() => o.capture(facts))
        .then((c) => {
          s.id = c.bundle?.id ?? null;
          const where = c.report.culprit
            ? ` at ${c.report.culprit.function} ${c.report.culprit.file}:${c.report.culprit.line}`
            : "";
          o.emit({
            event: "recovered-panic",
            generation: ctx.generation,
            pid: ctx.pid,
            crashId: s.id,
            by: p.form,
            message: c.report.message,
            culprit: c.report.culprit,
            ...(c.report.fingerprint ? { fingerprint: c.report.fingerprint } : {}),
            ...(p.remoteAddr ? { remoteAddr: p.remoteAddr } : {}),
          });
          o.logger.warn(
            `${ctx.generation === null ? `pid ${ctx.pid}` : `generation ${ctx.generation}`} recovered a panic (${p.form}): ${c.report.message}${where}; it keeps serving${s.id ? ` (recorded as ${s.id})` : ""}`,
          );
        })
        .catch((e: Error) => o.logger.error(`recording a recovered panic failed: ${e.message}`));
    },
    async flush() {
      await captures;
      for (const s of seen.values()) {
        if (s.timer) clearTimeout(s.timer);
        s.timer = undefined;
        await writeCount(s);
      }
    },
  };
}
