// The dashboard's front-end: plain ES module, no framework, no network beyond its own server.
// Every value from a report is attacker-controlled text (a panic message can hold markup), so the
// DOM is built with createElement/textContent only: this file never assigns innerHTML.

const SVG = "http://www.w3.org/2000/svg";
const MAX_LANES = 12;
const LOG_LINES = 300;

/** createElement with attributes, event handlers (on*) and children (strings become text nodes). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

async function api(path) {
  const res = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await res.json().catch(() => null);
  if (!res.ok)
    throw Object.assign(new Error(body?.error?.message ?? `HTTP ${res.status}`), { status: res.status });
  return body;
}

const state = { overview: null, source: null, lastEventId: 0, route: null, detail: null, appLines: [] };
const main = () => document.getElementById("main");
/** Replace the page's content (replaceChildren would print a null child as the text "null"). */
const mount = (...children) => {
  main().replaceChildren();
  append(main(), children);
};
const setStatus = (text, live = false) => {
  const el = document.getElementById("status");
  el.textContent = text;
  el.classList.toggle("live", live);
};

const time = (ts) => (ts ? new Date(ts).toLocaleTimeString([], { hour12: false }) : "");
const dateTime = (ts) => (ts ? new Date(ts).toLocaleString([], { hour12: false }) : "");
const where = (l) => (l.line > 0 ? `${l.file}:${l.line}` : l.file || "?");
const short = (file) => file.split("/").slice(-2).join("/");

// ---------------------------------------------------------------- routing

function route() {
  const m = /^#\/crash\/([^/]+)$/.exec(location.hash);
  return m ? { page: "crash", id: decodeURIComponent(m[1]) } : { page: "overview" };
}

async function render() {
  state.route = route();
  try {
    if (state.route.page === "crash") await renderCrash(state.route.id);
    else await renderOverview();
  } catch (e) {
    mount(h("h1", null, "Could not load this page"), h("p", { class: "bad" }, e.message));
  }
}

// ---------------------------------------------------------------- overview

async function loadOverview() {
  state.overview = await api("/api/overview");
  document.getElementById("store").textContent = state.overview.store;
  return state.overview;
}

async function renderOverview() {
  const o = await loadOverview();
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
  const app = document.getElementById("applog");
  app.scrollTop = app.scrollHeight;
  const log = document.getElementById("log");
  log.scrollTop = log.scrollHeight;
  connect(o.lastEventId);
}

function refreshOverviewParts() {
  const known = new Set((state.overview?.crashes ?? []).map((c) => c.id));
  return loadOverview().then((o) => {
    const tl = document.getElementById("timeline");
    const cl = document.getElementById("crashlist");
    for (const [el, content] of [
      [tl, timeline(o)],
      [cl, crashTable(o.crashes, known)],
    ]) {
      if (!el) continue;
      el.replaceChildren();
      append(el, [content]);
    }
  });
}

