export { type Catalog, type FleetCrash, type FleetIssue, issueStatus, openCatalog } from "./catalog.js";
export { type Check, checkDeployment } from "./check.js";
export { createFleetView } from "./dashboard.js";
export { fleetBacklog, fleetNotConfigured } from "./errors.js";
export { finishFleetOutbox, startFleetOutbox } from "./hook.js";
export { DEFAULT_FLEET_DIR, fleetDown, fleetUp, type LocalFleet } from "./local.js";
export {
  backfill,
  connectFleet,
  type FleetConnection,
  type Outbox,
  pushPass,
  retryDelay,
  startOutbox,
} from "./outbox.js";
export { type Pulled, pullCrash } from "./pull.js";
export { reindex } from "./reindex.js";
export { type FleetSettings, loadFleetFile, loadFleetSettings, resolveFleetSettings } from "./settings.js";
