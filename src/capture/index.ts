/** The capture stage: where the kernel put a crashed child's core, or why there is none. */
export { findApportOutputs } from "./apport.js";
export {
  type Captured,
  type CrashFacts,
  captureCrash,
  claimCore,
  type DumpingFacts,
  discardFirstReport,
  type FirstReportBundle,
} from "./capture.js";
export {
  applyCoreFix,
  type CoreFixResult,
  type DoctorCheck,
  doctorCoreChecks,
  needsCoreFix,
} from "./coreChecks.js";
export {
  type CoredumpctlOutcome,
  type CoredumpEntry,
  parseCoredumpctlList,
  retrieveFromCoredumpctl,
} from "./coredumpctl.js";
export {
  type CoreLimit,
  coreLimitOf,
  parseCoreLimit,
  type RlimitValue,
  raiseCoreLimitArgv,
} from "./coreLimit.js";
export {
  type CoreLocation,
  commFromExecPath,
  expectedCorePath,
  timesFit,
} from "./coreLocation.js";
export {
  CORE_PATTERN_MAX,
  classifyHandler,
  escapeComponent,
  isHotdumpHandler,
  type ParsedCorePattern,
  type PipeHandler,
  parseCorePattern,
  type Specifier,
  type Token,
  tokenize,
} from "./corePattern.js";
export { type CoreSettings, readCoreSettings } from "./coreSettings.js";
export {
  CORE_SIGNALS,
  type CoreFound,
  type FindCoreOptions,
  type FindCoreResult,
  findCore,
  type NoCore,
} from "./findCore.js";
export { type FirstReport, watchFirstReport } from "./firstReport.js";
export {
  fileOrphanedCores,
  HANDLER_DIR,
  type HandlerConfig,
  handlerPattern,
  installCoreHandler,
  installHandlerFiles,
  REGISTRY_DIR,
  uninstallCoreHandler,
} from "./handler.js";
export { prepareCapture } from "./launchCapture.js";
export { type CoreSearch, type LocateInput, locateCore } from "./locateCore.js";
export {
  type CaptureModeRequest,
  parseCaptureMode,
  type ResolvedCapture,
  resolveCaptureMode,
} from "./mode.js";
export {
  factsFromSnapshot,
  type ProcessSnapshot,
  snapshotAfterExec,
  snapshotProcess,
} from "./processFacts.js";
export type { RecoveredContext } from "./recoveredRecorder.js";
export { createRecoveredRecorder, type RecoveredRecorder } from "./recoveredRecorder.js";
export { dumpThroughTracer, snapshotThroughTracer, TRACER_MAIN_PATH, tracerControlOf } from "./tracer.js";
