/**
 * The sample report behind the golden files, built from a real crash: the gdbpanic fixture is
 * crashed for real, analysed by the gdb fallback, and its Go traceback supplies the message (the
 * two sources hotdump has when Delve is missing). `RECORD_REPORT=1 npx vitest run
 * test/report.test.ts` re-records test/fixtures/reports/gdbpanic.report.json.txt.
 */
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { analyzeCoreWithGdb, gdbAnalysisToReport, readSourceContext } from "../src/analyze/gdb/index.js";
import { emptyReport, type Report } from "../src/contracts/reportModel.js";
import { produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";

export const REPO = resolve(import.meta.dirname, "..");

/** Crash gdbpanic and assemble its report; the core's directory is removed afterwards. */
export async function liveReport(): Promise<{ report: Report; pid: number }> {
  const bin = buildGoFixture("gdbpanic");
  const run = await produceCore(bin);
  try {
    const a = await analyzeCoreWithGdb({ binary: bin, core: run.core });
    const base = emptyReport();
    const panicLine = /^panic: (.*)$/m.exec(run.stderr);
    base.kind = "panic";
    base.message = panicLine?.[1] ?? "";
    base.sources.traceback = { used: true };
    base.sources.delve = { used: false, note: "not run: sample from the gdb fallback" };
    base.binary = { path: bin };
    base.core = { path: run.core };
    base.next = ["hotdump debug 1", `dlv core ${bin} ${run.core}`];
    const r = gdbAnalysisToReport(a, base);
    const f = r.goroutine?.frames.find((x) => !x.runtime);
    if (f) {
      const source = readSourceContext(f.file, f.line);
      if (source) f.source = source;
    }
    return { report: r, pid: run.pid };
  } finally {
    rmSync(run.dir, { recursive: true, force: true });
  }
}

/**
 * Unstable values → placeholders: the checkout path, temp dirs, heap/stack addresses (Go 1.26
 * randomises the arena base: 0xcd9e14b3680 in one run), the pid (raise(2) leaves it in rsi/rdi).
 */
export function placeholders(text: string, pid?: number): string {
  let s = text.split(REPO).join("<REPO>");
  s = s.replace(/\/tmp\/hotdump-[\w.-]+\/(?:[\w.-]+\/)*([\w.-]+)/g, "<TMP>/$1");
  s = s.replace(/0x[0-9a-f]{9,}/g, "0xADDR");
  if (pid !== undefined) {
    s = s.replace(new RegExp(`\\b0x${pid.toString(16)}\\b`, "g"), "0xPID");
    s = s.replace(new RegExp(`\\bcore\\.${pid}\\b`, "g"), "core.<PID>");
  }
  return s;
}
