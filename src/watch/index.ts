export { type Batcher, createBatcher } from "./debounce.js";
export { watchError } from "./errors.js";
export { createWatchFilter, type WatchFilter, type WatchFilterOptions } from "./filter.js";
export { createGitignore, type IgnoreSource } from "./gitignore.js";
export { compileGlob } from "./glob.js";
export { createWatcher, type Watcher, type WatcherOptions } from "./watcher.js";
