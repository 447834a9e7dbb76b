export { type AnalyzeOptions, reportFromTracebackOnly } from "./analyzeCrash.js";
export { describeSnapshot } from "./describeSnapshot.js";
export { describeHang } from "./hang.js";
export { analyzeWithMap, readCoreFacts } from "./reanalyze.js";
export { redactReport } from "./redactReport.js";
