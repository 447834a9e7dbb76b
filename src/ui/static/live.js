// Live updates: one EventSource for journal events, bundle changes and the service's output.
import { setStatus } from "./dom.js";
import { LOG_LINES, logItem } from "./events.js";
import { state } from "./state.js";

/** @typedef {import("./types.js").UiEvent} UiEvent */
/** @typedef {import("./types.js").AppLine} AppLine */

const APP_LINES = 200;

/** The service's output as plain text (textContent: a log line is never markup). */
export function appLogText() {
  return state.appLines.map((l) => `[gen ${l.generation}] ${l.text}`).join("\n");
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let refreshTimer;

/**
 * Subscribe once; `refresh` redraws what the journal or the bundles changed (debounced 150 ms).
 * A page the server cut off (it stopped reading) reconnects by itself with Last-Event-ID.
 * @param {number} since
 * @param {() => void} refresh
 */
export function connect(since, refresh) {
  if (state.source) return;
  state.lastEventId = since;
  const schedule = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 150);
  };
  const es = new EventSource(`/api/events?since=${encodeURIComponent(since)}`);
  state.source = es;
  es.addEventListener("open", () => setStatus("live", true));
  es.addEventListener("error", () => setStatus("reconnecting…"));
  es.addEventListener("journal", (m) => {
    const e = /** @type {UiEvent} */ (JSON.parse(m.data));
    if (e.id <= state.lastEventId) return;
    state.lastEventId = e.id;
    const log = document.getElementById("log");
    if (log) {
      const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
      log.append(logItem(e));
      while (log.children.length > LOG_LINES) log.firstElementChild?.remove();
      if (stick) log.scrollTop = log.scrollHeight;
    }
    schedule();
  });
  es.addEventListener("bundles", schedule);
  es.addEventListener("app", (m) => {
    const l = /** @type {AppLine} */ (JSON.parse(m.data));
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
