/** Folding a GdbAnalysis into the report contract (the fallback's share of a Report). */
import { readFileSync } from "node:fs";
import { type CrashKind, emptyReport, type Report, type SourceContext } from "../../contracts/index.js";
import type { GdbAnalysis } from "./gdbAnalysis.js";

function kindOf(a: GdbAnalysis): CrashKind {
  const fns = new Set(a.frames.map((f) => f.function));
  if (fns.has("runtime.gopanic")) return "panic";
  if (fns.has("runtime.fatalthrow") || fns.has("runtime.throw") || fns.has("runtime.fatal")) return "fatal";
  return a.signal ? "signal" : "unknown";
}

/**
 * Fill what gdb knows into `base` (a report the traceback may already have filled: message and
 * panic value come from there, gdb cannot decode them). Fields already set in `base` win, except
 * sources.gdb.
 */
export function gdbAnalysisToReport(a: GdbAnalysis, base: Report = emptyReport()): Report {
  const r: Report = structuredClone(base);
  if (r.kind === "unknown") r.kind = kindOf(a);
  if (!r.signal && a.signal) r.signal = { name: a.signal };
  r.culprit ??= a.culprit;
  r.site ??= a.site;
  if (!r.goroutine && a.frames.length > 0) {
    const cur = a.goroutines?.find((g) => g.current);
    r.goroutine = {
      id: a.currentGoroutine ?? 0,
      ...(cur ? { state: cur.state } : {}),
      frames: structuredClone(a.frames),
    };
  }
  if (r.goroutines.total === 0 && a.goroutines) {
    r.goroutines = { total: a.goroutines.length, groups: structuredClone(a.goroutineGroups) };
  }
  if (r.registers.length === 0) r.registers = [...a.registers];
  r.goVersion ??= a.goVersion;
  r.sources = { ...r.sources, gdb: { used: true } };
  r.warnings = [...r.warnings, ...a.warnings];
  return r;
}

/** Source lines around `line` (1-based), or undefined when the file is not on this machine. */
export function readSourceContext(file: string, line: number, radius = 4): SourceContext | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const all = text.split("\n");
  if (line < 1 || line > all.length) return undefined;
  const startLine = Math.max(1, line - radius);
  return { startLine, lines: all.slice(startLine - 1, Math.min(all.length, line + radius)) };
}
