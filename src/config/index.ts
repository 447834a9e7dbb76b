export { type AirImport, importAirConfig } from "./air.js";
export { parseDuration, parseSize } from "./duration.js";
export { ConfigError, type ConfigIssue } from "./errors.js";
export { AIR_CONFIG_FILE, CONFIG_FILE, type LoadConfigOptions, loadConfig, parseToml } from "./load.js";
export { DEFAULTS } from "./resolve.js";
export { checkListen, checkProbe, normalizeSignal, type RawConfig } from "./schema.js";
export { renderInitConfig } from "./template.js";
export type * from "./types.js";