/** Lanes per generation over time: build span, life span, markers; crashes are links. */
function timeline(o) {
  const events = o.events;
  const gens = new Map();
  const lane = (n) => {
    const key = n ?? "—";
    if (!gens.has(key)) gens.set(key, { n: key, events: [] });
    return gens.get(key);
  };
  for (const g of o.generations) lane(g.n).created = g.createdAt;
  for (const e of events) lane(e.generation).events.push(e);
  const all = [...gens.values()].filter((g) => g.events.length > 0);
  if (all.length === 0)
    return h("p", { class: "muted" }, "No generations yet: start one with hotdump dev, run or exec.");
  all.sort((a, b) => (a.n === "—" ? -1 : b.n === "—" ? 1 : a.n - b.n));
  const lanes = all.slice(-MAX_LANES);
  const ts = (e) => Date.parse(e.ts);
  const now = Date.parse(o.now);
  const latest = lanes.filter((g) => g.n !== "—").at(-1);
  const running = latest && !latest.events.some((e) => ["stopped", "exited", "crash"].includes(e.event));
  let t0 = Math.min(...lanes.flatMap((g) => g.events.map(ts)));
  let t1 = Math.max(...lanes.flatMap((g) => g.events.map(ts)), running ? now : 0);
  if (t1 - t0 < 1000) t1 = t0 + 1000;
  const pad = (t1 - t0) * 0.02;
  t0 -= pad;
  t1 += pad;
  const W = 1000;
  const L = 90;
  const top = 26;
  const LH = 30;
  const H = top + lanes.length * LH + 6;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - 10);
  const svg = s("svg", {
    class: "timeline",
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-labelledby": "tl-title",
    "data-lanes": lanes.length,
  });
  svg.append(
    s(
      "title",
      { id: "tl-title" },
      `Timeline of ${lanes.length} generation lanes from ${time(new Date(t0).toISOString())} to ${time(new Date(t1).toISOString())}`,
    ),
  );
  for (let i = 0; i <= 5; i++) {
    const t = t0 + ((t1 - t0) * i) / 5;
    svg.append(
      s("line", { class: "grid", x1: x(t), x2: x(t), y1: top - 4, y2: H - 4 }),
      s(
        "text",
        { class: "tick", x: x(t), y: 14, "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle" },
        time(new Date(t).toISOString()),
      ),
    );
  }
  lanes.forEach((g, i) => {
    const y = top + i * LH;
    const mid = y + LH / 2 - 2;
    const grp = s("g", { class: "gen", "data-generation": g.n });
    grp.append(
      s("rect", { class: "lane", x: L, y: y + 2, width: W - L - 10, height: LH - 8, rx: 3 }),
      s("text", { class: "label", x: 8, y: mid + 4 }, g.n === "—" ? "builds" : `gen ${g.n}`),
    );
    const first = (names) => g.events.find((e) => names.includes(e.event));
    const bs = first(["build-start"]);
    const be = first(["build-ok", "build-failed"]);
    if (bs) {
      const end = be ? ts(be) : now;
      grp.append(
        s(
          "rect",
          {
            class: "build",
            x: x(ts(bs)),
            y: y + 6,
            width: Math.max(3, x(end) - x(ts(bs))),
            height: LH - 16,
            rx: 2,
          },
          s("title", null, `build ${be ? (be.event === "build-ok" ? "ok" : "failed") : "running"}`),
        ),
      );
    }
    const st = first(["started"]);
    const fin = first(["stopped", "exited", "crash"]);
    if (st) {
      const end = fin ? ts(fin) : g === latest ? now : ts(g.events.at(-1));
      grp.append(
        s(
          "rect",
          {
            class: `life${fin?.event === "crash" ? " crashed" : ""}`,
            x: x(ts(st)),
            y: y + 6,
            width: Math.max(3, x(end) - x(ts(st))),
            height: LH - 16,
            rx: 2,
          },
          s(
            "title",
            null,
            `generation ${g.n}${st.pid ? ` pid ${st.pid}` : ""}: ${fin ? fin.event : "running"}`,
          ),
        ),
      );
    }
    for (const e of g.events) {
      const cx = x(ts(e));
      const label = `${e.event} ${time(e.ts)}${e.generation != null ? ` (generation ${e.generation})` : ""}`;
      if (e.event === "crash") {
        const a = s("a", {
          href: e.crashId ? `#/crash/${encodeURIComponent(e.crashId)}` : "#/",
          class: "crash-link",
          "aria-label": `crash ${e.crashId ?? ""} at ${time(e.ts)}`,
        });
        a.append(s("circle", { class: "crash", cx, cy: mid, r: 7 }), s("title", null, label));
        grp.append(a);
      } else if (["started", "ready", "switch"].includes(e.event)) {
        grp.append(s("circle", { class: `ev ${e.event}`, cx, cy: mid, r: 4 }, s("title", null, label)));
      } else if (["stopped", "exited"].includes(e.event)) {
        grp.append(
          s(
            "rect",
            { class: "ev stop", x: cx - 4, y: mid - 4, width: 8, height: 8 },
            s("title", null, label),
          ),
        );
      } else if (["rollback", "build-failed"].includes(e.event)) {
        grp.append(
          s(
            "path",
            { class: `ev ${e.event}`, d: `M${cx} ${mid - 6}L${cx + 6} ${mid + 5}L${cx - 6} ${mid + 5}Z` },
            s("title", null, label),
          ),
        );
      }
    }
    svg.append(grp);
  });
  const legend = h(
    "ul",
    { class: "legend", "aria-label": "Legend" },
    h("li", null, h("i", { class: "sw-build" }), "build"),
    h("li", null, h("i", { class: "sw-life" }), "running"),
    h("li", null, h("i", { class: "sw-ready" }), "ready"),
    h("li", null, h("i", { class: "sw-crash" }), "crash (select to open)"),
    h("li", null, h("i", { class: "sw-rollback" }), "rollback / failed build"),
  );
  const more =
    all.length > lanes.length
      ? h("p", { class: "muted" }, `Showing the last ${lanes.length} of ${all.length} lanes.`)
      : null;
  return [svg, legend, more];
}

