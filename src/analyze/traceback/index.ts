/**
 * The Go traceback parser: `parseTraceback(stderr)` finds and parses the crash, `groupGoroutines`
 * folds big dumps, `findRecoveredHttpPanics` finds panics net/http survived, and
 * `reportFromTraceback` fills the report contract's traceback-derived fields.
 */
export { detectGorootSrc, groupGoroutines } from "./group.js";
export { findRecoveredHttpPanics } from "./http.js";
export { culpritOf, parseTraceback } from "./parse.js";
export { reportFromTraceback } from "./toReport.js";
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
} from "./types.js";
