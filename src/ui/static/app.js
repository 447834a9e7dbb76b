// The dashboard's front-end: plain ES modules, no framework, no network beyond its own server.
// This module routes and starts; dom.js builds elements (never innerHTML: every value from a
// report is attacker-controlled text), overview.js, timeline.js, events.js, crash.js and
// frames.js draw the pages, live.js keeps them current. Typed with JSDoc, checked by tsc
// (tsconfig.ui.json, run by `make typecheck`).
import { renderCrash } from "./crash.js";
import { h, mount } from "./dom.js";
import { connect } from "./live.js";
import { loadOverview, refreshOverviewParts, renderOverview } from "./overview.js";
import { state } from "./state.js";

/** @returns {{ page: "overview" } | { page: "crash", id: string }} */
function route() {
  const m = /^#\/crash\/([^/]+)$/.exec(location.hash);
  return m?.[1] ? { page: "crash", id: decodeURIComponent(m[1]) } : { page: "overview" };
}

async function render() {
  const r = route();
  state.route = r;
  try {
    if (r.page === "crash") {
      if (!state.overview) loadOverview().catch(() => {});
      await renderCrash(r.id);
    } else await renderOverview();
  } catch (e) {
    mount(
      h("h1", null, "Could not load this page"),
      h("p", { class: "bad" }, /** @type {Error} */ (e).message),
    );
  }
}

/** What a journal event or a bundle change redraws: the overview's parts, or a crash still being captured. */
function refresh() {
  if (state.route?.page === "overview") refreshOverviewParts().catch(() => {});
  else if (state.route?.page === "crash" && state.detail?.meta?.state === "capturing") render();
}

window.addEventListener("hashchange", () => {
  render().then(() => connect(state.overview?.lastEventId ?? 0, refresh));
});
render().then(() => connect(state.overview?.lastEventId ?? 0, refresh));
