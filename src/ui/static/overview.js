// The overview page.
import { api, append, dateTime, h, mount } from "./dom.js";
import { logList } from "./events.js";
import { appLogText } from "./live.js";
import { state } from "./state.js";
import { lives, timeline } from "./timeline.js";

/** @typedef {import("./types.js").Overview} Overview */

/** @returns {Promise<Overview>} */
export async function loadOverview() {
  state.overview = await api("/api/overview");
  state.overviewAt = performance.now();
  const store = document.getElementById("store");
  if (store) store.textContent = state.overview?.store ?? "";
  return /** @type {Overview} */ (state.overview);
}

/**
 * @param {Overview} o
 * @returns {o is import("./types.js").FleetOverview}
 */
const isFleet = (o) => "fleet" in o && o.fleet === true;

/** The overview page: timeline, crashes, live events, the service's output. */
export async function renderOverview() {
  const o = await loadOverview();
  if (isFleet(o)) return renderFleetOverview(o);
  document.title = "hotdump — overview";
  mount(
    h("h1", null, "Overview"),
    h(
      "section",
      { "aria-labelledby": "tl-h" },
      h("h2", { id: "tl-h" }, "Timeline of generations"),
      h("div", { id: "timeline" }, timeline(o)),
    ),
    h(
      "section",
      { "aria-labelledby": "sg-h" },
      h("h2", { id: "sg-h" }, "Signatures"),
      h("div", { id: "signaturelist" }, signatureTable(o.signatures)),
    ),
    h(
      "section",
      { "aria-labelledby": "cl-h" },
      h("h2", { id: "cl-h" }, "Crashes"),
      h("div", { id: "crashlist" }, crashTable(o.crashes)),
    ),
    h(
      "section",
      { "aria-labelledby": "log-h" },
      h("h2", { id: "log-h" }, "Live events"),
      h("p", { class: "muted" }, "The journal as it is written; a crash's own output is on its page."),
      logList(o.events),
    ),
    h(
      "section",
      { "aria-labelledby": "app-h" },
      h("h2", { id: "app-h" }, "Service output"),
      h(
        "p",
        { class: "muted" },
        "Live from the supervisor this dashboard runs in (hotdump dev --ui, hotdump run --ui); a standalone hotdump ui shows none.",
      ),
      h("pre", { id: "applog", class: "applog", tabindex: 0, "aria-label": "Service output" }, appLogText()),
    ),
  );
  for (const id of ["applog", "log"]) {
    const el = document.getElementById(id);
    if (el) el.scrollTop = el.scrollHeight;
  }
  tickTimeline();
  return o;
}

/**
 * `hotdump ui --fleet`: the issues (crashes grouped by fingerprint across hosts), then every
 * host's crashes with a Host column. No timeline nor live output: those are one supervisor's.
 * @param {import("./types.js").FleetOverview} o
 */
function renderFleetOverview(o) {
  document.title = "hotdump — fleet";
  mount(
    h("h1", null, "Fleet"),
    h(
      "section",
      { "aria-labelledby": "is-h" },
      h("h2", { id: "is-h" }, "Issues"),
      h("div", { id: "issuelist" }, issueTable(o.issues)),
    ),
    h(
      "section",
      { "aria-labelledby": "cl-h" },
      h("h2", { id: "cl-h" }, "Crashes"),
      h("div", { id: "crashlist" }, crashTable(o.crashes)),
    ),
  );
  return o;
}

/** @param {import("./types.js").FleetIssue[]} issues */
function issueTable(issues) {
  if (issues.length === 0) return h("p", { class: "muted" }, "No crashes in the fleet. Good.");
  return h(
    "table",
    { id: "issues" },
    h("caption", { class: "muted" }, `${issues.length} issue${issues.length === 1 ? "" : "s"}, latest first`),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Status", "Count", "Hosts", "Kind", "Message", "Culprit", "First seen", "Last seen"].map((c) =>
          h("th", { scope: "col" }, c),
        ),
      ),
    ),
    h(
      "tbody",
      null,
      issues.map((i) =>
        h(
          "tr",
          { "data-fingerprint": i.fingerprint },
          h("td", { class: `status-${i.status}` }, i.status),
          h("td", { class: "n" }, i.count),
          h("td", null, i.hosts.join(", ")),
          h("td", null, i.kind ?? "?"),
          h("td", { class: "msg" }, i.message ?? ""),
          h("td", { class: "mono" }, i.culprit ? i.culprit.replace(/^(\S+) .*\/([^/]+)$/, "$1 $2") : ""),
          h("td", { title: i.firstSeen.build ?? "" }, dateTime(i.firstSeen.time)),
          h("td", { title: i.lastSeen.build ?? "" }, dateTime(i.lastSeen.time)),
        ),
      ),
    ),
  );
}

/**
 * The server's clock now: the overview's `now` moved on by the time since it was read (the
 * browser's own clock may differ from the machine the store is on).
 */
const serverNow = () => Date.parse(state.overview?.now ?? "") + (performance.now() - state.overviewAt);

/** @type {ReturnType<typeof setInterval> | undefined} */
let ticker;

/**
 * While a generation runs, its bar grows: the timeline is redrawn every second with the clock
 * moved on, between the journal events that redraw it anyway.
 */
