/**
 * Markdown for pasting into a GitHub issue. Everything from the crashed program goes into code
 * spans or fenced blocks whose fence is longer than any backtick run inside, so no message can
 * break out into markup (GitHub renders raw HTML in Markdown outside code).
 */
import type { Report } from "../contracts/index.js";
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

const longestRun = (s: string) => Math.max(0, ...(s.match(/`+/g) ?? []).map((m) => m.length));

export function fence(content: string, lang = ""): string {
  const f = "`".repeat(Math.max(3, longestRun(content) + 1));
  return `${f}${lang}\n${content}\n${f}`;
}

/** An inline code span; newlines flattened. `table` also escapes pipes (GFM cells split on them). */
export function code(s: string, table = false): string {
  let body = s.replace(/[\r\n]+/g, " ");
  if (table) body = body.replace(/\|/g, "\\|");
  const f = "`".repeat(longestRun(body) + 1);
  const pad = body.startsWith("`") || body.endsWith("`") || body === "" ? " " : "";
  return `${f}${pad}${body}${pad}${f}`;
}

/** Plain prose from the program or the machine: every Markdown/HTML metacharacter escaped. */
function escapeMd(s: string): string {
  return s
    .replace(/[\r\n]+/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, "\\$&");
}

export function renderMarkdown(report: Report): string {
  const out: string[] = [];
  const kind = report.kind === "unknown" ? "crash" : report.kind;
  out.push(`## hotdump report: ${kind}`, "", fence(headline(report), "text"));
  if (showValue(report)) out.push("", `**Panic value:** ${code(clip(report.value, 400))}`);
  if (report.nil) out.push("", `**Nil:** ${code(nilText(report.nil))}`);
  if (report.nested.length > 0) {
    out.push("", "**Earlier panics:**", "");
    for (const n of report.nested) out.push(`- ${code(n.message)}${n.recovered ? " (recovered)" : ""}`);
  }
  const f = facts(report);
  if (f.length > 0) {
    out.push("");
    for (const [label, value] of f) out.push(`- **${label}:** ${code(value)}`);
  }

  out.push("", "### Culprit", "");
  if (report.culprit) {
    out.push(`${code(report.culprit.function)} at ${code(where(report.culprit))}`);
    for (const n of culpritNotes(report)) out.push("", escapeMd(n));
    const lines = sourceLines(culpritFrame(report));
    if (lines.length > 0) {
      const w = String(lines.at(-1)!.number).length;
      const body = lines.map((l) => `${l.culprit ? ">" : " "} ${String(l.number).padStart(w)} | ${l.text}`);
      out.push("", fence(body.join("\n"), "go"));
    }
  } else out.push(noCulpritText(report));

  const races = report.races ?? [];
  races.forEach((r, i) => {
    out.push("", `### ${raceTitle(i, races.length)}`, "");
    if (r.culprit) out.push(`Racing write: ${code(r.culprit.function)} at ${code(where(r.culprit))}`, "");
    const body: string[] = [];
    for (const s of raceStacks(r)) {
      if (body.length > 0) body.push("");
      body.push(`${s.title}:`);
      for (const f of s.frames) body.push(`  ${f.function}()`, `      ${where(f)}`);
    }
    out.push(fence(body.join("\n"), "text"));
  });

  if (report.goroutine) {
    const g = report.goroutine;
    out.push("", `### ${goroutineTitle(report, g.id)}${g.state ? ` (${escapeMd(g.state)})` : ""}`, "");
    const body: string[] = [];
    for (const item of foldFrames(g.frames)) {
      if (item.kind === "folded") {
        body.push(foldedLabel(item.count, item.first));
        continue;
      }
      const fr = item.frame;
      const args = fr.args.length > 0 ? fr.args.map(variableText).join(", ") : (fr.rawArgs ?? "");
      body.push(`${frameNumber(item.index)} ${fr.function}(${args})`, `\t${where(fr)}`);
      if (fr.locals.length > 0) body.push(`\tlocals: ${fr.locals.map(variableText).join(", ")}`);
    }
    out.push(fence(body.join("\n"), "text"));
  }

  if (report.goroutines.groups.length > 0) {
    const { shown, more } = topGroups(report.goroutines.groups);
    out.push("", `### Goroutines (${report.goroutines.total} total)`, "");
    out.push("| Count | State | Location |", "| ---: | --- | --- |");
    for (const g of shown) out.push(`| ${g.count} | ${code(g.state, true)} | ${code(groupWhere(g), true)} |`);
    if (more > 0) out.push("", `_${moreGroupsLabel(more)}_`);
  }

  if (report.registers.length > 0) {
    const regs = orderedRegisters(report).map((r) => `${r.name.padEnd(8)} ${r.value}`);
    out.push(
      "",
      "<details>",
      "<summary>Registers</summary>",
      "",
      fence(regs.join("\n"), "text"),
      "",
      "</details>",
    );
  }

  if (report.memoryMap.length > 0)
    out.push(
      "",
      "<details>",
      `<summary>Memory map (${report.memoryMap.length} mappings)</summary>`,
      "",
      fence(report.memoryMap.map((m) => mappingLine(m)).join("\n"), "text"),
      "",
      "</details>",
    );

  out.push("", "### Sources", "");
  for (const s of sourcesText(report)) out.push(`- ${escapeMd(s)}`);
  if (report.warnings.length > 0) {
    out.push("", "### Warnings", "");
    for (const w of report.warnings) out.push(`- ${escapeMd(w)}`);
  }
  const next = nextSteps(report);
  if (next.length > 0) out.push("", "### Next", "", fence(next.join("\n"), "sh"));
  return `${out.join("\n")}\n`;
}
