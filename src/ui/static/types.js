// The shapes the dashboard reads, named once: the report contract and the server's API values.
// Types only (JSDoc for tsc's checkJs: tsconfig.ui.json); nothing here runs.

/** @typedef {import("../../contracts/reportModel.js").Report} Report */
/** @typedef {import("../../contracts/reportModel.js").Frame} Frame */
/** @typedef {import("../../contracts/reportModel.js").Variable} Variable */
/** @typedef {import("../../contracts/reportModel.js").Location} Location */
/** @typedef {import("../../contracts/reportModel.js").RaceAccess} RaceAccess */
/** @typedef {import("../data.js").Overview} Overview */
/** @typedef {import("../data.js").CrashDetail} CrashDetail */
/** @typedef {import("../fleetView.js").FleetOverview} FleetOverview */
/** @typedef {import("../fleetView.js").FleetViewIssue} FleetIssue */
/** @typedef {import("../data.js").UiEvent} UiEvent */
/** @typedef {{ generation: number, stream: "stdout" | "stderr", text: string, ts: string }} AppLine */

export {};
