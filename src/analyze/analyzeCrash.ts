/**
 * The post-mortem: one Report from everything there is. The traceback on stderr says where it
 * died; the core says why (panic value, locals, every goroutine). Delve reads the core first; when
 * it is missing or fails, gdb; when both fail, the traceback alone. The report says which sources
 * it used and why the others were not.
 */

import type { CoreInfo } from "../contracts/index.js";
import { emptyReport, type Race, type Report } from "../contracts/index.js";
import type { BinaryIdentity } from "../elf/index.js";
import { redactorFor } from "../util/redactor.js";
import { analyzeCoreWithDelve, type DelveSession } from "./delve/index.js";
import { analyzeCoreWithGdb, gdbAnalysisToReport } from "./gdb/index.js";
import { applyRaces, parseRaceReports } from "./race/index.js";
import { redactReport } from "./redactReport.js";
import { attachSources, resolveSourceMap } from "./sourceContext.js";
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
  /** With redact: the values of the child's secret-looking environment variables (util/redactor.ts). */
  secretValues?: string[];
  /** Analyse a core whose build ID does not match the binary. */
  force?: boolean;
  /** Which debuggers to try (tests hide Delve to exercise the gdb fallback). */
  useDelve?: boolean;
  useGdb?: boolean;
  dlvPath?: string;
  gdbPath?: string;
  timeoutMs?: number;
  /** The crashed process's working directory: where the local go.mod of a -trimpath build is found. */
  cwd?: string;
  /** A Delve session on binary + core started beforehand (see AnalyzeCoreOptions.session). */
  delveSession?: Promise<DelveSession>;
}

const msg = (e: unknown) =>
  (e as { shortMessage?: string })?.shortMessage ?? (e as Error)?.message ?? String(e);

export function reportFromTracebackOnly(
  tb: Traceback | null | undefined,
  core?: CoreInfo,
  modulePath: string | null = null,
): Report {
  const r = tb ? { ...emptyReport(), ...reportFromTraceback(tb, { modulePath }) } : emptyReport();
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
  const modulePath = o.identity?.modulePath ?? null;
  let report = reportFromTracebackOnly(tb, o.coreInfo, modulePath);
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
          modulePath,
          ...(o.dlvPath ? { dlvPath: o.dlvPath } : {}),
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
          ...(o.delveSession ? { session: o.delveSession } : {}),
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
          modulePath,
          redact: Boolean(o.redact),
          ...(o.gdbPath ? { gdbPath: o.gdbPath } : {}),
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
        });
        fromCore = gdbAnalysisToReport(g);
        report.sources.gdb = { used: true, note: "in Delve's place" };
      } catch (e) {
        report.sources.gdb = { used: false, note: msg(e) };
      }
    } else if (!fromCore) report.sources.gdb = { used: false, note: "not tried (disabled)" };
    else report.sources.gdb = { used: false, note: "not needed: Delve read the core" };
    if (fromCore) report = mergeReports(report, fromCore);
  }
  report = applyRaces(report, o.races ?? parseRaceReports(o.stderr ?? ""));
  attachSources(
    report,
    await resolveSourceMap({
      modulePath,
      ...(o.cwd ? { cwd: o.cwd } : {}),
      ...((o.identity?.path ?? o.binary) ? { binary: o.identity?.path ?? o.binary } : {}),
      files: [
        ...(report.goroutine?.frames ?? [])
          .filter((f) => f.class === "user" || f.class === "c")
          .map((f) => f.file),
        report.culprit?.file ?? "",
        report.site?.file ?? "",
      ],
    }),
  );
  return o.redact ? redactReport(report, redactorFor(o)) : report;
}

/**
 * The traceback is what Go printed (authoritative for kind and message); the core adds what the
 * text cannot hold: the decoded value, locals, registers, and every goroutine.
 */
function mergeReports(tb: Report, core: Report): Report {
  const out: Report = { ...tb };
  if (!tb.sources.traceback.used || tb.kind === "unknown") {
    out.kind = core.kind;
    out.message = core.message;
  }
  if (!out.message) out.message = core.message;
  out.value = core.value ?? tb.value;
  if (out.nested.length === 0) out.nested = core.nested;
  out.signal = tb.signal ?? core.signal;
  if (core.nil) out.nil = core.nil;
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
  // gdb finds the C frame of a cgo fault but cannot unwind from it back to the goroutine's Go
  // frames (it stops at runtime.asmcgocall, measured with gdb 13.1): the site can come from the
  // core while the culprit and the stack come from the traceback.
  out.site = core.site ?? tb.site ?? null;
  const hasUser = (g: Report["goroutine"]) => Boolean(g?.frames.some((f) => f.class === "user"));
  if (
    core.goroutine &&
    core.goroutine.frames.length > 0 &&
    (hasUser(core.goroutine) || !hasUser(tb.goroutine))
  )
    out.goroutine = core.goroutine;
  // gdb lists goroutines without stacks or wait reasons; a traceback that printed as many is the
  // better source for the same grouping.
  const gdbOnly = core.sources.gdb.used && !core.sources.delve.used;
  if (core.goroutines.total > 0 && !(gdbOnly && tb.goroutines.total >= core.goroutines.total))
    out.goroutines = core.goroutines;
  if (core.registers.length) out.registers = core.registers;
  if (core.memoryMap.length) out.memoryMap = core.memoryMap;
  // The culprit's frame index points into the stack it came with.
  if (out.culprit && out.goroutine) {
    const c = out.culprit;
    const k = out.goroutine.frames.findIndex((f) => f.function === c.function && f.line === c.line);
    out.culprit = { ...c };
    if (k >= 0) out.culprit.frame = k;
    else delete out.culprit.frame;
  }
  out.goVersion = core.goVersion ?? tb.goVersion;
  out.warnings = [...out.warnings, ...core.warnings];
  out.next = [...tb.next, ...core.next.filter((n) => !tb.next.includes(n))];
  return out;
}
