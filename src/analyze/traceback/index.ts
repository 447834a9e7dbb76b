export { detectGorootSrc, type GroupOptions, groupGoroutines, userFrame } from "./group.js";
export { findRecoveredHttpPanics } from "./http.js";
export { culpritOf, parseTraceback } from "./parse.js";
export { reportFromTraceback, type TracebackReportFields, toReportFrame } from "./toReport.js";
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
  TracebackKind,
} from "./types.js";
