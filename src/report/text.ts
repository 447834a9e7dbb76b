/** The terminal rendering: what a person reads right after a crash. */
import type { Frame, Report } from "../contracts/index.js";
import {
  clip,
  culpritFrame,
  culpritNotes,
  facts,
  foldedLabel,
  foldFrames,
  frameNumber,
  goroutineTitle,
  groupWhere,
  headline,
  locationText,
  MAP_LINES,
  mappingLine,
  moreGroupsLabel,
  nextSteps,
  nilText,
  noCulpritText,
  orderedRegisters,
  raceStacks,
  raceTitle,
  showValue,
  sourceLines,
  sourcesText,
  topGroups,
  variableText,
  where,
} from "./present.js";

export interface TextOptions {
  colour?: boolean;
}

/**
 * Panic messages and values come from the crashed program: an escape sequence in one must not
 * drive the reader's terminal, so C0 controls (but tab), DEL and the C1 controls (U+0080-U+009F:
 * U+009B is CSI, ESC [ in one character, to terminals that take C1) are shown as \xNN.
 */
function safeText(s: string): string {
  return s.replace(
    /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

export function renderText(report: Report, opts: TextOptions = {}): string {
  const c = opts.colour ?? false;
  const paint = (code: string) => (s: string) => (c ? `\x1b[${code}m${s}\x1b[0m` : s);
  const bold = paint("1");
  const red = paint("1;31");
  const dim = paint("2");
  const cyan = paint("36");
  const yellow = paint("33");
  const t = safeText;
  const out: string[] = [];
  const section = (title: string) => out.push("", bold(title));

  out.push(red(t(headline(report))));
  if (showValue(report)) out.push(`  value: ${t(clip(report.value, 400))}`);
  if (report.nil) out.push(`  ${red("nil:")} ${t(nilText(report.nil))}`);
  for (const n of report.nested)
    out.push(`  ${dim("earlier panic:")} ${t(n.message)}${n.recovered ? dim(" [recovered]") : ""}`);
  for (const [label, value] of facts(report)) out.push(`  ${dim(`${label}:`)} ${t(value)}`);

  section("Culprit");
  if (report.culprit) {
    out.push(`  ${cyan(t(locationText(report.culprit)))}`);
    for (const n of culpritNotes(report)) out.push(`  ${dim(t(n))}`);
    const lines = sourceLines(culpritFrame(report));
    const width = String(lines.at(-1)?.number ?? 0).length;
    for (const l of lines) {
      const text = `${l.culprit ? ">" : " "} ${String(l.number).padStart(width)} | ${t(l.text.replace(/\t/g, "    "))}`;
      out.push(`  ${l.culprit ? yellow(bold(text)) : dim(text)}`);
    }
  } else out.push(`  ${noCulpritText(report)}`);

  const races = report.races ?? [];
  races.forEach((r, i) => {
    section(`${raceTitle(i, races.length)}${r.culprit ? `: ${t(locationText(r.culprit))}` : ""}`);
    for (const s of raceStacks(r)) {
      out.push(`  ${yellow(t(s.title))}:`);
      for (const f of s.frames) out.push(`    ${cyan(t(f.function))}()`, `        ${t(where(f))}`);
    }
  });

  if (report.goroutine) {
    const g = report.goroutine;
    section(`${goroutineTitle(report, g.id)}${g.state ? ` [${t(g.state)}]` : ""}`);
    const width = frameNumber(g.frames.length - 1).length;
    for (const item of foldFrames(g.frames)) {
      if (item.kind === "folded") out.push(`  ${dim(foldedLabel(item.count, item.first))}`);
      else out.push(...frameLines(item.frame, frameNumber(item.index).padEnd(width), t, cyan, dim));
    }
  }

  if (report.goroutines.total > 0 || report.goroutines.groups.length > 0) {
    const { shown, more } = topGroups(report.goroutines.groups);
    section(`Goroutines (${report.goroutines.total} total, ${report.goroutines.groups.length} groups)`);
    const cw = Math.max(...shown.map((g) => String(g.count).length), 1);
    const sw = Math.max(...shown.map((g) => g.state.length), 1);
    for (const g of shown)
      out.push(`  ${String(g.count).padStart(cw)}  ${t(g.state).padEnd(sw)}  ${t(groupWhere(g))}`);
    if (more > 0) out.push(`  ${dim(moreGroupsLabel(more))}`);
  }

  if (report.registers.length > 0) {
    section("Registers");
    const regs = orderedRegisters(report).map((r) => `${r.name}=${t(r.value)}`);
    for (let i = 0; i < regs.length; i += 4)
      out.push(
        `  ${regs
          .slice(i, i + 4)
          .map((s) => s.padEnd(22))
          .join(" ")
          .trimEnd()}`,
      );
  }

  if (report.memoryMap.length > 0) {
    section(`Memory map (${report.memoryMap.length} mappings)`);
    const shown = report.memoryMap.slice(0, MAP_LINES);
    for (const m of shown) out.push(`  ${mappingLine(m, t)}`);
    if (report.memoryMap.length > shown.length)
      out.push(`  ${dim(`... ${report.memoryMap.length - shown.length} more (--format json or html)`)}`);
  }

  section("Sources");
  out.push(`  ${sourcesText(report).map(t).join("; ")}`);

  if (report.warnings.length > 0) {
    section("Warnings");
    for (const w of report.warnings) out.push(`  ${yellow("!")} ${t(w)}`);
  }
  const next = nextSteps(report);
  if (next.length > 0) {
    section("Next");
    for (const n of next) out.push(`  $ ${t(n)}`);
  }
  return `${out.join("\n")}\n`;
}

function frameLines(
  f: Frame,
  number: string,
  t: (s: string) => string,
  cyan: (s: string) => string,
  dim: (s: string) => string,
): string[] {
  const args = f.args.length > 0 ? f.args.map(variableText).join(", ") : (f.rawArgs ?? "");
  const pad = " ".repeat(number.length + 1);
  const lines = [`  ${dim(number)} ${cyan(t(f.function))}(${t(args)})`, `  ${pad}    ${t(where(f))}`];
  if (f.locals.length > 0)
    lines.push(`  ${pad}    ${dim("locals:")} ${t(f.locals.map(variableText).join(", "))}`);
  return lines;
}
