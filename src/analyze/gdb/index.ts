export { analyzeCoreWithGdb, type GdbAnalysis, type GdbOptions, gdbArgs, goroot } from "./analyze.js";
export { gdbFailed, gdbNotFound, gdbTimeout } from "./errors.js";
export { binaryUnderProcessName, interactiveGdbArgs, runtimeGdbScript } from "./interactive.js";
export type { GdbGoroutine, GdbThread, MemoryRow } from "./parse.js";
export { gdbAnalysisToReport, readSourceContext } from "./toReport.js";
