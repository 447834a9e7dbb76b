// The crash page: everything one bundle holds, for a person.
import { api, dateTime, factList, h, main, mount, section, short, where } from "./dom.js";
import { sourceBlock, stack, vars } from "./frames.js";
import { state } from "./state.js";

/** @typedef {import("./types.js").CrashDetail} CrashDetail */
/** @typedef {import("./types.js").Frame} Frame */
/** @typedef {import("./types.js").Location} Location */
/** @typedef {import("./types.js").RaceAccess} RaceAccess */
/** @typedef {import("./types.js").Report} Report */
/**
 * What every part of the page reads.
 * @typedef {{
 *   id: string,
 *   d: CrashDetail,
 *   r: Report | null,
 *   m: CrashDetail["meta"],
 *   kind: string,
 *   message: string,
 *   culprit: Location | null,
 *   culpritF: Frame | null | undefined | false,
 *   dl: (ext: string, label: string) => HTMLAnchorElement,
 *   bin: { path?: string, sha256?: string, goBuildId?: string | null, gnuBuildId?: string | null, goVersion?: string | null, hasDwarf?: boolean },
 *   match: boolean | null | undefined,
 * }} Ctx
 */

/** @param {string} text */
function copyButton(text) {
  const code = h("code", { id: "debug-cmd" }, text);
  const btn = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          btn.textContent = "Copied";
        } catch {
          const r = document.createRange();
          r.selectNodeContents(code);
          getSelection()?.removeAllRanges();
          getSelection()?.addRange(r);
          btn.textContent = "Selected: press Ctrl+C";
        }
        setTimeout(() => (btn.textContent = "Copy debug command"), 2000);
      },
    },
    "Copy debug command",
  );
  return [btn, code];
}

/** `Previous write at 0xc0000b0008 by goroutine 7`, as in the text report. */
/** @param {RaceAccess} a */
function raceAccessTitle(a) {
  const op = `${a.atomic ? "atomic " : ""}${a.op}`;
  const what = a.previous ? `Previous ${op}` : op.charAt(0).toUpperCase() + op.slice(1);
  const who = a.goroutine === null ? "main goroutine" : `goroutine ${a.goroutine}`;
  return `${what} at ${a.addr} by ${who}${a.mutexes ? ` (mutexes: ${a.mutexes})` : ""}`;
}

/**
 * The crash page: each part one function of the same context, in page order.
 * @param {string} id
 */
