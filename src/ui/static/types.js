// The shapes the dashboard reads, named once: the report contract and the server's API values.
// Types only (JSDoc for tsc's checkJs: tsconfig.ui.json); nothing here runs.

/** @typedef {import("../../contracts/report.js").Report} Report */
/** @typedef {import("../../contracts/report.js").Frame} Frame */
/** @typedef {import("../../contracts/report.js").Variable} Variable */
/** @typedef {import("../../contracts/report.js").Location} Location */
/** @typedef {import("../../contracts/report.js").RaceAccess} RaceAccess */
/** @typedef {import("../data.js").Overview} Overview */
/** @typedef {import("../data.js").CrashDetail} CrashDetail */
/** @typedef {import("../fleet.js").FleetOverview} FleetOverview */
/** @typedef {import("../fleet.js").FleetViewIssue} FleetIssue */
/** @typedef {import("../data.js").UiEvent} UiEvent */
/** @typedef {{ generation: number, stream: "stdout" | "stderr", text: string, ts: string }} AppLine */

export {};
