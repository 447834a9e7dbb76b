/**
 * resolveConfig: validated hotdump.toml values → ResolvedConfig (absolute paths, milliseconds,
 * defaults). Checks that need the file system or several keys at once live here and report the
 * key's line like schema errors do.
 */
import { statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { ConfigWarning, ResolvedConfig } from "./configTypes.js";
import { parseDuration, parseSize } from "./duration.js";
import { type ConfigIssue, configInvalid } from "./errors.js";
import { normalizeSignal, type RawConfig } from "./tomlSchema.js";

const DEFAULTS = {
  package: ".",
  /** -N disables optimisation and -l inlining: without them Delve reports locals as unreadable. */
  gcflags: "all=-N -l",
  includeExt: ["go", "mod", "sum", "tmpl", "tpl", "gohtml"],
  excludeDir: [".git", "vendor", "node_modules", ".hotdump", "testdata"],
  debounce: "10ms",
  pollInterval: "500ms",
  stopSignal: "SIGTERM" as NodeJS.Signals,
  stopTimeout: "5s",
  probe: "alive:1s",
  readyTimeout: "60s",
  drain: "30s",
  storeDir: ".hotdump",
} as const;

/** Flags that belong to a dedicated key (or to hotdump itself, like -o). */
const OWNED_FLAGS: Record<string, string> = {
  "-o": "hotdump chooses the output path (the artifact store); remove it",
  "-gcflags": 'use [build] gcflags = "..."',
  "-ldflags": 'use [build] ldflags = "..."',
  "-tags": "use [build] tags = [...]",
};

export interface ResolveContext {
  /** Directory relative paths in the file are resolved against (the config file's directory). */
  baseDir: string;
  configFile: string | null;
  source: ResolvedConfig["source"];
  warnings: ConfigWarning[];
  /** "hotdump.toml:12:5" for a key path. */
  where(path: readonly PropertyKey[]): string;
  /** The key as the user wrote it (an imported .air.toml's own key); default: the path joined. */
  keyName?(path: readonly PropertyKey[]): string;
}

const ms = (s: string | number | undefined, dflt: string): number => {
  const v = parseDuration(String(s ?? dflt));
  // The schema already rejected bad durations; this only narrows the type.
  return v instanceof Error ? 0 : v;
};

export function resolveConfig(raw: RawConfig, ctx: ResolveContext): ResolvedConfig {
  const issues: ConfigIssue[] = [];
  const issue = (path: PropertyKey[], message: string) =>
    issues.push({ where: ctx.where(path), key: ctx.keyName?.(path) ?? path.map(String).join("."), message });

  const root = resolve(ctx.baseDir, raw.root ?? ".");
  if (!isDir(root)) issue(["root"], `root "${raw.root}" is not a directory (${root})`);

  const b = raw.build ?? {};
  const pkg = b.package ?? DEFAULTS.package;
  if (pkg.startsWith("-"))
    issue(["build", "package"], `package "${pkg}" looks like a flag; name a package path like "./cmd/api"`);
  const flags = b.flags ?? [];
  flags.forEach((f, i) => {
    const name = f.split("=")[0] as string;
    const owned = OWNED_FLAGS[name] ?? OWNED_FLAGS[name.replace(/^--/, "-")];
    if (owned) issue(["build", "flags", i], `flag "${f}" is not allowed here: ${owned}`);
    else if (!f.startsWith("-"))
      issue(["build", "flags", i], `"${f}" is not a flag; set the package with [build] package`);
  });
  const ldflags = b.ldflags ?? "";
  const stripping = ldflags.split(/\s+/).filter((t) => /^-(s|w)(=(true|1))?$/.test(t));
  if (stripping.length > 0)
    issue(
      ["build", "ldflags"],
      `ldflags ${stripping.join(" ")} strip the symbol table and DWARF, so crashes could not be analysed; remove them`,
    );

  const w = raw.watch ?? {};
  const r = raw.run ?? {};
  const runCwd = resolve(root, r.cwd ?? ".");
  if (r.command !== undefined) {
    if (r.command.length === 0 || !r.command[0])
      issue(["run", "command"], 'command is empty; remove it, or write e.g. ["./scripts/dev.sh", "{bin}"]');
    else if (!r.command.some((w) => w.includes("{bin}")))
      issue(
        ["run", "command"],
        'command never names the built binary: put "{bin}" where it goes, e.g. ["./scripts/dev.sh", "{bin}"]',
      );
  }
  if (r.cwd !== undefined && !isDir(runCwd))
    issue(["run", "cwd"], `run cwd "${r.cwd}" is not a directory (${runCwd})`);

  const s = raw.store ?? {};
  const storeText = s.dir ?? DEFAULTS.storeDir;
  const storeDir = resolve(root, storeText);
  const rel = relative(root, storeDir);
  if (!isAbsolute(storeText) && (rel === ".." || rel.startsWith(`..${sep}`)))
    issue(
      ["store", "dir"],
      `store dir "${storeText}" leaves the project; write an absolute path if you mean a store outside it`,
    );
  else if (isInside(root, storeDir))
    issue(
      ["store", "dir"],
      `store dir "${storeText}" would contain the project itself; choose a directory of its own like ".hotdump"`,
    );
  const size = (v: string | number | undefined) => {
    if (v === undefined) return null;
    const n = parseSize(v);
    return n instanceof Error ? null : n;
  };

  if (issues.length > 0) throw configInvalid(issues);

  return {
    root,
    configFile: ctx.configFile,
    source: ctx.source,
    warnings: ctx.warnings,
    build: {
      package: pkg,
      flags,
      gcflags: b.gcflags ?? DEFAULTS.gcflags,
      ldflags,
      tags: b.tags ?? [],
      env: b.env ?? {},
      go: b.go ?? "go",
    },
    watch: {
      includeExt: (w.include_ext ?? [...DEFAULTS.includeExt]).map((e) => e.replace(/^\./, "")),
      excludeDir: w.exclude_dir ?? [...DEFAULTS.excludeDir],
      include: w.include ?? [],
      exclude: w.exclude ?? [],
      excludeRegex: w.exclude_regex ?? [],
      gitignore: w.gitignore ?? true,
      debounceMs: ms(w.debounce, DEFAULTS.debounce),
      poll: w.poll ?? false,
      pollIntervalMs: ms(w.poll_interval, DEFAULTS.pollInterval),
      followSymlinks: w.follow_symlinks ?? false,
    },
    run: {
      command: r.command?.length ? r.command : null,
      args: r.args ?? [],
      env: r.env ?? {},
      cwd: runCwd,
      stopSignal: normalizeSignal(r.stop_signal ?? DEFAULTS.stopSignal) ?? DEFAULTS.stopSignal,
      stopTimeoutMs: ms(r.stop_timeout, DEFAULTS.stopTimeout),
    },
    supervise: {
      listen: raw.supervise?.listen ?? [],
      probe: raw.supervise?.probe ?? DEFAULTS.probe,
      readyTimeoutMs: ms(raw.supervise?.ready_timeout, DEFAULTS.readyTimeout),
      drainMs: ms(raw.supervise?.drain, DEFAULTS.drain),
      bakeMs: raw.supervise?.bake === undefined ? null : ms(raw.supervise.bake, "0s"),
      bakeHoldOld: raw.supervise?.bake_hold_old ?? false,
      watchdogMs: ms(raw.supervise?.watchdog, "0s"),
      liveness: raw.supervise?.liveness
        ? {
            probe: raw.supervise.liveness.probe,
            initialDelayMs: ms(raw.supervise.liveness.initial_delay, "0s"),
            periodMs: ms(raw.supervise.liveness.period, "10s"),
            timeoutMs: ms(raw.supervise.liveness.timeout, "1s"),
            failureThreshold: raw.supervise.liveness.failure_threshold ?? 3,
          }
        : null,
    },
    store: { dir: storeDir, maxUseBytes: size(s.max_use), keepFreeBytes: size(s.keep_free) },
    fleet: raw.fleet ?? null,
  };
}

/** True when `outer` is `inner` or one of its ancestors. */
function isInside(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
