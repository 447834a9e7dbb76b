/**
 * createGoBuilder: runs `go build` with debug-friendly flags into the content-addressed store and
 * returns a BuildResult. Stripping flags are refused at config load; here the argv is assembled
 * once so every build of a session uses the same, inspectable command.
 */
import { readFileSync } from "node:fs";
import { open, rm, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import type { ResolvedBuildConfig } from "../config/index.js";
import { type BinaryIdentity, ELF_MAGIC, readBinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import { adoptBinary, ensureStore, type StoreLayout, sha256File } from "../store/index.js";
import { runCapture } from "../util/child.js";
import type { BuildResult, StoredBinary } from "./buildTypes.js";
import { formatDiagnostic, parseBuildOutput } from "./diagnostics.js";
import { type GoBuildPlan, OUTPUT, type StartedGoBuild, startGoBuild } from "./goBuildPlan.js";

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
  /** What every build of this builder runs. */
  readonly plan: GoBuildPlan;
  /**
   * Resolves as soon as go build has linked a program (exit 0, an ELF file): it can start from
   * `program` at once while it is hashed and identified; `store(after)` moves it into the store
   * once `after` settles. `onLinked` is called just before.
   */
  build(
    changedFiles?: readonly string[],
    hooks?: {
      /** go build succeeded and wrote a program (the path): called before it starts or is stored. */
      onLinked?: (linked: string) => void;
      /** A stored binary of an earlier build: when go build finds it up to date, it is the program. */
      seed?: string;
      /** A build of this builder's plan already running (cli/earlyBuild.ts): this build is it. */
      adopt?: StartedGoBuild;
    },
  ): Promise<BuildResult>;
}

const goNotFound = (go: string, cause: unknown) =>
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

  const plan: GoBuildPlan = {
    go: config.go,
    args: args(OUTPUT),
    cwd,
    env: { ...config.env },
    storeDir: resolve(storeDir),
    programName,
  };

  return {
    args,
    plan,
    async build(changedFiles = [], hooks = {}) {
      const layout = ensureStore(storeDir);
      // Under the program's own name, in a directory of its own: it may start from here (dev),
      // and /proc/PID/comm, ps and pgrep show that name from the first moment.
      const started =
        hooks.adopt ??
        (await startGoBuild(plan, join(layout.tmp, `build-${process.pid}-${++seq}`), {
          ...(hooks.seed ? { seed: hooks.seed } : {}),
          ...(opts.onOutput ? { onOutput: opts.onOutput } : {}),
        }));
      const { child, argv, seed } = started;
      const tmp = started.program;
      const work = dirname(tmp);
      const timer = setTimeout(() => void child.stop({ graceMs: 2000 }), opts.timeoutMs ?? 30 * 60_000);
      const end = await child.stopped.finally(() => clearTimeout(timer));
      const durationMs = Math.round(performance.now() - started.started);
      if (end.error && child.pid === undefined) throw goNotFound(config.go, end.error);
      const output = child.stderrTail.toString() + child.stdoutTail.toString();
      const common = { args: argv, durationMs, output, changedFiles: [...changedFiles] };

      if (end.exitCode !== 0) {
        // go build writes no output file on failure, but a killed link can leave a partial one.
        await rm(work, { recursive: true, force: true }).catch(() => {});
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

      // `go build -o` of a package that is not `main` writes an archive, not a program.
      if (!(await isElf(tmp))) {
        await rm(work, { recursive: true, force: true }).catch(() => {});
        return {
          ok: false,
          kind: "go",
          diagnostics: [],
          summary: `${config.package} is not a main package (no func main)${await mainPackageHint(config.go, cwd, config.package)}`,
          exitCode: 0,
          ...common,
        };
      }
      hooks.onLinked?.(tmp);
      if (seed && (await sameFile(seed, tmp))) {
        await rm(work, { recursive: true, force: true }).catch(() => {});
        const facts = readFacts(seed, identify, layout);
        facts.catch(() => {});
        return { ok: true, program: seed, store: () => stored(seed, facts), ...common };
      }
      const facts = readFacts(tmp, identify);
      facts.catch(() => {}); // seen by store(); a build nobody stores must not crash the process
      return {
        ok: true,
        program: tmp,
        store: (after = Promise.resolve()) => store(layout, tmp, facts, after, programName),
        ...common,
      };
    },
  };
}

/**
 * The hash and the identity, side by side, read once from the linked file; a file already in the
 * store is named by its hash (stored binaries are read-only, written once under that name).
 */
async function readFacts(
  path: string,
  identify: (path: string) => Promise<BinaryIdentity>,
  layout?: StoreLayout,
) {
  // binaries/<sha256>/<name>, or binaries/<sha256> in an older store.
  const isSha = (n: string) => /^[0-9a-f]{64}$/.test(n);
  const dir = dirname(path);
  const known = !layout
    ? null
    : dirname(dir) === layout.binaries && isSha(basename(dir))
      ? basename(dir)
      : dir === layout.binaries && isSha(basename(path))
        ? basename(path)
        : null;
  const [sha256, identity] = await Promise.all([known ?? sha256File(path), identify(path).catch(() => null)]);
  return { sha256, identity };
}

type Facts = Awaited<ReturnType<typeof readFacts>>;

const fromFacts = ({ sha256, identity }: Facts) => ({
  sha256,
  identity,
  goBuildId: identity?.goBuildId ?? null,
  gnuBuildId: identity?.gnuBuildId ?? null,
});

/** An unchanged build: the seed, already stored. */
async function stored(path: string, facts: Promise<Facts>): Promise<StoredBinary> {
  return { ...fromFacts(await facts), binaryPath: path, reused: true };
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a).catch(() => null), stat(b).catch(() => null)]);
  return x !== null && y !== null && x.ino === y.ino && x.dev === y.dev;
}

/**
 * Move the linked program into the store by SHA-256, once `after` settles: a program started from
 * `tmp` must have been exec'd first (a rename racing the spawn would make it fail with ENOENT).
 * Rename keeps the inode, so /proc/PID/exe then names the stored copy, what retention and
 * leftover-stopping look for (the program's argv[0] still names `tmp`).
 */
async function store(
  layout: StoreLayout,
  tmp: string,
  facts: Promise<{ sha256: string; identity: BinaryIdentity | null }>,
  after: Promise<unknown>,
  name: string,
): Promise<StoredBinary> {
  const [{ sha256, identity }] = await Promise.all([facts, after.catch(() => {})]);
  const base = {
    sha256,
    identity,
    goBuildId: identity?.goBuildId ?? null,
    gnuBuildId: identity?.gnuBuildId ?? null,
  };
  try {
    const adopted = await adoptBinary(layout, tmp, name, sha256);
    await rm(dirname(tmp), { recursive: true, force: true }).catch(() => {});
    return { ...base, binaryPath: adopted.path, reused: adopted.reused };
  } catch (e) {
    // A store that refuses the file (full disk) must not lose the hash: the program may be running.
    return { ...base, binaryPath: tmp, reused: false, storeError: e as Error };
  }
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
function goProgramName(root: string, pkg: string): string {
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
