/**
 * .air.toml import: maps what has a hotdump equivalent and warns, with the line, about each key
 * that does not. Key names and defaults follow air-verse/air runner/config.go (cfgBuild, Config):
 * air's `delay` is milliseconds slept before each build (default 1000), `kill_delay` is a
 * time.Duration where a bare integer means milliseconds, and `full_bin` replaces `bin`.
 */
import { parse } from "smol-toml";
import type { ConfigWarning } from "./configTypes.js";
import { parseDuration } from "./duration.js";
import { locateKey } from "./keyPositions.js";
import { shellWords, splitEnvPrefix } from "./shellwords.js";
import type { RawConfig } from "./tomlSchema.js";

export interface AirImport {
  config: RawConfig;
  warnings: ConfigWarning[];
  /**
   * Which air key each hotdump key came from ("run.stop_timeout" → ["build", "kill_delay"]): a
   * mistake in a value is reported with air's own key and its line, the names the user wrote.
   */
  origins: Map<string, string[]>;
}

/** go build flags that take a separate value word (`-o out`), from `go help build`. */
const VALUE_FLAGS = new Set([
  "-o",
  "-p",
  "-C",
  "-gcflags",
  "-ldflags",
  "-asmflags",
  "-gccgoflags",
  "-tags",
  "-mod",
  "-modfile",
  "-overlay",
  "-pgo",
  "-pkgdir",
  "-toolexec",
  "-installsuffix",
  "-buildmode",
  "-compiler",
  "-covermode",
  "-coverpkg",
]);

/** Keys air has that hotdump deliberately does differently, with the reason shown to the user. */
const UNMAPPED: Record<string, string> = {
  "build.pre_cmd": "hotdump runs no shell commands around builds; run them yourself or in go:generate",
  "build.post_cmd": "hotdump runs no shell commands around builds",
  "build.log": "build errors are shown by hotdump and kept with each generation, not in a log file",
  "build.exclude_unchanged": "not supported: a build runs on any change event",
  "build.stop_on_error": "hotdump always keeps the previous generation running when a build fails",
  "build.rerun": "not supported: a crashed generation is kept as a crash bundle, not restarted in a loop",
  "build.rerun_delay": "not supported (see build.rerun)",
  log: "hotdump's log format is its own",
  color: "hotdump's colours are its own (NO_COLOR is honoured)",
  screen: "hotdump does not clear the screen",
  misc: "the store under .hotdump/ is kept; `hotdump gc` trims it",
  proxy: "no browser live-reload proxy; use [supervise] listen for zero-downtime sockets",
};

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v);
const strList = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;

