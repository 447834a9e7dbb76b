export { type AirImport, importAirConfig } from "./air.js";
export type * from "./configTypes.js";
export { parseDuration, parseSize } from "./duration.js";
export { ConfigError, type ConfigIssue } from "./errors.js";
export { CONFIG_FILE, configFiles, type LoadConfigOptions, loadConfig } from "./load.js";
export {
  type ProbeMode,
  type ProbeSpec,
  type ProbeTiming,
  parseProbeSpec,
  probeSpecError,
  probeTimingDefaults,
} from "./probeSpec.js";
export { type ResolvedSupervise, resolveSuperviseFlags, type SuperviseFlags } from "./supervise.js";
export { renderInitConfig } from "./template.js";
export { checkListen, normalizeSignal, type RawConfig } from "./tomlSchema.js";