function crashTable(crashes, known) {
  if (crashes.length === 0) return h("p", { class: "muted" }, "No crashes in this store. Good.");
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
        ["Time", "Gen", "Kind", "Message", "Culprit"].map((c) => h("th", { scope: "col" }, c)),
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
          h("td", { class: "n" }, c.generation ?? "–"),
          h("td", null, c.error ? "unreadable" : (c.kind ?? c.outcome ?? "?")),
          h("td", { class: "msg" }, c.message ?? c.error ?? ""),
          h("td", { class: "mono" }, c.culprit ? c.culprit.replace(/^(\S+) .*\/([^/]+)$/, "$1 $2") : ""),
        ),
      ),
    ),
  );
}

function eventText(e) {
  const skip = new Set(["id", "ts", "event", "generation", "pid", "crashId"]);
  const extra = Object.entries(e)
    .filter(([k, v]) => !skip.has(k) && v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return [
    time(e.ts),
    e.generation != null ? `gen ${e.generation}` : "",
    e.event,
    e.pid ? `pid ${e.pid}` : "",
    ...extra,
  ]
    .filter(Boolean)
    .join("  ");
}

function logItem(e) {
  return h(
    "li",
    { class: e.event === "crash" ? "crash" : undefined, "data-event": e.event },
    eventText(e),
    e.crashId ? [" ", h("a", { href: `#/crash/${encodeURIComponent(e.crashId)}` }, e.crashId)] : null,
  );
}

function logList(events) {
  return h(
    "ol",
    {
      id: "log",
      class: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      tabindex: 0,
      "aria-label": "Live events",
    },
    events.slice(-LOG_LINES).map(logItem),
  );
}

// ---------------------------------------------------------------- live updates

let refreshTimer = null;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    if (state.route?.page === "overview") refreshOverviewParts().catch(() => {});
    else if (state.route?.page === "crash" && state.detail?.meta?.state === "capturing") render();
  }, 150);
}

function connect(since) {
  if (state.source) return;
  state.lastEventId = since;
  const es = new EventSource(`/api/events?since=${encodeURIComponent(since)}`);
  state.source = es;
  es.addEventListener("open", () => setStatus("live", true));
  es.addEventListener("error", () => setStatus("reconnecting…"));
  es.addEventListener("journal", (m) => {
    const e = JSON.parse(m.data);
    if (e.id <= state.lastEventId) return;
    state.lastEventId = e.id;
    const log = document.getElementById("log");
    if (log) {
      const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
      log.append(logItem(e));
      while (log.children.length > LOG_LINES) log.firstElementChild.remove();
      if (stick) log.scrollTop = log.scrollHeight;
    }
    scheduleRefresh();
  });
  es.addEventListener("bundles", scheduleRefresh);
  es.addEventListener("app", (m) => {
    const l = JSON.parse(m.data);
    state.appLines.push(l);
    if (state.appLines.length > APP_LINES) state.appLines.shift();
    const pre = document.getElementById("applog");
    if (pre) {
      const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.textContent = appLogText();
      if (stick) pre.scrollTop = pre.scrollHeight;
    }
  });
}