export function importAirConfig(text: string, fileLabel: string): AirImport {
  // Syntax errors are thrown by the caller's parse step (same reporting as hotdump.toml).
  const doc = parse(text) as Table;
  const warnings: ConfigWarning[] = [];
  const where = (path: string[]) => {
    const pos = locateKey(text, path);
    return pos ? `${fileLabel}:${pos.line}:${pos.column}` : fileLabel;
  };
  const warn = (path: string[], message: string) =>
    warnings.push({ where: where(path), key: path.join("."), message });

  const out: RawConfig = {};
  const build: NonNullable<RawConfig["build"]> = {};
  const watch: NonNullable<RawConfig["watch"]> = {};
  const run: NonNullable<RawConfig["run"]> = {};
  const excludeDir = new Set<string>();
  const args: string[] = [];
  const origins = new Map<string, string[]>();
  const from = (hotdumpKey: string, airPath: string[]) => {
    if (!origins.has(hotdumpKey)) origins.set(hotdumpKey, airPath);
  };
  const m: Mapping = { watch, run, excludeDir, from, warn };

  for (const [key, value] of Object.entries(doc)) {
    if (key === "root" && typeof value === "string") {
      out.root = value;
      from("root", ["root"]);
    } else if ((key === "tmp_dir" || key === "testdata_dir") && typeof value === "string")
      excludeDir.add(clean(value));
    else if (key === "build" && isTable(value)) continue;
    else if (isInert(value)) continue;
    else if (UNMAPPED[key]) warn([key], `[${key}] is ignored: ${UNMAPPED[key]}`);
    else warn([key], `"${key}" is not an air key hotdump knows; ignored`);
  }

  const b = isTable(doc.build) ? doc.build : {};
  // `air init` writes full_bin = "": no full_bin, bin is used (air's Config.preprocess does the same).
  const hasFullBin = typeof b.full_bin === "string" && b.full_bin.trim() !== "";
  let binArgs: string[] | undefined;
  // The built binary's path as air knows it (cmd's -o, else bin): a full_bin word naming it
  // after another command (`./scripts/dev.sh ./tmp/main`) is a wrapper around it.
  const builtBin =
    outputOf(typeof b.cmd === "string" ? b.cmd : "") ?? (typeof b.bin === "string" ? b.bin : null);
  for (const [key, value] of Object.entries(b)) {
    const path = ["build", key];
    switch (key) {
      case "cmd":
        for (const k of ["env", "gcflags", "tags", "ldflags", "flags", "package"]) from(`build.${k}`, path);
        mapCmd(String(value), build, (m) => warn(path, m));
        break;
      case "bin":
      case "full_bin":
      case "entrypoint": {
        // full_bin wins over bin in air (Config.preprocess); entrypoint wins over bin too.
        if (key === "bin" && (hasFullBin || (b.entrypoint !== undefined && !isInert(b.entrypoint)))) break;
        if (isInert(value)) break;
        binArgs = mapBinCommand(m, path, value, builtBin) ?? binArgs;
        break;
      }
      case "args_bin": {
        from("run.args", path);
        const list = strList(value);
        if (list) args.push(...list);
        else warn(path, "args_bin is not a list of strings; ignored");
        break;
      }
      case "send_interrupt":
        from("run.stop_signal", path);
        if (value === true) run.stop_signal = "SIGINT";
        else
          warn(
            path,
            "air kills at once without send_interrupt; hotdump sends SIGTERM and waits [run] stop_timeout",
          );
        break;
      case "kill_delay": {
        // go-toml decodes an integer into time.Duration as nanoseconds; air's killDelay() then
        // treats anything under 1ms as a millisecond count. A string is a Go duration.
        // Zero ("0s", what `air init` writes) is air's "no wait before the kill": hotdump keeps its
        // own grace period, since a service killed at once loses its in-flight requests.
        const d = typeof value === "number" ? `${value}ms` : typeof value === "string" ? value : undefined;
        if (d !== undefined && parseDuration(d) !== 0) {
          run.stop_timeout = d;
          from("run.stop_timeout", path);
        }
        break;
      }
      default:
        if (mapWatchKey(m, path, value) || isInert(value)) break;
        warn(
          path,
          UNMAPPED[`build.${key}`]
            ? `build.${key} is ignored: ${UNMAPPED[`build.${key}`]}`
            : `build.${key} has no hotdump equivalent; ignored`,
        );
    }
  }

  if (binArgs) args.unshift(...binArgs);
  if (args.length > 0) run.args = args;
  if (excludeDir.size > 0) {
    // Keep hotdump's own defaults (.git, .hotdump...) alongside air's list.
    watch.exclude_dir = [
      ...new Set([".git", "vendor", "node_modules", ".hotdump", "testdata", ...excludeDir]),
    ];
  }
  if (Object.keys(build).length > 0) out.build = build;
  if (Object.keys(watch).length > 0) out.watch = watch;
  if (Object.keys(run).length > 0) out.run = run;
  if (excludeDir.size > 0) from("watch.exclude_dir", ["build", "exclude_dir"]);
  for (const k of ["include", "exclude"]) from(`watch.${k}`, ["build", `${k}_file`]);
  from("watch.follow_symlinks", ["build", "follow_symlink"]);
  from("watch.poll", ["build", "poll"]);
  return { config: out, warnings, origins };
}

/** Where an import puts what it maps, and how it says where each key came from. */
interface Mapping {
  watch: NonNullable<RawConfig["watch"]>;
  run: NonNullable<RawConfig["run"]>;
  excludeDir: Set<string>;
  from: (hotdumpKey: string, airPath: string[]) => void;
  warn: (path: string[], message: string) => void;
}

/**
 * bin, full_bin or entrypoint: the command that starts the built binary. Returns the arguments
 * after the binary (undefined: unreadable, said).
 */
function mapBinCommand(
  m: Mapping,
  path: string[],
  value: unknown,
  builtBin: string | null,
): string[] | undefined {
  const words = Array.isArray(value) ? strList(value) : shellWords(String(value));
  if (!words || words.length === 0) {
    m.warn(path, `cannot read "${String(value)}" as a plain command; set [run] args and env yourself`);
    return undefined;
  }
  const { env, rest } = splitEnvPrefix(words);
  if (Object.keys(env).length > 0) {
    m.run.env = { ...m.run.env, ...env };
    m.from("run.env", path);
  }
  m.from("run.args", path);
  m.from("run.command", path);
  const at = builtBin ? rest.findIndex((w, i) => i > 0 && clean(w) === clean(builtBin)) : -1;
  if (at > 0 && clean(rest[0] ?? "") !== clean(builtBin ?? "")) {
    // air runs full_bin as one command line, args_bin after it: [run] command does the same.
    m.run.command = rest.map((w, i) => (i === at ? "{bin}" : w));
    const dir = clean(builtBin ?? "")
      .split("/")
      .slice(0, -1)
      .join("/");
    if (dir && dir !== ".") m.excludeDir.add(dir);
    return [];
  }
  const [bin, ...extra] = rest;
  if (bin) {
    const dir = clean(bin).split("/").slice(0, -1).join("/");
    if (dir && dir !== ".") m.excludeDir.add(dir);
  }
  return extra;
}

