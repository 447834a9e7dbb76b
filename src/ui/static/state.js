// What the page knows between renders.

/** @typedef {import("./types.js").Overview} Overview */
/** @typedef {import("./types.js").CrashDetail} CrashDetail */
/** @typedef {import("./types.js").AppLine} AppLine */

/**
 * @type {{
 *   overview: Overview | null,
 *   overviewAt: number,
 *   source: EventSource | null,
 *   lastEventId: number,
 *   route: { page: "overview" } | { page: "crash", id: string } | null,
 *   detail: CrashDetail | null,
 *   appLines: AppLine[],
 * }}
 */
export const state = {
  overview: null,
  overviewAt: 0,
  source: null,
  lastEventId: 0,
  route: null,
  detail: null,
  appLines: [],
};
