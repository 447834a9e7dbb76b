/**
 * The tracer (tracer/ at the top of the checkout, Go): where the kernel's core cannot reach hotdump
 * (a container whose core_pattern pipes to the host's handler, RLIMIT_CORE hard 0, or
 * `--capture tracer`), the service starts as `hotdump-tracer run ... -- <launch argv>`. That process
 * forks the tracer, lets it PTRACE_SEIZE it, then execs the service: the service keeps the pid
 * hotdump started and hotdump still gets its real wait status; the tracer writes each core-dumping
 * death's core to a temporary name, renames it, and appends one JSON line per event to the report.
 *
 * Node cannot be the tracer: libuv's SIGCHLD waitpid steals ptrace stops (FIELD-NOTES.md).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { HotdumpError } from "../errors.js";
import { runCapture } from "../util/child.js";
import type { CoreSearch } from "./locateCore.js";

/** The tracer's Go main package path: its process is hotdump's helper, never the service. */
export const TRACER_MAIN_PATH = "hotdump/tracer";
const TRACER_SOURCE = resolve(import.meta.dirname, "../../tracer");
const BINARY = join(TRACER_SOURCE, "bin", "hotdump-tracer");
/** The sources the binary was built from: a changed source (a git pull) rebuilds it. */
const STAMP = `${BINARY}.sha256`;

const tracerBuildFailed = (detail: string, cause?: unknown) =>
  new HotdumpError(
    "capture",
    "E_TRACER_BUILD",
    `cannot build the capture tracer from ${TRACER_SOURCE}: hotdump needs the Go toolchain for it (make setup builds it)`,
    { details: detail, ...(cause === undefined ? {} : { cause }) },
  );

function sourceHash(): string {
  const h = createHash("sha256");
  for (const f of readdirSync(TRACER_SOURCE)
    .filter((f) => f.endsWith(".go") || f === "go.mod")
    .sort())
    h.update(f).update(readFileSync(join(TRACER_SOURCE, f)));
  return h.digest("hex");
}

/**
 * The tracer binary, built with `go build` on first use (or when its Go sources changed), into
 * tracer/bin, or, where the checkout is not ours to write (a global npm install), into
 * ~/.cache/hotdump. The build goes to a temporary name and is renamed: two hotdumps starting at
 * once never run half a binary.
 */
export function tracerBinary(): string {
  if (!existsSync(join(TRACER_SOURCE, "go.mod"))) throw tracerBuildFailed(`no Go source in ${TRACER_SOURCE}`);
  const want = sourceHash();
  if (existsSync(BINARY) && existsSync(STAMP) && readFileSync(STAMP, "utf8").trim() === want) return BINARY;
  // Elsewhere, keyed by the sources' hash: a user's cache, else a temp directory of this user's
  // own (0700, checked: a binary planted by another user would run as this one).
  const name = `hotdump-tracer-${want.slice(0, 16)}`;
  const elsewhere = [
    join(homedir() || "/nonexistent", ".cache", "hotdump", name),
    join(tmpdir(), `${name}-${process.getuid?.() ?? 0}`),
  ];
  for (const dir of elsewhere)
    if (ownDir(dir) && existsSync(join(dir, "hotdump-tracer"))) return join(dir, "hotdump-tracer");
  const denied = (e: unknown) =>
    ["EACCES", "EROFS", "EPERM", "ENOENT"].includes((e as NodeJS.ErrnoException).code ?? "");
  try {
    buildInto(BINARY);
    writeFileSync(`${STAMP}.${process.pid}`, `${want}\n`);
    renameSync(`${STAMP}.${process.pid}`, STAMP);
    return BINARY;
  } catch (e) {
    if (!denied(e)) throw e;
  }
  for (const dir of elsewhere) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!ownDir(dir)) continue;
      buildInto(join(dir, "hotdump-tracer"));
      return join(dir, "hotdump-tracer");
    } catch (e) {
      if (!denied(e)) throw e;
    }
  }
  throw tracerBuildFailed(
    `no writable place for the binary: ${[join(TRACER_SOURCE, "bin"), ...elsewhere].join(", ")}`,
  );
}

function ownDir(dir: string): boolean {
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === (process.getuid?.() ?? st.uid) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function buildInto(out: string): void {
  mkdirSync(dirname(out), { recursive: true });
  accessSync(dirname(out), constants.W_OK); // EACCES: not ours to write (see tracerBinary)
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync("go", ["build", "-trimpath", "-o", tmp, "."], {
      cwd: TRACER_SOURCE,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" },
      timeout: 300_000,
    });
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EROFS" || code === "EPERM") throw e;
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? String(e);
    throw tracerBuildFailed(stderr.trim(), e);
  }
}

