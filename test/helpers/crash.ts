/**
 * Makes a real core of a real Go program for tests of the readers and analysers (the capture path
 * itself is tested through `hotdump exec`). The program runs with RLIMIT_CORE raised and
 * GOTRACEBACK=crash, under a core_pattern pointing into a fresh temp dir, set and restored under
 * the pattern lock.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withCorePattern } from "./corePattern.js";

export interface ProducedCore {
  core: string;
  dir: string;
  pid: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export async function produceCore(
  binary: string,
  args: string[] = [],
  opts: { env?: Record<string, string>; timeoutMs?: number; dir?: string } = {},
): Promise<ProducedCore> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "hotdump-core-"));
  const landing = mkdtempSync(join(tmpdir(), "hotdump-landing-"));
  const run = await withCorePattern(
    `${landing}/core.%p`,
    () =>
      new Promise<Omit<ProducedCore, "core" | "dir">>((resolve, reject) => {
        const p = spawn("sh", ["-c", 'ulimit -c unlimited; exec "$0" "$@"', binary, ...args], {
          cwd: dir,
          env: { ...process.env, GOTRACEBACK: "crash", ...opts.env },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        p.stdout.on("data", (c) => {
          stdout += c;
        });
        p.stderr.on("data", (c) => {
          stderr += c;
        });
        const t = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
        p.on("error", reject);
        p.on("close", (exitCode, signal) => {
          clearTimeout(t);
          resolve({ pid: p.pid!, exitCode, signal, stdout, stderr });
        });
      }),
  );
  const name = readdirSync(landing).find((f) => f === `core.${run.pid}`);
  if (!name)
    throw new Error(
      `no core for pid ${run.pid} (exit ${run.exitCode}, signal ${run.signal})\n${run.stderr.slice(-2000)}`,
    );
  const core = join(dir, `core.${run.pid}`);
  renameSync(join(landing, name), core);
  if (!existsSync(core)) throw new Error("core vanished");
  return { core, dir, ...run };
}