export async function renderCrash(id) {
  const d = /** @type {CrashDetail} */ (await api(`/api/crashes/${encodeURIComponent(id)}`));
  state.detail = d;
  const r = d.report;
  const m = d.meta;
  const kind = r?.kind ?? m.kind ?? m.outcome;
  const message = r?.message ?? m.message ?? "";
  document.title = `hotdump — ${kind}: ${message.slice(0, 60)}`;
  const culprit = r?.culprit ?? m.culprit ?? null;
  const isCulprit = (/** @type {Frame} */ f) =>
    culprit !== null && f.function === culprit.function && f.file === culprit.file && f.line === culprit.line;
  // A race has no crashing goroutine: the culprit is the racing write's frame.
  const culpritF =
    culprit &&
    (r?.goroutine?.frames.find(isCulprit) ??
      (r?.races ?? [])
        .flatMap((x) => x.accesses.flatMap((a) => a.frames))
        .find((f) => isCulprit(f) && f.source));
  const dl = (/** @type {string} */ ext, /** @type {string} */ label) =>
    h(
      "a",
      {
        class: "button",
        href: `/api/crashes/${encodeURIComponent(id)}/report.${ext}`,
        download: `hotdump-${id}.${ext}`,
      },
      label,
    );
  const bin = { ...(m.binary ?? {}), ...(r?.binary ?? {}) };
  const match = m.core?.buildIdMatch ?? r?.core?.buildIdMatch;
  /** @type {Ctx} */
  const c = { id, d, r, m, kind, message, culprit, culpritF, dl, bin, match };
  mount(
    h("p", null, h("a", { href: "#/" }, "← Overview")),
    header(c),
    panicSection(c),
    culpritSection(c),
    ...raceSections(c),
    stackSection(c),
    groupsSection(c),
    outputSection(c),
    identitySection(c),
    registersSection(c),
    memoryMapSection(c),
  );
  main().focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

/**
 * The title, the facts and the actions (downloads, core, debug command).
 * @param {Ctx} c
 */
function header(c) {
  const { id, d, r, m, kind, message, dl } = c;
  return [
    h(
      "h1",
      null,
      h("span", { class: "badge bad" }, kind),
      " ",
      h("span", { class: "message", id: "crash-message" }, message || "(no message)"),
    ),
    factList([
      ["Crash", id],
      ["When", dateTime(r?.process?.time ?? m.createdAt)],
      ["Generation", m.generation ?? "–"],
      ["PID", r?.process?.pid ?? m.pid ?? "–"],
      [
        "Outcome",
        `${m.outcome}${m.signal ? ` (${m.signal})` : ""}${m.exitCode !== null && m.exitCode !== undefined ? `, exit ${m.exitCode}` : ""}`,
      ],
      ["Bundle", m.state],
      ["Command", m.cmdline?.join(" ")],
    ]),
    h(
      "div",
      { class: "actions", role: "group", "aria-label": "Downloads and debugging" },
      r ? [dl("json", "Report JSON"), dl("md", "Markdown"), dl("html", "HTML")] : null,
      d.coreDownload
        ? h(
            "a",
            { class: "button", href: `/api/crashes/${encodeURIComponent(id)}/core` },
            "Core (compressed)",
          )
        : null,
      // No core (a race detector's exit): nothing for a debugger to open.
      m.core?.stored ? copyButton(d.debugCommand) : null,
    ),
    d.reportError ? h("p", { class: "bad" }, d.reportError) : null,
  ];
}

/**
 * Whether the decoded value says more than the message (src/report/present.ts showValue): a
 * string or an error whose text is the message (`"boom"`, `"disk full" (*errors.errorString)`)
 * does not.
 * @param {Report} r
 */
function valueAdds(r) {
  if (!r.value || r.value === r.message) return false;
  const quoted = /^"((?:[^"\\]|\\.)*)"(?: \([^)]*\))?$/.exec(r.value)?.[1];
  return quoted === undefined || quoted.replace(/\\(["\\])/g, "$1") !== r.message;
}

/**
 * `j.owner is nil: dereferenced; fault address 0x0` (src/report/present.ts nilText).
 * @param {NonNullable<Report["nil"]>} n
 */
function nilText(n) {
  const addr = n.addr ? `fault address ${n.addr}` : "";
  if (n.expression == null)
    return `${n.note ?? "the nil expression cannot be decided"}${addr ? ` (${addr})` : ""}`;
  const what = {
    dereference: "dereferenced",
    "map write": "a nil map written to",
    "method call": "a nil interface whose method was called",
    call: "a nil func called",
  }[n.use];
  return `${n.expression} is nil: ${what}${addr ? `; ${addr}` : ""}`;
}

/**
 * What went wrong: the message, the decoded value, nested panics, the signal.
 * @param {Ctx} c
 */
function panicSection(c) {
  const { r, kind, message } = c;
  return r
    ? section(
        "panic",
        { panic: "Panic", race: "Data race", snapshot: "Snapshot", fatal: "Fatal error", signal: "Signal" }[
          kind
        ] ?? "Crash",
        h("pre", { class: "message" }, message),
        valueAdds(r) ? [h("p", { class: "muted" }, "Decoded value"), h("pre", null, r.value)] : null,
        r.nil ? [h("p", { class: "muted" }, "Nil"), h("pre", { class: "bad nil" }, nilText(r.nil))] : null,
        r.nested?.length
          ? [
              h("p", { class: "muted" }, "Earlier panics"),
              h(
                "ul",
                null,
                r.nested.map((n) => h("li", null, n.message, n.recovered ? " [recovered]" : "")),
              ),
            ]
          : null,
        r.signal
          ? factList([
              [
                "Signal",
                [
                  r.signal.name,
                  r.signal.code && `code=${r.signal.code}`,
                  r.signal.addr && `addr=${r.signal.addr}`,
                  r.signal.pc && `pc=${r.signal.pc}`,
                ]
                  .filter(Boolean)
                  .join(" "),
              ],
            ])
          : null,
      )
    : null;
}

/**
 * The frame hotdump blames, with its source and variables.
 * @param {Ctx} c
 */
function culpritSection(c) {
  const { d, r, kind, culprit, culpritF } = c;
  const stale = culpritF ? culpritF.source?.stale : undefined;
  return section(
    "culprit",
    "Culprit",
    culprit
      ? [
          h(
            "p",
            null,
            h("span", { class: "fn", id: "culprit-fn" }, culprit.function),
            " at ",
            h("code", null, where(culprit)),
          ),
          r?.site
            ? h(
                "p",
                { class: "muted", id: "culprit-site" },
                `happened in ${d.siteIn ?? r.site.class}: `,
                h("span", { class: "fn" }, r.site.function),
                " at ",
                h("code", null, where(r.site)),
              )
            : null,
          culprit.localFile
            ? h("p", { class: "muted" }, "source on this machine: ", h("code", null, culprit.localFile))
            : null,
          stale ? h("p", { class: "bad" }, `source ${stale}`) : null,
          sourceBlock(culpritF),
          culpritF ? [vars("Arguments", culpritF.args), vars("Locals", culpritF.locals)] : null,
        ]
      : h(
          "p",
          { class: "muted" },
          kind === "snapshot"
            ? "None: a snapshot of a running process, not a crash."
            : "No culprit was named (no frame of the service's own code was found).",
        ),
  );
}

/**
 * Each data race: both accesses and where their goroutines were created.
 * @param {Ctx} c
 */
function raceSections(c) {
  const { r } = c;
  return (r?.races ?? []).map((race, i, all) =>
    section(
      `race-${i}`,
      all.length === 1 ? "Data race" : `Data race ${i + 1} of ${all.length}`,
      race.culprit
        ? h(
            "p",
            null,
            "Racing write: ",
            h("span", { class: "fn" }, race.culprit.function),
            " at ",
            h("code", null, where(race.culprit)),
          )
        : null,
      race.accesses.map((a) => [h("h3", null, raceAccessTitle(a)), stack(a.frames, race.culprit, null)]),
      race.created.map((c) => [
        h("h3", null, `Goroutine ${c.goroutine} (${c.state}) created at`),
        stack(c.frames, null, null),
      ]),
    ),
  );
}

/**
 * The crashing goroutine (or, for a snapshot, where it was).
 * @param {Ctx} c
 */
function stackSection(c) {
  const { r, kind, culprit } = c;
  return r?.goroutine
    ? section(
        "stack-s",
        `${kind === "snapshot" ? "Where goroutine" : "Crashing goroutine"} ${r.goroutine.id}${kind === "snapshot" ? " was" : ""}${r.goroutine.state ? ` (${r.goroutine.state})` : ""}`,
        h(
          "p",
          { class: "muted" },
          "The service's own frames are open; runtime and standard-library frames are folded. Enter or Space toggles a frame.",
        ),
        stack(r.goroutine.frames, culprit),
      )
    : null;
}

/**
 * Every goroutine, grouped by where it is.
 * @param {Ctx} c
 */
function groupsSection(c) {
  const { r } = c;
  return r
    ? section(
        "groups",
        `Goroutines: ${r.goroutines.total}`,
        r.goroutines.groups.length
          ? h(
              "table",
              { id: "groups-table" },
              h(
                "thead",
                null,
                h(
                  "tr",
                  null,
                  ["Count", "State", "Where", "Ids"].map((c) => h("th", { scope: "col" }, c)),
                ),
              ),
              h(
                "tbody",
                null,
                r.goroutines.groups.map((g) =>
                  h(
                    "tr",
                    null,
                    h("td", { class: "n" }, g.count),
                    h("td", null, g.state),
                    h(
                      "td",
                      { class: "mono" },
                      g.function,
                      g.file ? h("span", { class: "muted" }, ` ${short(g.file)}:${g.line}`) : null,
                    ),
                    h("td", { class: "mono muted" }, (g.ids ?? []).join(" ")),
                  ),
                ),
              ),
            )
          : h("p", { class: "muted" }, "No goroutine groups recorded."),
      )
    : null;
}

/**
 * The program's output tails.
 * @param {Ctx} c
 */
function outputSection(c) {
  const { d } = c;
  return section(
    "output",
    "Program output (tail)",
    h("p", { class: "muted" }, "stdout"),
    d.stdoutTail ? h("pre", { id: "stdout" }, d.stdoutTail) : h("p", { class: "muted" }, "(empty)"),
    h("p", { class: "muted" }, "stderr"),
    d.stderrTail ? h("pre", { id: "stderr" }, d.stderrTail) : h("p", { class: "muted" }, "(empty)"),
  );
}

/**
 * Which binary, which core, whether they match, which analysers ran.
 * @param {Ctx} c
 */
function identitySection(c) {
  const { r, m, bin, match } = c;
  return section(
    "identity",
    "Build and binary identity",
    factList([
      ["Binary", bin.path],
      ["SHA-256", bin.sha256],
      ["Go build ID", bin.goBuildId],
      ["GNU build ID", bin.gnuBuildId],
      ["Go", r?.goVersion ?? m.goVersion ?? bin.goVersion],
      ["DWARF", bin.hasDwarf === undefined ? null : bin.hasDwarf ? "yes" : "no (stripped)"],
      [
        "Core",
        m.core?.found
          ? `${m.core.stored ?? "not stored"}${m.core.bytes ? `, ${m.core.bytes} bytes` : ""}${m.core.storedBytes ? ` (${m.core.storedBytes} stored)` : ""}`
          : `none${m.core?.reason ? `: ${m.core.reason}` : ""}`,
      ],
      [
        "Core matches binary",
        match === true
          ? "yes (build IDs match)"
          : match === false
            ? "NO: the core's build ID differs from the binary's"
            : (m.core?.buildIdReason ?? "unknown"),
      ],
      ["Core truncated", m.core?.truncated || r?.core?.truncated ? "yes" : null],
      [
        "Analysis",
        r
          ? /** @type {const} */ (["delve", "gdb", "traceback"])
              .map(
                (k) =>
                  `${k}: ${r.sources[k].used ? "used" : "not used"}${r.sources[k].note ? ` (${r.sources[k].note})` : ""}`,
              )
              .join("; ")
          : null,
      ],
    ]),
    r?.warnings?.length
      ? h(
          "ul",
          null,
          r.warnings.map((w) => h("li", null, w)),
        )
      : null,
    m.problems?.length
      ? [
          h("p", { class: "muted" }, "Capture problems"),
          h(
            "ul",
            null,
            m.problems.map((p) => h("li", null, `${p.code}: ${p.message}`)),
          ),
        ]
      : null,
  );
}

/**
 * A long table folded under its title (the count in it), shown only when it has rows.
 * @param {string} title
 * @param {HTMLElement | null} head
 * @param {HTMLElement[]} rows
 */
function foldedTable(title, head, rows) {
  if (rows.length === 0) return null;
  return h(
    "section",
    { "aria-label": title },
    h(
      "details",
      null,
      h("summary", null, h("strong", null, `${title} (${rows.length})`)),
      h("table", { class: "mono" }, head, h("tbody", null, rows)),
    ),
  );
}

/**
 * The crashing thread's registers, folded.
 * @param {Ctx} c
 */
function registersSection(c) {
  return foldedTable(
    "Registers",
    null,
    (c.r?.registers ?? []).map((x) =>
      h("tr", null, h("th", { scope: "row" }, x.name), h("td", null, x.value)),
    ),
  );
}

/**
 * The memory map rebuilt from the core, folded.
 * @param {Ctx} c
 */
function memoryMapSection(c) {
  const cols = ["Start", "End", "Perms", "Offset", "File"];
  return foldedTable(
    "Memory map",
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        cols.map((name) => h("th", { scope: "col" }, name)),
      ),
    ),
    (c.r?.memoryMap ?? []).map((x) =>
      h(
        "tr",
        null,
        [x.start, x.end, x.perms ?? "", x.offset ?? "", x.file ?? ""].map((v) => h("td", null, v)),
      ),
    ),
  );
}
