export { gdbFailed, gdbNotFound, gdbTimeout } from "./errors.js";
export { analyzeCoreWithGdb, type GdbAnalysis, type GdbOptions, goroot } from "./gdbAnalysis.js";
export { gdbAnalysisToReport, readSourceContext } from "./gdbReport.js";
export { binaryUnderProcessName, interactiveGdbArgs, runtimeGdbScript } from "./interactive.js";
export type { GdbGoroutine, GdbThread, MemoryRow } from "./parseGdb.js";