const APP_LINES = 200;
/** The service's output as plain text (textContent: a log line is never markup). */
function appLogText() {
  return state.appLines.map((l) => `[gen ${l.generation}] ${l.text}`).join("\n");
}

// ---------------------------------------------------------------- crash page

/** The service's own code: not the runtime, not the standard library (no dot in its first path element). */
function inApp(f) {
  if (f.runtime) return false;
  const pkg = f.function.includes("/") ? f.function.split("/")[0] : f.function.split(".")[0];
  return pkg === "main" || pkg.includes(".");
}

function vars(title, list) {
  if (!list?.length) return null;
  return [
    h("p", { class: "muted" }, title),
    h(
      "dl",
      { class: "vars" },
      list.map((v) => [
        h("dt", null, v.name, v.type ? h("span", { class: "muted" }, ` ${v.type}`) : null),
        h(
          "dd",
          { class: v.unreadable ? "muted" : undefined },
          v.redacted ? "<redacted>" : v.unreadable ? `<unreadable: ${v.unreadable}>` : v.value,
        ),
      ]),
    ),
  ];
}

function sourceBlock(frame) {
  if (!frame?.source) return null;
  return h(
    "pre",
    { class: "src", "aria-label": `source of ${frame.file}` },
    frame.source.lines.map((text, i) => {
      const n = frame.source.startLine + i;
      return h(
        "span",
        { class: n === frame.line ? "hit" : undefined },
        h("span", { class: "ln" }, String(n)),
        text,
      );
    }),
  );
}

function frameItem(f, culprit) {
  const isCulprit =
    culprit && f.function === culprit.function && f.file === culprit.file && f.line === culprit.line;
  const app = inApp(f);
  return h(
    "li",
    { class: app ? "app" : "lib" },
    h(
      "details",
      { open: app, "data-function": f.function },
      h(
        "summary",
        null,
        h("span", { class: "fn" }, f.function),
        h("span", { class: "muted" }, ` ${where(f)}`),
        isCulprit ? h("span", { class: "culpritmark" }, "← culprit") : null,
      ),
      h(
        "div",
        { class: "frame-body" },
        vars("Arguments", f.args),
        vars("Locals", f.locals),
        f.rawArgs ? h("p", { class: "mono muted" }, `raw args: ${f.rawArgs}`) : null,
        f.pc ? h("p", { class: "mono muted" }, `pc ${f.pc}`) : null,
        sourceBlock(f),
        !f.args?.length && !f.locals?.length && !f.source && !f.pc
          ? h("p", { class: "muted" }, "No variables recorded for this frame.")
          : null,
      ),
    ),
  );
}

/** In-app frames open; runs of runtime and standard-library frames folded into one disclosure. */
function stack(frames, culprit, id = "stack") {
  const out = [];
  let run = [];
  const flush = () => {
    if (!run.length) return;
    const n = run.length;
    out.push(
      h(
        "li",
        { class: "folded-run" },
        h(
          "details",
          { class: "folded" },
          h("summary", null, `${n} runtime / standard-library frame${n === 1 ? "" : "s"}`),
          h(
            "ol",
            { class: "stack" },
            run.map((f) => frameItem(f, culprit)),
          ),
        ),
      ),
    );
    run = [];
  };
  for (const f of frames) {
    if (inApp(f)) {
      flush();
      out.push(frameItem(f, culprit));
    } else run.push(f);
  }
  flush();
  return h("ol", id ? { class: "stack", id } : { class: "stack" }, out);
}

function factList(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => [h("dt", null, k), h("dd", null, v)]),
  );
}

function section(id, title, ...children) {
  return h("section", { "aria-labelledby": `${id}-h`, id }, h("h2", { id: `${id}-h` }, title), ...children);
}

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
          getSelection().removeAllRanges();
          getSelection().addRange(r);
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
function raceAccessTitle(a) {
  const op = `${a.atomic ? "atomic " : ""}${a.op}`;
  const what = a.previous ? `Previous ${op}` : op[0].toUpperCase() + op.slice(1);
  const who = a.goroutine === null ? "main goroutine" : `goroutine ${a.goroutine}`;
  return `${what} at ${a.addr} by ${who}${a.mutexes ? ` (mutexes: ${a.mutexes})` : ""}`;
}

