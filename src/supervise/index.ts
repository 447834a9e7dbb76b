export { refuseIfRunning, sendControl } from "./control.js";
export { startMetrics } from "./metrics.js";
export {
  announceListening,
  handOffIfListening,
  openSupervisorStore,
  supervisorFlagOptions,
} from "./start.js";
export { createSupervisor } from "./supervisor.js";
