// The overview's timeline: one lane per generation (the newest MAX_LANES), its build, its life,
// its events; crashes are links to their pages.
import { h, s, time } from "./dom.js";

/** @typedef {import("./types.js").Overview} Overview */
/** @typedef {import("./types.js").UiEvent} UiEvent */
/** @typedef {{ n: number | "—", events: UiEvent[], created?: string }} Lane */

const MAX_LANES = 12;

/**
 * Each build with its end. `hotdump dev` journals build-start before the build has a generation
 * (generation null) and build-ok with the generation it made, one build at a time (the build
 * queue runs one), so a start ends at the next build-ok or build-failed. A start followed by
 * another start was abandoned (hotdump stopped mid-build): it ends where the next one begins.
 * Matching within one lane instead drew a build from its start to "now", across the timeline.
 * @param {UiEvent[]} events
 * @returns {{ start: UiEvent, end: UiEvent | null, next: UiEvent | null, lane: number | "—" }[]}
 */
export function pairBuilds(events) {
  /** @type {{ start: UiEvent, end: UiEvent | null, next: UiEvent | null, lane: number | "—" }[]} */
  const out = [];
  /** @type {UiEvent | null} */
  let open = null;
  const laneOf = (/** @type {UiEvent} */ e) => e.generation ?? "—";
  for (const e of events) {
    if (e.event === "build-start") {
      if (open) out.push({ start: open, end: null, next: e, lane: laneOf(open) });
      open = e;
    } else if ((e.event === "build-ok" || e.event === "build-failed") && open) {
      out.push({ start: open, end: e, next: null, lane: e.generation ?? laneOf(open) });
      open = null;
    }
  }
  if (open) out.push({ start: open, end: null, next: null, lane: laneOf(open) });
  return out;
}

/** The events that end a process's life: a crash, a stop, an exit, a rollback that stopped it. */
const ENDS = ["stopped", "exited", "crash", "rollback"];

/**
 * A generation's lives: one per `started` (a dev generation restarted after a crash lives
 * again on its lane), each ending at the end event of its own process, matched by pid (a `run`
 * crash is journalled after the restart it caused, naming the crashed process as runPid), else
 * at the first end after it. A life with no end is still running: it ends at `now`.
 * @param {UiEvent[]} events
 * @returns {{ start: UiEvent, end: UiEvent | null }[]}
 */
export function lives(events) {
  /** @type {{ start: UiEvent, end: UiEvent | null }[]} */
  const out = [];
  for (const e of events) {
    if (e.event === "started") {
      out.push({ start: e, end: null });
      continue;
    }
    if (!ENDS.includes(e.event)) continue;
    const open = out.filter((l) => !l.end);
    const pid = /** @type {{ runPid?: number }} */ (e).runPid ?? e.pid;
    const life = open.find((l) => pid != null && l.start.pid === pid) ?? open[0];
    if (life) life.end = e;
  }
  return out;
}

/**
 * Lanes per generation over time: build span, each life's span, markers; crashes are links. The
 * axis ends at `now` (the server's clock when the overview was read, moved on by the caller while
 * the page stays open), so a serving generation's bar reaches the right edge and keeps growing.
 * @param {Overview} o
 * @param {number} [nowMs]
 */