/** One line of the tracer's report (tracer/trace.go appendReport). */
export type TracerEvent =
  | { event: "traced"; pid: number; tracer: number; time: string }
  | { event: "untraced"; pid: number; reason: string; time: string }
  | {
      event: "core";
      pid: number;
      tid: number;
      signal: number;
      ms: number;
      path?: string;
      bytes?: number;
      error?: string;
      time: string;
    }
  | { event: "exit"; pid: number; status: number; exitCode?: number; signal?: number; time: string };

export interface TracerSession {
  /** Put before the launch argv (after any setpriv). */
  argv: string[];
  /** The snapshot socket (`hotdump snapshot` of a traced service). */
  control: string;
  events(): TracerEvent[];
  /** The core the tracer wrote for pid, as the capture stage takes a found core. */
  coreOf(pid: number): CoreSearch | null;
  /** Remove the session's directory (cores not yet stored go with it: call after capture). */
  dispose(): void;
}

/**
 * A tracer for one launch. dir: where its cores go (the store's, so storing them is a rename away
 * from the disk they are on); a fresh directory is made under it.
 */
export function createTracerSession(dir: string = tmpdir()): TracerSession {
  const bin = tracerBinary();
  mkdirSync(dir, { recursive: true });
  const own = mkdtempSync(join(dir, "tracer-"));
  const report = join(own, "events.jsonl");
  // A unix socket path is limited to 107 bytes: a deep store gets its socket in the temp dir.
  const control =
    join(own, "ctl").length < 100
      ? join(own, "ctl")
      : join(tmpdir(), `hotdump-tracer-${process.pid}-${Date.now()}`);
  const events = (): TracerEvent[] => {
    let text = "";
    try {
      text = readFileSync(report, "utf8");
    } catch {
      return [];
    }
    return text
      .split("\n")
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as TracerEvent];
        } catch {
          return []; // a line cut by a tracer killed mid-write
        }
      });
  };
  return {
    argv: [bin, "run", "--report", report, "--core-dir", own, "--control", control, "--"],
    control,
    events,
    coreOf(pid) {
      const evs = events().filter((e) => e.event === "core" && e.pid === pid);
      const last = evs.at(-1);
      if (last?.event !== "core") return null;
      if (!last.path)
        return {
          found: false,
          removable: false,
          reason: `the tracer could not write pid ${pid}'s core: ${last.error ?? "unknown error"}`,
          code: "E_TRACER_CORE",
        };
      return { found: true, path: last.path, removable: true };
    },
    dispose() {
      rmSync(own, { recursive: true, force: true });
      if (!control.startsWith(own)) rmSync(control, { force: true });
    },
  };
}

/**
 * The tracer's snapshot socket of a running pid, when hotdump's tracer traces it: only one tracer
 * may attach, so Delve cannot while it does. Read from /proc: TracerPid, then that process's argv.
 */
export function tracerControlOf(pid: number): string | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const tracer = Number(/^TracerPid:\s*(\d+)/m.exec(status)?.[1] ?? 0);
    if (!tracer) return null;
    const argv = readFileSync(`/proc/${tracer}/cmdline`, "utf8").split("\0");
    if (!argv[0]?.endsWith("hotdump-tracer") || argv[1] !== "attach") return null;
    const i = argv.indexOf("--control");
    return i > 0 ? (argv[i + 1] ?? null) : null;
  } catch {
    return null;
  }
}

/**
 * A core of a traced process without ending it (a snapshot), written by its tracer: the process
 * is stopped from the tracer's freeze to its thaw, which is the pause returned.
 */
export async function dumpThroughTracer(
  control: string,
  dest: string,
): Promise<{ path: string; bytes: number; pauseMs: number }> {
  return askTracer(["dump", control, dest], `the tracer did not answer on ${control}`);
}

/**
 * The core of a live process no tracer holds, written by the tracer itself (`hotdump-tracer
 * snapshot`): every thread seized and interrupted, /proc/PID/mem copied as for a crash, every
 * thread let go. It stops the service for the copy alone; Delve's dump stops it from the attach,
 * through Delve's load of the binary's DWARF, to the detach (bench/snapshot-pause.mjs).
 */
export async function snapshotThroughTracer(
  pid: number,
  dest: string,
): Promise<{ path: string; bytes: number; pauseMs: number }> {
  return askTracer(["snapshot", String(pid), dest], `the tracer could not snapshot pid ${pid}`);
}

async function askTracer(
  args: string[],
  failed: string,
): Promise<{ path: string; bytes: number; pauseMs: number }> {
  const r = await runCapture(tracerBinary(), args, { timeoutMs: 300_000 });
  let answer: { path: string; bytes: number; pauseMs: number; error: string | null } | null = null;
  try {
    answer = JSON.parse(r.stdout);
  } catch {
    answer = null;
  }
  if (answer?.error)
    throw new HotdumpError("capture", "E_TRACER_DUMP", `the tracer could not dump: ${answer.error}`);
  if (!answer || r.end.exitCode !== 0)
    throw new HotdumpError("capture", "E_TRACER_DUMP", failed, { details: r.stderr.trim() });
  return answer;
}