function tickTimeline() {
  clearInterval(ticker);
  ticker = setInterval(() => {
    const tl = document.getElementById("timeline");
    const o = state.overview;
    if (!tl || !o) return clearInterval(ticker);
    const byGen = new Map();
    for (const e of o.events)
      if (e.generation != null) byGen.set(e.generation, [...(byGen.get(e.generation) ?? []), e]);
    if (![...byGen.values()].some((evs) => lives(evs).some((l) => !l.end))) return;
    tl.replaceChildren();
    append(tl, [timeline(o, serverNow())]);
  }, 1000);
}

/** Redraw the timeline and the crash list in place (new crashes marked). */
export function refreshOverviewParts() {
  const known = new Set((state.overview?.crashes ?? []).map((c) => c.id));
  return loadOverview().then((o) => {
    if (isFleet(o)) return void renderFleetOverview(o);
    const tl = document.getElementById("timeline");
    const cl = document.getElementById("crashlist");
    const sl = document.getElementById("signaturelist");
    for (const [el, content] of /** @type {[HTMLElement | null, import("./dom.js").Child][]} */ ([
      [tl, timeline(o)],
      [sl, signatureTable(o.signatures)],
      [cl, crashTable(o.crashes, known)],
    ])) {
      if (!el) continue;
      el.replaceChildren();
      append(el, [content]);
    }
  });
}

/**
 * @param {Overview["crashes"]} crashes
 * @param {Set<string>} [known] ids shown before: the others are marked new
 */
function crashTable(crashes, known) {
  if (crashes.length === 0) return h("p", { class: "muted" }, "No crashes in this store. Good.");
  /** @param {Overview["crashes"][number]} c */
  const hostOf = (c) => ("host" in c && typeof c.host === "string" ? c.host : null);
  const fleet = crashes.some((c) => hostOf(c) !== null);
  return h(
    "table",
    { id: "crashes" },
    h(
      "caption",
      { class: "muted" },
      `${crashes.length} crash${crashes.length === 1 ? "" : "es"}, newest first`,
    ),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        (fleet
          ? ["Time", "Host", "Kind", "Message", "Culprit"]
          : ["Time", "Gen", "Kind", "Message", "Culprit"]
        ).map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h(
      "tbody",
      null,
      crashes.map((c) =>
        h(
          "tr",
          { "data-id": c.id, class: known && !known.has(c.id) ? "new" : undefined },
          h(
            "td",
            null,
            c.evicted
              ? h(
                  "span",
                  { title: "the bundle was evicted by the store budget" },
                  dateTime(c.time),
                  " (evicted)",
                )
              : h("a", { href: `#/crash/${encodeURIComponent(c.id)}` }, dateTime(c.time)),
          ),
          fleet ? h("td", { class: "host" }, hostOf(c)) : h("td", { class: "n" }, c.generation ?? "–"),
          h("td", null, c.error ? "unreadable" : (c.kind ?? c.outcome ?? "?")),
          h("td", { class: "msg" }, c.message ?? c.error ?? ""),
          h("td", { class: "mono" }, c.culprit ? c.culprit.replace(/^(\S+) .*\/([^/]+)$/, "$1 $2") : ""),
        ),
      ),
    ),
  );
}

/**
 * The same bug once, with its count and where it first appeared (as `hotdump crashes` prints it).
 * @param {Overview["signatures"]} groups
 */
function signatureTable(groups) {
  if (!groups || groups.length === 0) return h("p", { class: "muted" }, "No signatures yet.");
  return h(
    "table",
    { id: "signatures" },
    h("caption", { class: "muted" }, "Each bug once, newest first"),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Count", "Kind", "Generations", "Last seen", "Message", "First seen"].map((c) =>
          h("th", { scope: "col" }, c),
        ),
      ),
    ),
    h(
      "tbody",
      null,
      groups.map((g) =>
        h(
          "tr",
          { "data-fingerprint": g.fingerprint },
          h("td", { class: "n" }, String(g.count)),
          h("td", null, g.kind ?? "?"),
          h("td", { class: "n" }, g.generations.join(", ") || "–"),
          h(
            "td",
            null,
            g.crashIds[0]
              ? h("a", { href: `#/crash/${encodeURIComponent(g.crashIds[0])}` }, dateTime(g.lastSeen))
              : dateTime(g.lastSeen),
          ),
          h(
            "td",
            { class: "msg" },
            g.regression
              ? h(
                  "span",
                  { class: "regression" },
                  `regression (fixed in ${g.regression.fixedIn}, back in ${g.regression.backIn}) `,
                )
              : null,
            g.message ?? "",
          ),
          h("td", null, firstSeenLine(g)),
        ),
      ),
    ),
  );
}

/** @param {Overview["signatures"][number]} g */
function firstSeenLine(g) {
  const f = g.first;
  if (!f) return "";
  const rev = f.revision ? ` (${f.revision.slice(0, 12)}${f.modified ? ", modified" : ""})` : "";
  const files = f.changed.map((c) => c.split("/").pop() ?? c);
  return `generation ${f.generation}${rev}${files.length ? `, after editing ${files.slice(0, 4).join(", ")}` : ""}`;
}
