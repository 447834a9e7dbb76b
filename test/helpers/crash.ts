/**
 * Makes a real core of a real Go program for tests of the readers and analysers. The program runs
 * in a fresh temp dir with RLIMIT_CORE raised and GOTRACEBACK=crash, under whatever core_pattern
 * the machine has (the main test pass never changes it: see vitest.config.ts), and hotdump's own
 * core finder fetches the core into that dir.
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { locateCore } from "../../src/capture/locateCore.js";
import { snapshotAfterExec } from "../../src/capture/processFacts.js";
import { gather } from "./cli.js";
import { withinTest } from "./testLimit.js";

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
  const startedAt = new Date();
  let snapshot: Awaited<ReturnType<typeof snapshotAfterExec>>;
  const run = await new Promise<Omit<ProducedCore, "core" | "dir">>((resolve, reject) => {
    const p = spawn("sh", ["-c", 'ulimit -c unlimited; exec "$0" "$@"', binary, ...args], {
      cwd: dir,
      env: { ...process.env, GOTRACEBACK: "crash", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (p.pid) void snapshotAfterExec(p.pid, binary).then((s) => (snapshot = s));
    const out = gather(p);
    const t = setTimeout(() => p.kill("SIGKILL"), withinTest(opts.timeoutMs ?? 60_000));
    p.on("error", reject);
    p.on("close", (exitCode, signal) => {
      clearTimeout(t);
      resolve({ pid: p.pid!, exitCode, signal, ...out });
    });
  });
  if (!run.signal) throw new Error(`no crash: exit ${run.exitCode}\n${run.stderr.slice(-2000)}`);
  const found = await locateCore({
    pid: run.pid,
    cwd: dir,
    exe: binary,
    signal: run.signal,
    startedAt,
    endedAt: new Date(),
    ...(snapshot! ? { snapshot: snapshot! } : {}),
  });
  if (!found.found || !found.path)
    throw new Error(
      `no core for pid ${run.pid} (signal ${run.signal}): ${found.reason}\n${run.stderr.slice(-2000)}`,
    );
  const core = join(dir, `core.${run.pid}`);
  if (found.path !== core) {
    if (found.removable) {
      try {
        renameSync(found.path, core);
      } catch {
        copyFileSync(found.path, core);
        rmSync(found.path, { force: true });
      }
    } else copyFileSync(found.path, core);
  }
  return { core, dir, ...run };
}
