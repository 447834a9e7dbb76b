/**
 * Runs the real CLI (bin/hotdump → dist/bundle/), the way a user does. It is built once per test run
 * by the global setup (test/helpers/globalPattern.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { withinTest } from "./testLimit.js";

export const HOTDUMP = resolve(import.meta.dirname, "../../bin/hotdump");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A child's stdout and stderr as text, growing as it writes. */
export function gather(p: ChildProcess): { stdout: string; stderr: string } {
  const out = { stdout: "", stderr: "" };
  p.stdout?.on("data", (c) => {
    out.stdout += c;
  });
  p.stderr?.on("data", (c) => {
    out.stderr += c;
  });
  return out;
}

/**
 * `under` runs hotdump through another command (["strace", "-f", …], ["prlimit", "--core=…"]),
 * which gets node and hotdump's argv after its own.
 */
export function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; under?: string[] } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const [cmd, ...argv] = [...(opts.under ?? []), process.execPath, HOTDUMP, ...args];
    const p = spawn(cmd!, argv, {
      cwd: opts.cwd ?? process.cwd(),
      env: { ...process.env, NO_COLOR: "1", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out = gather(p);
    p.stdin.end(opts.input ?? "");
    const limit = withinTest(opts.timeoutMs ?? 60_000);
    let killed = false;
    const t = setTimeout(() => {
      killed = true;
      p.kill("SIGKILL");
    }, limit);
    p.on("error", reject);
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(t);
      if (killed) out.stderr += `\n[test: hotdump ${args.join(" ")} killed after ${limit} ms]\n`;
      resolvePromise({ code, signal, ...out });
    };
    p.on("close", done);
    // Killed, a descendant that inherited its stdout could hold 'close' back: its exit is enough.
    p.on("exit", (code, signal) => {
      if (killed) setTimeout(() => done(code, signal), 2000).unref();
    });
  });
}
