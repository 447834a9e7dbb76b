/**
 * The Go traceback parser: `parseTraceback(stderr)` finds and parses the crash, `groupGoroutines`
 * folds big dumps, `findRecoveredHttpPanics` finds panics net/http survived, and
 * `reportFromTraceback` fills the report contract's traceback-derived fields.
 */

export { findRecoveredHttpPanics } from "./http.js";
export { culpritOf, parseTraceback } from "./parseTraceback.js";
export {
  findRecoveredPanics,
  type RecoveredPanic,
  recoveredStart,
  recoveredTraceback,
} from "./recoveredPanics.js";
export { detectGorootSrc, groupGoroutines } from "./tracebackGroups.js";
export { reportFromTraceback } from "./tracebackReport.js";
export type {
  CreatedBy,
  Goroutine,
  Location,
  PanicLink,
  RecoveredHttpPanic,
  SignalInfo,
  SystemStack,
  Traceback,
  TracebackFrame,
} from "./tracebackTypes.js";