async function renderCrash(id) {
  const d = await api(`/api/crashes/${encodeURIComponent(id)}`);
  state.detail = d;
  if (!state.overview) loadOverview().catch(() => {});
  const r = d.report;
  const m = d.meta;
  const kind = r?.kind ?? m.kind ?? m.outcome;
  const message = r?.message ?? m.message ?? "";
  document.title = `hotdump — ${kind}: ${message.slice(0, 60)}`;
  const culprit = r?.culprit ?? m.culprit ?? null;
  const isCulprit = (f) =>
    f.function === culprit.function && f.file === culprit.file && f.line === culprit.line;
  // A race has no crashing goroutine: the culprit is the racing write's frame.
  const culpritF =
    culprit &&
    (r?.goroutine?.frames.find(isCulprit) ??
      (r?.races ?? [])
        .flatMap((x) => x.accesses.flatMap((a) => a.frames))
        .find((f) => isCulprit(f) && f.source));
  const dl = (ext, label) =>
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
  mount(
    h("p", null, h("a", { href: "#/" }, "← Overview")),
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
    r
      ? section(
          "panic",
          { panic: "Panic", race: "Data race", snapshot: "Snapshot", fatal: "Fatal error", signal: "Signal" }[
            kind
          ] ?? "Crash",
          h("pre", { class: "message" }, message),
          r.value ? [h("p", { class: "muted" }, "Decoded value"), h("pre", null, r.value)] : null,
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
      : null,
    section(
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
    ),
    ...(r?.races ?? []).map((race, i, all) =>
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
    ),
    r?.goroutine
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
      : null,
    r
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
      : null,
    section(
      "output",
      "Program output (tail)",
      h("p", { class: "muted" }, "stdout"),
      d.stdoutTail ? h("pre", { id: "stdout" }, d.stdoutTail) : h("p", { class: "muted" }, "(empty)"),
      h("p", { class: "muted" }, "stderr"),
      d.stderrTail ? h("pre", { id: "stderr" }, d.stderrTail) : h("p", { class: "muted" }, "(empty)"),
    ),
    section(
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
            ? ["delve", "gdb", "traceback"]
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
    ),
    r?.registers?.length
      ? h(
          "section",
          { "aria-label": "Registers" },
          h(
            "details",
            null,
            h("summary", null, h("strong", null, `Registers (${r.registers.length})`)),
            h(
              "table",
              { class: "mono" },
              h(
                "tbody",
                null,
                r.registers.map((x) =>
                  h("tr", null, h("th", { scope: "row" }, x.name), h("td", null, x.value)),
                ),
              ),
            ),
          ),
        )
      : null,
    r?.memoryMap?.length
      ? h(
          "section",
          { "aria-label": "Memory map" },
          h(
            "details",
            null,
            h("summary", null, h("strong", null, `Memory map (${r.memoryMap.length})`)),
            h(
              "table",
              { class: "mono" },
              h(
                "thead",
                null,
                h(
                  "tr",
                  null,
                  ["Start", "End", "Perms", "Offset", "File"].map((c) => h("th", { scope: "col" }, c)),
                ),
              ),
              h(
                "tbody",
                null,
                r.memoryMap.map((x) =>
                  h(
                    "tr",
                    null,
                    h("td", null, x.start),
                    h("td", null, x.end),
                    h("td", null, x.perms ?? ""),
                    h("td", null, x.offset ?? ""),
                    h("td", null, x.file ?? ""),
                  ),
                ),
              ),
            ),
          ),
        )
      : null,
  );
  main().focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

// ---------------------------------------------------------------- start

window.addEventListener("hashchange", render);
render().then(() => {
  if (!state.source) connect(state.overview?.lastEventId ?? 0);
});
