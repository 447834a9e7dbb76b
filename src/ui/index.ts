/** The dashboard: `hotdump ui`, and embedded by `hotdump dev --ui` / `run --ui`. */

export { resolveUiToken, TOKEN_ENV } from "./auth.js";
export type { CrashDetail, Overview, UiEvent } from "./data.js";
export { uiTokenInArgv } from "./errors.js";
export type { FleetView } from "./fleetView.js";
export { createUiServer, DEFAULT_PORT, STATIC_DIR, type UiServer, type UiServerOptions } from "./server.js";
