/**
 * Runs the real CLI (bin/hotdump → dist/), the way a user does. dist/ is built once per test run
 * by the global setup (test/helpers/globalPattern.ts).
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";

export const HOTDUMP = resolve(import.meta.dirname, "../../bin/hotdump");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, [HOTDUMP, ...args], {
      cwd: opts.cwd ?? process.cwd(),
      env: { ...process.env, NO_COLOR: "1", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (c) => {
      stdout += c;
    });
    p.stderr.on("data", (c) => {
      stderr += c;
    });
    p.stdin.end(opts.input ?? "");
    const t = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    p.on("error", reject);
    p.on("close", (code, signal) => {
      clearTimeout(t);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}
