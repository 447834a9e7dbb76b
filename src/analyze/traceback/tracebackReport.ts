/**
 * Fills the report contract's traceback-derived fields. Delve and gdb add values, locals and
 * registers from the core later; what a traceback knows is kept as is (rawArgs, no decoded values).
 */

import type { CrashFindings, Frame, Report } from "../../contracts/index.js";
import { type ClassifyContext, classifyFrame, culpritIndex, siteIndex } from "../frames.js";
import { detectGorootSrc, groupGoroutines } from "./tracebackGroups.js";
import type { Traceback, TracebackFrame } from "./tracebackTypes.js";

type TracebackReportFields = CrashFindings & Pick<Report, "warnings" | "sources">;

function toReportFrame(f: TracebackFrame, ctx: ClassifyContext = {}): Frame {
  return {
    function: f.function,
    file: f.file,
    line: f.line,
    ...(f.pc !== undefined ? { pc: f.pc } : {}),
    rawArgs: f.rawArgs,
    args: [],
    locals: [],
    runtime: f.runtime,
    class: classifyFrame(f, ctx),
  };
}

export function reportFromTraceback(
  tb: Traceback,
  opts: { maxGroups?: number; modulePath?: string | null } = {},
): TracebackReportFields {
  const ctx: ClassifyContext = {
    gorootSrc: detectGorootSrc(tb.goroutines),
    modulePath: opts.modulePath ?? null,
  };
  // The process died of the last panic of a chain (printpanics prints the outermost first); the
  // earlier ones, recovered or interrupted by it, are the report's `nested`.
  const last = tb.panics[tb.panics.length - 1];
  const message = last ? (last.message.split("\n")[0] ?? "") : tb.message;
  const crashing = tb.goroutines.find((g) => g.id === tb.crashingGoroutineId) ?? null;
  const warnings: string[] = [];
  if (tb.stackOverflow)
    warnings.push(`stack overflow: the goroutine's stack exceeded ${tb.stackOverflow.limitBytes} bytes`);
  if (crashing && crashing.elidedFrames > 0)
    warnings.push(`goroutine ${crashing.id}: ${crashing.elidedFrames} frames elided from the traceback`);
  if (tb.faultAddress) warnings.push(`unexpected fault address ${tb.faultAddress}`);
  if (tb.deadlock) warnings.push("deadlock: every goroutine was blocked; the first one listed is shown");
  if (tb.goexit) warnings.push("the program ended through runtime.Goexit");
  const groups = groupGoroutines(tb.goroutines, ctx);
  // The parser named a culprit without the build info; with it (a module path without a dot),
  // the crashing goroutine's frames are read again.
  const ci = crashing ? culpritIndex(crashing.frames, ctx) : -1;
  const cf = crashing && ci >= 0 ? crashing.frames[ci] : undefined;
  const si = crashing ? siteIndex(crashing.frames, ctx) : -1;
  const sf = crashing && si >= 0 ? crashing.frames[si] : undefined;
  return {
    kind: tb.kind,
    message,
    nested: tb.panics
      .slice(0, -1)
      .map((p) => ({ message: p.message.split("\n")[0] ?? "", recovered: p.recovered })),
    signal: tb.signal
      ? {
          name: tb.signal.name,
          ...(tb.signal.code !== undefined ? { code: tb.signal.code } : {}),
          ...(tb.signal.addr !== undefined ? { addr: tb.signal.addr } : {}),
          ...(tb.signal.pc !== undefined ? { pc: tb.signal.pc } : {}),
        }
      : null,
    culprit: cf
      ? { function: cf.function, file: cf.file, line: cf.line, frame: ci }
      : tb.culprit
        ? { function: tb.culprit.function, file: tb.culprit.file, line: tb.culprit.line }
        : null,
    site: sf ? { function: sf.function, file: sf.file, line: sf.line, class: classifyFrame(sf, ctx) } : null,
    goroutine: crashing
      ? { id: crashing.id, state: crashing.state, frames: crashing.frames.map((f) => toReportFrame(f, ctx)) }
      : null,
    goroutines: {
      total: tb.goroutines.length,
      groups: opts.maxGroups === undefined ? groups : groups.slice(0, opts.maxGroups),
    },
    registers: tb.registers,
    warnings,
    sources: { delve: { used: false }, gdb: { used: false }, traceback: { used: true } },
  };
}
