/**
 * Source for the frames people read (user code, C code), found on this machine even when the
 * build's paths are not: `-trimpath` (goreleaser's default) prints module files as
 * `example.com/tp/main.go`, the standard library as `sync/mutex.go` and dependencies as
 * `golang.org/x/net@v0.1.0/http2/server.go` (cmd/go: -trimpath rewrites the module root to the
 * module path and GOROOT to nothing, measured with go1.26.8). Those map to the local module (the
 * go.mod whose `module` line is the binary's main module path, found from the crashed process's
 * working directory up), to `go env GOROOT`/src and to `go env GOMODCACHE`.
 *
 * A file changed after the build shows lines that were not run: Go keeps no source hash in the
 * binary (its DWARF line table has no MD5 entries), so the test is the file's mtime against the
 * binary's.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import type { Frame, Location, Report } from "../contracts/index.js";
import { runCapture } from "../util/child.js";

interface SourceMap {
  modulePath: string | null;
  /** The directory of the local go.mod declaring modulePath. */
  moduleDir: string | null;
  goroot: string | null;
  gomodcache: string | null;
  /** When the binary was built (its mtime): a source file newer than this has changed since. */
  builtAt: Date | null;
}

let goEnv: Promise<{ GOROOT?: string; GOMODCACHE?: string }> | undefined;
/** `go env` once per process (about 20 ms; a machine without Go gets no mapping). */
function localGoEnv(): Promise<{ GOROOT?: string; GOMODCACHE?: string }> {
  goEnv ??= runCapture("go", ["env", "-json", "GOROOT", "GOMODCACHE"], { timeoutMs: 10_000 })
    .then((r) =>
      r.end.exitCode === 0 ? (JSON.parse(r.stdout) as { GOROOT?: string; GOMODCACHE?: string }) : {},
    )
    .catch(() => ({}));
  return goEnv;
}

/** The go.mod declaring `modulePath`, from `start` up to the root. */
function findModuleDir(start: string | undefined, modulePath: string | null): string | null {
  if (!start || !modulePath) return null;
  for (let dir = start; ; dir = dirname(dir)) {
    const gomod = join(dir, "go.mod");
    if (existsSync(gomod)) {
      try {
        const m = /^module\s+"?([^\s"]+)"?/m.exec(readFileSync(gomod, "utf8"));
        if (m?.[1] === modulePath) return dir;
      } catch {
        // unreadable go.mod: keep looking up
      }
    }
    if (dirname(dir) === dir) return null;
  }
}

export async function resolveSourceMap(o: {
  modulePath?: string | null;
  cwd?: string;
  binary?: string;
  /**
   * The files the map will be asked about: when every one is an absolute path (a build without
   * -trimpath) `go env` is not run, a process start saved on every analysis.
   */
  files?: readonly string[];
}): Promise<SourceMap> {
  const env = o.files?.every((f) => !f || f === "?" || isAbsolute(f)) ? {} : await localGoEnv();
  let builtAt: Date | null = null;
  try {
    if (o.binary) builtAt = statSync(o.binary).mtime;
  } catch {
    builtAt = null;
  }
  return {
    modulePath: o.modulePath ?? null,
    moduleDir: findModuleDir(o.cwd, o.modulePath ?? null),
    goroot: env.GOROOT || null,
    gomodcache: env.GOMODCACHE || null,
    builtAt,
  };
}

/** Where `file` (as the binary names it) is on this machine; null when nowhere. */
function localSourcePath(file: string, m: SourceMap): string | null {
  if (!file || file === "?") return null;
  if (isAbsolute(file)) return existsSync(file) ? file : null;
  const candidates: string[] = [];
  if (m.modulePath && m.moduleDir && file.startsWith(`${m.modulePath}/`))
    candidates.push(join(m.moduleDir, file.slice(m.modulePath.length + 1)));
  const first = file.split("/")[0] ?? "";
  if (first.includes("@") && m.gomodcache) candidates.push(join(m.gomodcache, file));
  if (!first.includes(".") && m.goroot) candidates.push(join(m.goroot, "src", file));
  return candidates.find((c) => existsSync(c)) ?? null;
}

/** Why the file may not be what was built, or undefined when it is not newer than the binary. */
function staleness(path: string, m: SourceMap): string | undefined {
  if (!m.builtAt) return undefined;
  try {
    const mtime = statSync(path).mtime;
    // 1 s of slack: filesystems with coarse timestamps and a build in the same second.
    if (mtime.getTime() > m.builtAt.getTime() + 1000)
      return `modified after the build (${mtime.toISOString()} > binary ${m.builtAt.toISOString()}): the lines shown may not be the ones that ran`;
  } catch {
    return undefined;
  }
  return undefined;
}

function readLines(path: string, cache: Map<string, string[] | null>): string[] | null {
  if (!cache.has(path)) {
    try {
      cache.set(path, readFileSync(path, "utf8").split("\n"));
    } catch {
      cache.set(path, null);
    }
  }
  return cache.get(path) ?? null;
}

/**
 * Source around each user and C frame of the crashing goroutine, from the local file when the
 * build's path is not one; the culprit and site carry `localFile`. Warns once per stale file.
 */
export function attachSources(report: Report, m: SourceMap, radius = 3): void {
  const cache = new Map<string, string[] | null>();
  const stale = new Set<string>();
  const frames: Frame[] = report.goroutine?.frames ?? [];
  for (const f of frames) {
    if (f.class !== "user" && f.class !== "c") continue;
    const path = localSourcePath(f.file, m);
    if (!path) continue;
    const all = readLines(path, cache);
    if (all && f.line >= 1 && f.line <= all.length) {
      const startLine = Math.max(1, f.line - radius);
      f.source = {
        startLine,
        lines: all.slice(startLine - 1, Math.min(all.length, f.line + radius)),
        ...(path !== f.file ? { path } : {}),
      };
      const why = staleness(path, m);
      if (why) {
        f.source.stale = why;
        stale.add(path);
      }
    }
  }
  const mapLoc = (l: Location | null | undefined) => {
    if (!l) return;
    const path = localSourcePath(l.file, m);
    if (path && path !== l.file) l.localFile = path;
  };
  mapLoc(report.culprit);
  mapLoc(report.site);
  for (const p of stale) report.warnings.push(`${p} was ${staleness(p, m)}`);
}
