/**
 * One wrapper for every child hotdump starts (go build, the service, dlv, gdb): its end is a value
 * (`stopped`), stopping is graceful then escalates, and stop() is idempotent.
 */
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { closeInheritedOnExec } from "./native.js";
import { Tail } from "./tail.js";
import { findOnPath } from "./which.js";

export interface ChildEnd {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** True when hotdump itself stopped it. */
  killed: boolean;
  /** spawn() failed (for example ENOENT). */
  error?: NodeJS.ErrnoException;
}

interface ChildOptions extends SpawnOptions {
  /** Bytes of stdout/stderr to keep (default 64 KiB each). */
  tailBytes?: number;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number | undefined;
  readonly stdoutTail: Tail;
  readonly stderrTail: Tail;
  readonly stopped: Promise<ChildEnd>;
  readonly exited: boolean;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; to the whole group when it leads one. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<ChildEnd>;
  signal(sig: NodeJS.Signals): void;
}

/** How long a child's pipes are read after it exited, while a descendant still holds them. */
const OUTPUT_DRAIN_MS = 1000;

export function startChild(command: string, args: readonly string[], options: ChildOptions = {}): Child {
  const { tailBytes = 64 * 1024, onStdout, onStderr, ...spawnOpts } = options;
  closeInheritedOnExec();
  const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...spawnOpts });
  const stdoutTail = new Tail(tailBytes);
  const stderrTail = new Tail(tailBytes);
  proc.stdout?.on("data", (c: Buffer) => {
    stdoutTail.push(c);
    onStdout?.(c);
  });
  proc.stderr?.on("data", (c: Buffer) => {
    stderrTail.push(c);
    onStderr?.(c);
  });
  let exited = false;
  let killedByUs = false;
  const groupLeader = Boolean(spawnOpts.detached);
  const stopped = new Promise<ChildEnd>((resolve) => {
    let spawnError: NodeJS.ErrnoException | undefined;
    proc.once("error", (e: NodeJS.ErrnoException) => {
      spawnError = e;
      if (proc.pid === undefined) {
        exited = true;
        resolve({ exitCode: null, signal: null, killed: false, error: e });
      }
    });
    // 'close' waits for stdio to drain, so the tails are complete when this resolves. But the end
    // of a process is its exit, not the end of its output: a descendant that inherited the pipes
    // (a `sleep 15` the service started before it panicked) would hold 'close' back for as long as
    // it lives (the crash was reported 15.6 s late). After the exit, what is in the pipes is read
    // for a bounded time, then they are closed from our side.
    proc.once("exit", () => {
      const drain = setTimeout(() => {
        proc.stdout?.destroy();
        proc.stderr?.destroy();
      }, OUTPUT_DRAIN_MS);
      drain.unref();
      proc.once("close", () => clearTimeout(drain));
    });
    proc.once("close", (code, sig) => {
      exited = true;
      resolve({
        exitCode: code,
        signal: sig,
        killed: killedByUs,
        ...(spawnError ? { error: spawnError } : {}),
      });
    });
  });

  const send = (sig: NodeJS.Signals) => {
    if (exited || proc.pid === undefined) return;
    try {
      if (groupLeader) process.kill(-proc.pid, sig);
      else proc.kill(sig);
    } catch {
      // already gone
    }
  };

  let stopping: Promise<ChildEnd> | undefined;
  const child: Child = {
    proc,
    pid: proc.pid,
    stdoutTail,
    stderrTail,
    stopped,
    get exited() {
      return exited;
    },
    signal: send,
    stop({ signal = "SIGTERM", graceMs = 5000 } = {}) {
      if (stopping) return stopping;
      if (exited) return stopped;
      killedByUs = true;
      send(signal);
      const timer = setTimeout(() => send("SIGKILL"), graceMs);
      stopping = stopped.finally(() => clearTimeout(timer));
      return stopping;
    },
  };
  return child;
}

/** Signal number → name ("SIGABRT"), or null. */
export function signalName(sig: number | null | undefined): NodeJS.Signals | null {
  if (sig === null || sig === undefined) return null;
  for (const [name, num] of Object.entries(osConstants.signals))
    if (num === sig) return name as NodeJS.Signals;
  return null;
}

export function signalNumber(name: NodeJS.Signals | string): number | undefined {
  return (osConstants.signals as Record<string, number>)[name];
}

/** Run to completion and collect output (small outputs: go version, dlv version, coredumpctl). */
export async function runCapture(
  command: string,
  args: readonly string[],
  opts: SpawnOptions & { timeoutMs?: number; input?: string } = {},
): Promise<{ stdout: string; stderr: string; end: ChildEnd }> {
  const { timeoutMs = 30_000, input, ...spawnOpts } = opts;
  const c = startChild(command, args, {
    tailBytes: 16 * 1024 * 1024,
    ...spawnOpts,
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (input !== undefined) c.proc.stdin?.end(input);
  const timer = setTimeout(() => void c.stop({ graceMs: 1000 }), timeoutMs);
  const end = await c.stopped.finally(() => clearTimeout(timer));
  return { stdout: c.stdoutTail.toString(), stderr: c.stderrTail.toString(), end };
}

let setpriv: string | null | undefined;
/** util-linux's setpriv, where it exists (Debian: always, util-linux is essential). */
export function setprivPath(): string | null {
  if (setpriv === undefined)
    setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p)) ?? null;
  return setpriv;
}

/**
 * argv that makes the child die when hotdump dies, even by SIGKILL: `setpriv --pdeathsig SIG`
 * sets PR_SET_PDEATHSIG, which survives the execs that follow (prctl(2): cleared only for
 * set-user-ID programs), so the kernel signals the child when the Node thread that started it
 * exits. Without setpriv the argv is unchanged. Only for a command known to exist, so a missing
 * program still fails with spawn's ENOENT rather than setpriv's exit status.
 */
export function withParentDeathSignal(argv: readonly string[], signal: "KILL" | "TERM" = "KILL"): string[] {
  const sp = setprivPath();
  const exe = argv[0] && (argv[0].includes("/") ? argv[0] : findOnPath(argv[0]));
  return sp && exe && existsSync(exe) ? [sp, "--pdeathsig", signal, "--", exe, ...argv.slice(1)] : [...argv];
}
