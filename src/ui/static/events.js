// Journal events as readable lines: `12:00:03  gen 4  build-ok  took 812 ms  changed main.go`,
// never raw JSON, whatever fields an event carries.
import { h, time } from "./dom.js";

/** @typedef {import("./types.js").UiEvent} UiEvent */

export const LOG_LINES = 300;

/** Fields every line shows in its own place, or that are links. */
const PLACED = new Set(["id", "ts", "event", "generation", "pid", "crashId"]);

/** Names that read better as words than as the journal's keys. */
const NAMES = /** @type {Record<string, string>} */ ({ ms: "took", sha256: "sha256", crashIds: "crashes" });

/** `bytesFreed` → `bytes freed`. @param {string} key */
const words = (key) => NAMES[key] ?? key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();

/** @param {number} n */
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/**
 * One value as text: lists joined, objects as `key value` pairs, durations and sizes with units,
 * a SHA-256 shortened.
 * @param {string} key
 * @param {unknown} v
 * @returns {string}
 */
export function valueText(key, v) {
  if (Array.isArray(v)) return v.map((x) => valueText(key, x)).join(", ");
  if (v !== null && typeof v === "object")
    return Object.entries(v)
      .filter(([, x]) => x !== null && x !== undefined && x !== "")
      .map(([k, x]) => `${words(k)} ${valueText(k, x)}`)
      .join(", ");
  if (typeof v === "number" && (key === "ms" || /Ms$/.test(key))) return `${Math.round(v)} ms`;
  if (typeof v === "number" && /bytes/i.test(key)) return bytes(v);
  if (typeof v === "string" && key === "sha256") return v.slice(0, 12);
  return String(v);
}

/** @param {UiEvent} e */
export function eventText(e) {
  const extra = Object.entries(e)
    .filter(
      ([k, v]) => !PLACED.has(k) && v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0),
    )
    .map(([k, v]) => `${words(k)} ${valueText(k, v)}`);
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

/** @param {UiEvent} e */
export function logItem(e) {
  return h(
    "li",
    { class: e.event === "crash" ? "crash" : undefined, "data-event": e.event },
    eventText(e),
    e.crashId ? [" ", h("a", { href: `#/crash/${encodeURIComponent(e.crashId)}` }, e.crashId)] : null,
  );
}

/** @param {UiEvent[]} events */
export function logList(events) {
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
