/**
 * createGoBuilder: runs `go build` with debug-friendly flags into the content-addressed store and
 * returns a BuildResult. Stripping flags are refused at config load; here the argv is assembled
 * once so every build of a session uses the same, inspectable command.
 */
import { readFileSync } from "node:fs";
import { open, unlink } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import type { ResolvedBuildConfig } from "../config/types.js";
import { type BinaryIdentity, ELF_MAGIC, readBinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import { adoptBinary, ensureStore } from "../store/index.js";
import { runCapture, startChild } from "../util/child.js";
import { formatDiagnostic, parseBuildOutput } from "./diagnostics.js";
import type { BuildResult } from "./types.js";

export interface GoBuilderOptions {
  /** Project root: go build's working directory. */
  cwd: string;
  config: ResolvedBuildConfig;
  storeDir: string;
  /** Reads the identity (build IDs, Go version, DWARF) of a stored binary (default: src/elf). */
  identify?: (path: string) => Promise<BinaryIdentity>;
  /** Live go build output, for the terminal. */
  onOutput?: (text: string) => void;
  /** Kill a build that runs longer (default 30 min: a cold cache on a big module is slow). */
  timeoutMs?: number;
}

export interface GoBuilder {
  /** The `go build` argv for an output path (exported for `--dry-run` style display and tests). */
  args(output: string): string[];
  /** `onLinked`: go build succeeded and wrote a program; called before it is hashed and stored. */
  build(
    changedFiles?: readonly string[],
    hooks?: { onLinked?: (linked: string) => void },
  ): Promise<BuildResult>;
}

export const goNotFound = (go: string, cause: unknown) =>
  new HotdumpError(
    "build",
    "E_GO_NOT_FOUND",
    `cannot run "${go}": install Go or set [build] go to its path`,
    { cause },
  );

export function createGoBuilder(opts: GoBuilderOptions): GoBuilder {
  const { cwd, config, storeDir } = opts;
  const identify = opts.identify ?? readBinaryIdentity;
  let seq = 0;
  const programName = goProgramName(cwd, config.package);

  const args = (output: string): string[] => [
    "build",
    ...(config.gcflags ? [`-gcflags=${config.gcflags}`] : []),
    ...(config.ldflags ? [`-ldflags=${config.ldflags}`] : []),
    ...(config.tags.length > 0 ? [`-tags=${config.tags.join(",")}`] : []),
    ...config.flags,
    "-o",
    output,
    config.package,
  ];

  return {
    args,
    async build(changedFiles = [], hooks = {}) {
      const layout = ensureStore(storeDir);
      const tmp = join(layout.tmp, `build-${process.pid}-${++seq}`);
      const argv = args(tmp);
      const started = performance.now();
      const child = startChild(config.go, argv, {
        cwd,
        env: { ...process.env, ...config.env },
        tailBytes: 256 * 1024,
        ...(opts.onOutput
          ? {
              onStdout: (c: Buffer) => opts.onOutput?.(c.toString("utf8")),
              onStderr: (c: Buffer) => opts.onOutput?.(c.toString("utf8")),
            }
          : {}),
      });
      const timer = setTimeout(() => void child.stop({ graceMs: 2000 }), opts.timeoutMs ?? 30 * 60_000);
      const end = await child.stopped.finally(() => clearTimeout(timer));
      const durationMs = Math.round(performance.now() - started);
      if (end.error && child.pid === undefined) throw goNotFound(config.go, end.error);
      const output = child.stderrTail.toString() + child.stdoutTail.toString();
      const common = { args: argv, durationMs, output, changedFiles: [...changedFiles] };

      if (end.exitCode !== 0) {
        // go build writes no output file on failure, but a killed link can leave a partial one.
        await unlink(tmp).catch(() => {});
        const { diagnostics, other } = parseBuildOutput(output, { cwd });
        const kind = end.killed ? "killed" : diagnostics.length > 0 ? "compile" : "go";
        const first = diagnostics[0];
        let summary =
          kind === "killed"
            ? `go build was stopped after ${Math.round(durationMs / 1000)}s`
            : first
              ? formatDiagnostic(first)
              : (other[0] ?? `go build exited with ${end.exitCode ?? end.signal}`);
        if (/^no Go files in /.test(summary))
          summary += await mainPackageHint(config.go, cwd, config.package);
        return { ok: false, kind, diagnostics, summary, exitCode: end.exitCode, ...common };
      }

      if (hooks.onLinked && (await isElf(tmp))) hooks.onLinked(tmp);
      // Hashing (to adopt it by SHA-256) and reading the identity run side by side: both are on
      // the path from a save to the new generation. The identity is read once here; the
      // supervisor and the crash bundle reuse it.
      const [stored, early] = await Promise.all([
        adoptBinary(layout, tmp, programName),
        identify(tmp).catch(() => null),
      ]);
      const identity = early ?? (await identify(stored.path).catch(() => null));
      // `go build -o` of a package that is not `main` writes an archive, not a program.
      if (identity && identity.type !== "exec" && identity.type !== "dyn") {
        if (!stored.reused) await unlink(stored.path).catch(() => {});
        return {
          ok: false,
          kind: "go",
          diagnostics: [],
          summary: `${config.package} is not a main package (no func main)${await mainPackageHint(config.go, cwd, config.package)}`,
          exitCode: 0,
          ...common,
        };
      }
      return {
        ok: true,
        binaryPath: stored.path,
        sha256: stored.sha256,
        reused: stored.reused,
        goBuildId: identity?.goBuildId ?? null,
        gnuBuildId: identity?.gnuBuildId ?? null,
        identity,
        ...common,
      };
    },
  };
}

/** An ELF file, not the archive `go build -o` writes for a package that is not main. */
async function isElf(path: string): Promise<boolean> {
  const fh = await open(path, "r").catch(() => null);
  if (!fh) return false;
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.equals(ELF_MAGIC);
  } finally {
    await fh.close();
  }
}

