export * from "./binaries.js";
export * from "./bundle.js";
export * from "./compress.js";
export * from "./journal.js";
export * from "./layout.js";
export * from "./queries.js";
export * from "./retention.js";
export * from "./running.js";