/** The [build] keys that are about watching; false for any other key. */
function mapWatchKey(m: Mapping, path: string[], value: unknown): boolean {
  switch (path[1]) {
    case "include_ext": {
      const list = strList(value);
      if (list) m.watch.include_ext = list.map((e) => e.replace(/^\./, ""));
      m.from("watch.include_ext", path);
      return true;
    }
    case "exclude_dir":
      for (const d of strList(value) ?? []) m.excludeDir.add(clean(d));
      return true;
    case "include_dir": {
      const list = strList(value) ?? [];
      if (list.length > 0) {
        m.warn(path, "hotdump watches the whole root; include_dir is mapped to [watch] include globs");
        m.watch.include = [...(m.watch.include ?? []), ...list.map((d) => `${clean(d)}/**`)];
      }
      return true;
    }
    case "include_file":
      if ((strList(value) ?? []).length > 0)
        m.watch.include = [...(m.watch.include ?? []), ...(strList(value) ?? []).map(clean)];
      return true;
    case "exclude_file":
      if ((strList(value) ?? []).length > 0)
        m.watch.exclude = [...(m.watch.exclude ?? []), ...(strList(value) ?? []).map(clean)];
      return true;
    case "exclude_regex":
      m.from("watch.exclude_regex", path);
      if ((strList(value) ?? []).length > 0) m.watch.exclude_regex = strList(value);
      return true;
    case "follow_symlink":
      if (typeof value === "boolean") m.watch.follow_symlinks = value;
      return true;
    case "poll":
      if (typeof value === "boolean") m.watch.poll = value;
      return true;
    case "poll_interval":
      m.from("watch.poll_interval", path);
      // air: integer milliseconds; 0 means its minimum of 500 ms.
      if (typeof value === "number" && value > 0) m.watch.poll_interval = `${value}ms`;
      return true;
    case "delay":
      // air sleeps `delay` ms before each build; hotdump's trailing debounce plays that part.
      if (typeof value === "number" && value >= 0) m.watch.debounce = `${value}ms`;
      m.from("watch.debounce", path);
      return true;
    default:
      return false;
  }
}

/** Values that switch nothing on (false, 0, "", [], a table of those): no warning needed. */
function isInert(v: unknown): boolean {
  if (v === false || v === 0 || v === "" || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isTable(v)) return Object.values(v).every(isInert);
  return false;
}

function clean(p: string): string {
  return p.replace(/^\.\//, "").replace(/\/+$/, "") || ".";
}

/** The value of -o in a `go build` command line, if any. */
function outputOf(cmd: string): string | null {
  const words = shellWords(cmd) ?? [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w === "-o" || w === "--o") return words[i + 1] ?? null;
    if (/^--?o=/.test(w)) return w.slice(w.indexOf("=") + 1);
  }
  return null;
}

/** `go build -ldflags "-X main.v=1" -o ./tmp/main ./cmd/api` → package, flags, ldflags, env. */
function mapCmd(cmd: string, build: NonNullable<RawConfig["build"]>, warn: (m: string) => void): void {
  const words = shellWords(cmd);
  const fallback = `cmd "${cmd}" is not a plain \`go build\`; hotdump runs go build itself: set [build] package and flags`;
  if (!words) {
    warn(fallback);
    return;
  }
  const { env, rest } = splitEnvPrefix(words);
  if (rest[0] !== "go" || rest[1] !== "build") {
    warn(fallback);
    return;
  }
  if (Object.keys(env).length > 0) build.env = env;
  const flags: string[] = [];
  const pkgs: string[] = [];
  for (let i = 2; i < rest.length; i++) {
    const w = rest[i] as string;
    if (!w.startsWith("-")) {
      pkgs.push(w);
      continue;
    }
    const name = w.replace(/^--/, "-").split("=")[0] as string;
    const value = w.includes("=")
      ? w.slice(w.indexOf("=") + 1)
      : VALUE_FLAGS.has(name)
        ? (rest[++i] ?? "")
        : undefined;
    if (name === "-o") continue;
    if (name === "-gcflags") build.gcflags = value ?? "";
    else if (name === "-tags") build.tags = (value ?? "").split(/[,\s]+/).filter(Boolean);
    else if (name === "-ldflags") {
      const kept = (value ?? "").split(/\s+/).filter((t) => t && !/^-(s|w)$/.test(t));
      if (kept.length !== (value ?? "").split(/\s+/).filter(Boolean).length)
        warn("dropped -s/-w from ldflags: a stripped binary cannot be analysed after a crash");
      if (kept.length > 0) build.ldflags = kept.join(" ");
    } else flags.push(value === undefined ? w : `${name}=${value}`);
  }
  if (flags.length > 0) build.flags = flags;
  if (pkgs.length > 1) warn(`cmd builds several packages (${pkgs.join(" ")}); hotdump builds the first`);
  if (pkgs[0]) build.package = pkgs[0];
}