/** `: main packages here: ./cmd/api, ./cmd/worker (set [build] package in hotdump.toml)`. */
async function mainPackageHint(go: string, cwd: string, current: string): Promise<string> {
  const r = await runCapture(go, ["list", "-f", '{{if eq .Name "main"}}{{.Dir}}{{end}}', "./..."], {
    cwd,
    timeoutMs: 15_000,
  }).catch(() => null);
  const dirs = (r?.stdout ?? "")
    .split("\n")
    .filter(Boolean)
    .map((d) => `./${relative(cwd, d)}`.replace(/^\.\/$/, "."))
    .filter((d) => d !== current);
  if (dirs.length === 0) return "";
  const shown = dirs.slice(0, 4).join(", ") + (dirs.length > 4 ? ", …" : "");
  return `: main packages here: ${shown} (hotdump dev --package ${dirs[0]}, or package = "${dirs[0]}" under [build] in hotdump.toml)`;
}

/**
 * The name `go build` gives a main package's program: the last element of its import path (the
 * module path from go.mod, then the package's directory under it), skipping a major-version
 * suffix (`example.com/tool/v2` → `tool`), as cmd/go's DefaultExecName does. Without a readable
 * go.mod, the package's directory name.
 */
export function goProgramName(root: string, pkg: string): string {
  const dir = resolve(root, pkg);
  let path = basename(dir);
  try {
    const mod = /^module\s+"?([^\s"]+)"?/m.exec(readFileSync(join(root, "go.mod"), "utf8"))?.[1];
    const rel = relative(root, dir);
    if (mod && !rel.startsWith("..")) path = rel ? `${mod}/${rel}` : mod;
  } catch {
    // no go.mod at the root: the directory's name
  }
  const parts = path.split("/").filter(Boolean);
  const last = parts.at(-1) ?? "program";
  return /^v\d+$/.test(last) && parts.length > 1 ? (parts.at(-2) as string) : last;
}
