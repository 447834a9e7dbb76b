/**
 * One self-contained HTML page: inline CSS, no script, no external request (a CSP meta tag forbids
 * them, so the file behaves the same offline and when attached to a ticket). Every string from the
 * report is escaped: panic messages are attacker-controlled text.
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

/** Escapes markup, and shows C0 controls (a stray ESC from the program) as visible \\xNN. */
export function escapeHtml(s: string): string {
  return s
    .replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
    )
    .replace(
      /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g,
      (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
    );
}

// Colours chosen for WCAG AA contrast (>= 4.5:1) on their backgrounds, light and dark.
const CSS = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#ffffff;--muted:#57606a;--accent:#0550ae;--bad:#a40e26;--hl:#fff1b8;--code:#f6f8fa;--line:#d0d7de}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9da7b3;--accent:#79c0ff;--bad:#ff7b72;--hl:#3d2e00;--code:#161b22;--line:#30363d}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:70rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.5rem;margin:0 0 .5rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
.message{color:var(--bad);font-weight:600;white-space:pre-wrap;overflow-wrap:anywhere}
code,pre{font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--code);border:1px solid var(--line);border-radius:6px;padding:.75rem;overflow-x:auto}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.5rem 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
.src .ln{color:var(--muted);user-select:none}
.src mark{display:block;background:var(--hl);color:inherit;font-weight:700}
ol.stack{list-style:none;padding:0}
ol.stack li{padding:.4rem 0;border-bottom:1px solid var(--line)}
.fn{color:var(--accent);font-weight:600}.at,.folded,.muted{color:var(--muted)}
.vars{margin:.2rem 0 0 1.5rem;overflow-wrap:anywhere}
table{border-collapse:collapse}th,td{border:1px solid var(--line);padding:.3rem .6rem;text-align:left}
td.n{text-align:right}
`;

export function renderHtml(report: Report): string {
  const e = escapeHtml;
  const parts: string[] = [];
  const h: Out = (s) => void parts.push(s);
  const title = `hotdump: ${headline(report)}`;

  h("<!doctype html>");
  h('<html lang="en">');
  h("<head>");
  h('<meta charset="utf-8">');
  h(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
  h('<meta name="viewport" content="width=device-width, initial-scale=1">');
  h(`<title>${e(clip(title, 120))}</title>`);
  h(`<style>${CSS}</style>`);
  h("</head>");
  h("<body>");
  h("<main>");
  for (const section of [headerHtml, culpritHtml, racesHtml, stackHtml, groupsHtml, machineHtml, closingHtml])
    section(report, h);
  h("</main>");
  h("</body>");
  h("</html>");
  return `${parts.join("\n")}\n`;
}

type Out = (html: string) => void;

function headerHtml(report: Report, h: Out): void {
  const e = escapeHtml;
  h("<header>");
  h(`<h1>hotdump report: ${e(report.kind === "unknown" ? "crash" : report.kind)}</h1>`);
  h(`<p class="message">${e(headline(report))}</p>`);
  if (showValue(report)) h(`<p>Panic value: <code>${e(clip(report.value, 400))}</code></p>`);
  if (report.nil) h(`<p class="nil">Nil: <code>${e(nilText(report.nil))}</code></p>`);
  if (report.nested.length > 0) {
    h('<p>Earlier panics:</p><ul class="nested">');
    for (const n of report.nested)
      h(
        `<li><code>${e(n.message)}</code>${n.recovered ? ' <span class="muted">(recovered)</span>' : ""}</li>`,
      );
    h("</ul>");
  }
  const f = facts(report);
  if (f.length > 0) {
    h('<dl class="facts">');
    for (const [label, value] of f) h(`<dt>${e(label)}</dt><dd><code>${e(value)}</code></dd>`);
    h("</dl>");
  }
  h("</header>");
}

function culpritHtml(report: Report, h: Out): void {
  const e = escapeHtml;
  h('<section aria-labelledby="culprit"><h2 id="culprit">Culprit</h2>');
  if (report.culprit) {
    h(
      `<p><code class="fn">${e(report.culprit.function)}</code> at <code>${e(where(report.culprit))}</code></p>`,
    );
    for (const n of culpritNotes(report)) h(`<p class="muted">${e(n)}</p>`);
    const lines = sourceLines(culpritFrame(report));
    if (lines.length > 0) {
      const w = String(lines.at(-1)!.number).length;
      const body = lines.map((l) => {
        const row = `<span class="ln">${String(l.number).padStart(w)} </span>${e(l.text)}`;
        return l.culprit ? `<mark aria-label="culprit line">${row}</mark>` : `${row}\n`;
      });
      h(`<pre class="src"><code>${body.join("")}</code></pre>`);
    }
  } else h(`<p>${e(noCulpritText(report))}</p>`);
  h("</section>");
}

function racesHtml(report: Report, h: Out): void {
  const e = escapeHtml;
  const races = report.races ?? [];
  races.forEach((r, i) => {
    h(`<section aria-labelledby="race-${i}"><h2 id="race-${i}">${e(raceTitle(i, races.length))}</h2>`);
    if (r.culprit)
      h(
        `<p>Racing write: <code class="fn">${e(r.culprit.function)}</code> at <code>${e(where(r.culprit))}</code></p>`,
      );
    for (const s of raceStacks(r)) {
      h(`<h3>${e(s.title)}</h3><ol class="stack">`);
      for (const f of s.frames)
        h(
          `<li><code><span class="fn">${e(f.function)}</span>()</code><div class="at"><code>${e(where(f))}</code></div></li>`,
        );
      h("</ol>");
    }
    h("</section>");
  });
}

/** The crashing goroutine's stack, runtime frames folded. */
function stackHtml(report: Report, h: Out): void {
  const e = escapeHtml;
  if (report.goroutine) {
    const g = report.goroutine;
    h(
      `<section aria-labelledby="stack"><h2 id="stack">${e(goroutineTitle(report, g.id))}${g.state ? ` (${e(g.state)})` : ""}</h2>`,
    );
    h('<ol class="stack">');
    for (const item of foldFrames(g.frames)) {
      if (item.kind === "folded") {
        h(`<li class="folded">${e(foldedLabel(item.count, item.first))}</li>`);
        continue;
      }
      const fr = item.frame;
      const args = fr.args.length > 0 ? fr.args.map(variableText).join(", ") : (fr.rawArgs ?? "");
      h(
        `<li><code><span class="num">${frameNumber(item.index)}</span> <span class="fn">${e(fr.function)}</span>(${e(args)})</code>`,
      );
      h(`<div class="at"><code>${e(where(fr))}</code></div>`);
      if (fr.locals.length > 0)
        h(`<div class="vars">locals: <code>${e(fr.locals.map(variableText).join(", "))}</code></div>`);
      h("</li>");
    }
    h("</ol></section>");
  }
}

function groupsHtml(report: Report, h: Out): void {
  const e = escapeHtml;
  if (report.goroutines.groups.length > 0) {
    const { shown, more } = topGroups(report.goroutines.groups);
    h(
      `<section aria-labelledby="goroutines"><h2 id="goroutines">Goroutines (${report.goroutines.total} total)</h2>`,
    );
    h(
      '<table><thead><tr><th scope="col">Count</th><th scope="col">State</th><th scope="col">Location</th></tr></thead><tbody>',
    );
    for (const g of shown)
      h(
        `<tr><td class="n">${g.count}</td><td>${e(g.state)}</td><td><code>${e(groupWhere(g))}</code></td></tr>`,
      );
    h("</tbody></table>");
    if (more > 0) h(`<p class="muted">${e(moreGroupsLabel(more))}</p>`);
    h("</section>");
  }
}

/** Registers and the memory map, folded away. */
function machineHtml(report: Report, h: Out): void {
  const e = escapeHtml;
  if (report.registers.length > 0) {
    h(
      '<section aria-labelledby="registers"><h2 id="registers">Registers</h2><details><summary>Show registers</summary>',
    );
    h("<table><tbody>");
    for (const r of orderedRegisters(report))
      h(`<tr><th scope="row"><code>${e(r.name)}</code></th><td><code>${e(r.value)}</code></td></tr>`);
    h("</tbody></table></details></section>");
  }

  if (report.memoryMap.length > 0) {
    h(
      `<section aria-labelledby="memory-map"><h2 id="memory-map">Memory map</h2><details><summary>Show ${report.memoryMap.length} mappings</summary>`,
    );
    h(
      '<table><thead><tr><th scope="col">Range</th><th scope="col">Perms</th><th scope="col">File</th></tr></thead><tbody>',
    );
    for (const m of report.memoryMap)
      h(
        `<tr><td><code>${e(m.start)}-${e(m.end)}</code></td><td><code>${e(m.perms ?? "")}</code></td><td>${e(m.file ?? "")}${m.offset ? ` <code>+${e(m.offset)}</code>` : ""}</td></tr>`,
      );
    h("</tbody></table></details></section>");
  }
}

/** Where the facts came from, warnings, what to run next. */
function closingHtml(report: Report, h: Out): void {
  const e = escapeHtml;
  h('<section aria-labelledby="sources"><h2 id="sources">Sources</h2><ul>');
  for (const s of sourcesText(report)) h(`<li>${e(s)}</li>`);
  h("</ul></section>");
  if (report.warnings.length > 0) {
    h('<section aria-labelledby="warnings"><h2 id="warnings">Warnings</h2><ul>');
    for (const w of report.warnings) h(`<li>${e(w)}</li>`);
    h("</ul></section>");
  }
  const next = nextSteps(report);
  if (next.length > 0) {
    h('<section aria-labelledby="next"><h2 id="next">Next</h2>');
    h(`<pre><code>${next.map((n) => `$ ${e(n)}`).join("\n")}</code></pre></section>`);
  }
}
