/** The configuration every stage reads: absolute paths, milliseconds, bytes, defaults applied. */
import type { RawConfig } from "./tomlSchema.js";

export interface ConfigWarning {
  /** Where the warning points, e.g. ".air.toml:14:1". */
  where: string;
  /** The key it is about, e.g. "build.rerun". */
  key: string;
  message: string;
}

export interface ResolvedBuildConfig {
  /** Package to build, relative to root ("." or "./cmd/api"). */
  package: string;
  /** Extra `go build` flags, passed as argv. */
  flags: string[];
  /** Value of -gcflags ("all=-N -l" by default: Delve reads locals only then); "" for none. */
  gcflags: string;
  /** Value of -ldflags; never contains -s or -w (a stripped binary cannot be analysed). */
  ldflags: string;
  tags: string[];
  /** Added to hotdump's environment for `go build`. */
  env: Record<string, string>;
  /** The go command ("go" from PATH by default). */
  go: string;
}

export interface ResolvedWatchConfig {
  /** Extensions without the dot ("go", "mod", "sum"); a file matches when its extension is listed. */
  includeExt: string[];
  /** Directory names (any depth) or root-relative directory paths never watched. */
  excludeDir: string[];
  /** Root-relative globs that are watched whatever their extension. */
  include: string[];
  /** Root-relative globs never watched. */
  exclude: string[];
  /** Regexes tested against the root-relative path (from .air.toml's exclude_regex). */
  excludeRegex: string[];
  /** Honour .gitignore files. */
  gitignore: boolean;
  debounceMs: number;
  poll: boolean;
  pollIntervalMs: number;
  followSymlinks: boolean;
}

export interface ResolvedRunConfig {
  /**
   * A wrapper that starts the built binary (air's full_bin): argv, "{bin}" replaced by the
   * generation's binary; null runs the binary itself.
   */
  command: string[] | null;
  /** argv after the binary: never passed through a shell. */
  args: string[];
  env: Record<string, string>;
  /** Absolute working directory of the service. */
  cwd: string;
  stopSignal: NodeJS.Signals;
  stopTimeoutMs: number;
}

export interface ResolvedSuperviseConfig {
  listen: string[];
  probe: string;
  readyTimeoutMs: number;
  drainMs: number;
  /** Null: the command's default (60 s in run, off in dev). */
  bakeMs: number | null;
  bakeHoldOld: boolean;
  liveness: ResolvedLiveness | null;
  /** WATCHDOG_USEC for the service (0: off). */
  watchdogMs: number;
}

interface ResolvedLiveness {
  probe: string;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
}

export interface ResolvedStoreConfig {
  /** Absolute store directory. */
  dir: string;
  maxUseBytes: number | null;
  keepFreeBytes: number | null;
}

export interface ResolvedConfig {
  /** Absolute project root: watched, and where `go build` runs. */
  root: string;
  /** The file read, or null when running on defaults. */
  configFile: string | null;
  source: "hotdump.toml" | ".air.toml" | "defaults";
  warnings: ConfigWarning[];
  build: ResolvedBuildConfig;
  watch: ResolvedWatchConfig;
  run: ResolvedRunConfig;
  supervise: ResolvedSuperviseConfig;
  store: ResolvedStoreConfig;
  /** [fleet] as written; src/fleet/settings.ts merges it with the environment. */
  fleet: NonNullable<RawConfig["fleet"]> | null;
}