export function timeline(o, nowMs) {
  const events = o.events;
  /** @type {Map<number | "—", Lane>} */
  const gens = new Map();
  /** @param {number | "—" | null} n */
  const lane = (n) => {
    const key = n ?? "—";
    let l = gens.get(key);
    if (!l) {
      l = { n: key, events: [] };
      gens.set(key, l);
    }
    return l;
  };
  for (const g of o.generations) lane(g.n).created = g.createdAt;
  for (const e of events) lane(e.generation ?? null).events.push(e);
  const builds = pairBuilds(events);
  // A build is drawn in the lane of the generation it made (a failed or running one: "builds"),
  // and its start moves there with it: the "builds" lane keeps only builds that made nothing.
  const unplaced = lane(null);
  for (const b of builds)
    if (b.lane !== "—" && b.start.generation == null) {
      unplaced.events = unplaced.events.filter((e) => e !== b.start);
      const target = lane(b.lane);
      target.events = [...target.events, b.start].sort((a, z) => a.id - z.id);
    }
  const all = [...gens.values()].filter((g) => g.events.length > 0);
  if (all.length === 0)
    return h("p", { class: "muted" }, "No generations yet: start one with hotdump dev, run or exec.");
  all.sort((a, b) => (a.n === "—" ? -1 : b.n === "—" ? 1 : a.n - b.n));
  const lanes = all.slice(-MAX_LANES);
  const ts = (/** @type {UiEvent} */ e) => Date.parse(e.ts);
  const now = nowMs ?? Date.parse(o.now);
  let t0 = Math.min(...lanes.flatMap((g) => g.events.map(ts)));
  const t1 = Math.max(now, ...lanes.flatMap((g) => g.events.map(ts)));
  if (t1 - t0 < 1000) t0 = t1 - 1000;
  t0 -= (t1 - t0) * 0.02;
  const W = 1000;
  const L = 90;
  const top = 26;
  const LH = 30;
  const H = top + lanes.length * LH + 6;
  const x = (/** @type {number} */ t) => L + ((t - t0) / (t1 - t0)) * (W - L - 10);
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
    for (const b of builds.filter((b) => b.lane === g.n)) {
      const end = b.end ? ts(b.end) : b.next ? ts(b.next) : now;
      grp.append(
        s(
          "rect",
          {
            class: "build",
            x: x(ts(b.start)),
            y: y + 6,
            width: Math.max(3, x(end) - x(ts(b.start))),
            height: LH - 16,
            rx: 2,
          },
          s(
            "title",
            null,
            `build ${b.end ? (b.end.event === "build-ok" ? "ok" : "failed") : b.next ? "abandoned" : "running"}`,
          ),
        ),
      );
    }
    for (const { start: st, end: fin } of g.n === "—" ? [] : lives(g.events)) {
      const end = fin ? ts(fin) : now;
      grp.append(
        s(
          "rect",
          {
            class: `life${fin?.event === "crash" ? " crashed" : fin ? "" : " running"}`,
            x: x(ts(st)),
            y: y + 6,
            width: Math.max(3, x(end) - x(ts(st))),
            height: LH - 16,
            rx: 2,
            "data-pid": st.pid ?? "",
          },
          s(
            "title",
            null,
            `generation ${g.n}${st.pid ? ` pid ${st.pid}` : ""}: ${fin ? `${fin.event} ${time(fin.ts)}` : "running"}`,
          ),
        ),
      );
    }
    for (const e of g.events) {
      const cx = x(ts(e));
      const label = `${e.event} ${time(e.ts)}${e.generation != null ? ` (generation ${e.generation})` : ""}`;
      if (e.event === "crash" || (e.event === "recovered-panic" && e.crashId)) {
        // A recovered panic is a record of its own (the generation kept running): a smaller mark.
        const recovered = e.event === "recovered-panic";
        const a = s("a", {
          href: e.crashId ? `#/crash/${encodeURIComponent(e.crashId)}` : "#/",
          class: "crash-link",
          "aria-label": `${recovered ? "recovered panic" : "crash"} ${e.crashId ?? ""} at ${time(e.ts)}`,
        });
        a.append(
          s("circle", { class: recovered ? "recovered" : "crash", cx, cy: mid, r: recovered ? 5 : 7 }),
          s("title", null, label),
        );
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
    h("li", null, h("i", { class: "sw-recovered" }), "recovered panic (it kept running)"),
    h("li", null, h("i", { class: "sw-rollback" }), "rollback / failed build"),
  );
  const more =
    all.length > lanes.length
      ? h("p", { class: "muted" }, `Showing the last ${lanes.length} of ${all.length} lanes.`)
      : null;
  return [svg, legend, more];
}
