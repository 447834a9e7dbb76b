/**
 * The post-mortem: one Report from everything there is. The traceback on stderr says where it
 * died; the core says why (panic value, locals, every goroutine). Delve reads the core first; when
 * it is missing or fails, gdb; when both fail, the traceback alone. The report says which sources
 * it used and why the others were not.
 */

import type { CoreInfo } from "../contracts/bundle.js";
import { emptyReport, type Race, type Report } from "../contracts/report.js";
import type { BinaryIdentity } from "../elf/index.js";
import { analyzeCoreWithDelve } from "./delve/index.js";
import { analyzeCoreWithGdb, gdbAnalysisToReport } from "./gdb/index.js";
import { applyRaces, parseRaceReports } from "./race/index.js";
import { redactReport } from "./redact.js";
import { parseTraceback, reportFromTraceback, type Traceback } from "./traceback/index.js";

export interface AnalyzeOptions {
  binary?: string;
  core?: string;
  stderr?: string;
  /** Already parsed (saves parsing the same text twice). */
  traceback?: Traceback | null;
  /** Race reports collected while it ran (all of them, where stderr is only a tail); else parsed from stderr. */
  races?: Race[];
  coreInfo?: CoreInfo;
  identity?: BinaryIdentity | null;
  sha256?: string;
  redact?: boolean;
  /** Analyse a core whose build ID does not match the binary. */
  force?: boolean;
  /** Which debuggers to try (tests hide Delve to exercise the gdb fallback). */
  useDelve?: boolean;
  useGdb?: boolean;
  dlvPath?: string;
  gdbPath?: string;
  timeoutMs?: number;
}

const msg = (e: unknown) =>
  (e as { shortMessage?: string })?.shortMessage ?? (e as Error)?.message ?? String(e);

export function reportFromTracebackOnly(tb: Traceback | null | undefined, core?: CoreInfo): Report {
  const r = tb ? { ...emptyReport(), ...reportFromTraceback(tb) } : emptyReport();
  r.sources.traceback = tb
    ? { used: true }
    : { used: false, note: "no Go traceback in the program's output" };
  if (core)
    r.core = {
      ...(core.originalPath ? { path: core.originalPath } : {}),
      buildIdMatch: core.buildIdMatch ?? null,
      truncated: Boolean(core.truncated),
    };
  return r;
}

export async function analyzeCrash(o: AnalyzeOptions): Promise<Report> {
  const tb = o.traceback !== undefined ? o.traceback : o.stderr ? parseTraceback(o.stderr) : null;
  let report = reportFromTracebackOnly(tb, o.coreInfo);
  report.binary = {
    ...(o.binary ? { path: o.binary } : {}),
    ...(o.sha256 ? { sha256: o.sha256 } : {}),
    goBuildId: o.identity?.goBuildId ?? null,
    gnuBuildId: o.identity?.gnuBuildId ?? null,
  };
  report.goVersion = o.identity?.goVersion ?? null;

  const noCore = !o.core
    ? o.coreInfo && !o.coreInfo.found
      ? `no core: ${o.coreInfo.reason ?? "not found"}`
      : "no core"
    : !o.binary
      ? "no binary to read the core with"
      : null;
  if (noCore) {
    report.sources.delve = { used: false, note: noCore };
    report.sources.gdb = { used: false, note: noCore };
  } else if (o.coreInfo?.buildIdMatch === false && !o.force) {
    const note = `refused: the core does not match the binary (${o.coreInfo.buildIdReason ?? "build IDs differ"}); use --force`;
    report.sources.delve = { used: false, note };
    report.sources.gdb = { used: false, note };
    report.warnings.push(note);
  } else {
    if (o.coreInfo?.truncated)
      report.warnings.push(
        "the core is truncated (core size limit or full disk): some memory is missing, the report is partial",
      );
    let fromCore: Report | null = null;
    if (o.useDelve !== false) {
      try {
        const d = await analyzeCoreWithDelve({
          binary: o.binary!,
          core: o.core!,
          redact: Boolean(o.redact),
          ...(o.dlvPath ? { dlvPath: o.dlvPath } : {}),
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        });
        const { delveVersion, timings, ...fields } = d;
        fromCore = { ...emptyReport(), ...fields };
        report.sources.delve = {
          used: true,
          note: `Delve ${delveVersion}, ${Math.round(timings.totalMs)} ms`,
        };
      } catch (e) {
        report.sources.delve = { used: false, note: msg(e) };
      }
    } else report.sources.delve = { used: false, note: "not tried (disabled)" };
    if (!fromCore && o.useGdb !== false) {
      try {
        const g = await analyzeCoreWithGdb({
          binary: o.binary!,
          core: o.core!,
          ...(o.gdbPath ? { gdbPath: o.gdbPath } : {}),
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        });
        fromCore = gdbAnalysisToReport(g);
        report.sources.gdb = { used: true, note: `Delve was not used: ${report.sources.delve.note ?? "?"}` };
      } catch (e) {
        report.sources.gdb = { used: false, note: msg(e) };
      }
    } else if (!fromCore) report.sources.gdb = { used: false, note: "not tried (disabled)" };
    else report.sources.gdb = { used: false, note: "not needed: Delve read the core" };
    if (fromCore) report = mergeReports(report, fromCore);
  }
  report = applyRaces(report, o.races ?? parseRaceReports(o.stderr ?? ""));
  return o.redact ? redactReport(report) : report;
}

/**
 * The traceback is what Go printed (authoritative for kind and message); the core adds what the
 * text cannot hold: the decoded value, locals, registers, and every goroutine.
 */
export function mergeReports(tb: Report, core: Report): Report {
  const out: Report = { ...tb };
  if (!tb.sources.traceback.used || tb.kind === "unknown") {
    out.kind = core.kind;
    out.message = core.message;
  }
  if (!out.message) out.message = core.message;
  out.value = core.value ?? tb.value;
  if (out.nested.length === 0) out.nested = core.nested;
  out.signal = tb.signal ?? core.signal;
  if (tb.signal && core.signal) out.signal = { ...core.signal, ...tb.signal };
  if (core.culprit) {
    if (
      tb.culprit &&
      (tb.culprit.function !== core.culprit.function || tb.culprit.line !== core.culprit.line)
    )
      out.warnings = [
        ...out.warnings,
        `the traceback names ${tb.culprit.function}:${tb.culprit.line}, the core ${core.culprit.function}:${core.culprit.line}; using the core`,
      ];
    out.culprit = core.culprit;
  }
  if (core.goroutine && core.goroutine.frames.length > 0) out.goroutine = core.goroutine;
  if (core.goroutines.total > 0) out.goroutines = core.goroutines;
  if (core.registers.length) out.registers = core.registers;
  if (core.memoryMap.length) out.memoryMap = core.memoryMap;
  out.goVersion = core.goVersion ?? tb.goVersion;
  out.warnings = [...out.warnings, ...core.warnings];
  out.next = [...tb.next, ...core.next.filter((n) => !tb.next.includes(n))];
  return out;
}
