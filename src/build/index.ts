export { buildAhead } from "./buildAhead.js";
export type { BuildFailure, BuildResult, BuildSuccess, StoredBinary } from "./buildTypes.js";
export {
  type BuildDiagnostic,
  formatDiagnostic,
  type ParsedBuildOutput,
  parseBuildOutput,
} from "./diagnostics.js";
export {
  createGoBuilder,
  type GoBuilder,
  type GoBuilderOptions,
} from "./goBuilder.js";
export { type GoBuildPlan, type StartedGoBuild, samePlan } from "./goBuildPlan.js";
export { startPlanPath, writeStartPlan } from "./planCache.js";
export { type BuildQueue, type BuildQueueOptions, createBuildQueue } from "./queue.js";
