/**
 * What an integration test leaves behind, undone in afterEach even when the test fails or times
 * out: temp dirs, hotdump supervisors (SIGKILLed if still running, their events and output printed
 * when the test failed), other child processes and tmpfs mounts. Call useScratch() once at the top
 * of a test file.
 */
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { type Supervised, startSupervised } from "./supervised.js";

export interface Scratch {
  /** A fresh temp dir, removed after the test. */
  dir(): string;
  /** A fresh temp dir as a project, and its default store (<cwd>/.hotdump). */
  project(): { cwd: string; store: string };
  /** startSupervised, stopped with SIGKILL after the test unless it has ended. */
  start(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Supervised;
  /** A child process to SIGKILL after the test unless it has ended. */
  track<T extends ChildProcess>(p: T): T;
  /** A tmpfs of `size` (e.g. "20m") mounted at <dir>/small, unmounted (lazily) after the test. */
  tmpfs(dir: string, size: string): string;
}

export function useScratch(prefix: string): Scratch {
  const dirs: string[] = [];
  const started: Supervised[] = [];
  const live: ChildProcess[] = [];
  const mounts: string[] = [];
  afterEach(async (ctx) => {
    // A failed or timed-out test says what its supervisors did: where the time went, what they said.
    if (ctx.task.result?.state === "fail")
      for (const s of started)
        console.error(
          `supervisor events:\n${s.events.map((e) => JSON.stringify(e)).join("\n")}\noutput tail:\n${s.output().slice(-4000)}`,
        );
    for (const p of live.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    // stop() on an ended supervisor only reads its status, so a test's own stop is not repeated.
    for (const s of started.splice(0)) await s.stop("SIGKILL");
    for (const mnt of mounts.splice(0)) {
      try {
        execFileSync("umount", ["-l", mnt]);
      } catch {
        // already unmounted by the test
      }
    }
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    dir() {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    project() {
      const cwd = this.dir();
      return { cwd, store: join(cwd, ".hotdump") };
    },
    start(args, opts) {
      const s = startSupervised(args, opts);
      started.push(s);
      return s;
    },
    track(p) {
      live.push(p);
      return p;
    },
    tmpfs(dir, size) {
      const mnt = join(dir, "small");
      mkdirSync(mnt);
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", mnt]);
      mounts.push(mnt);
      return mnt;
    },
  };
}

/** `hotdump run --json-events --store <store> [--listen <listen>] <extra…> -- <command…>`. */
export function runArgs(
  store: string,
  listen: string | undefined,
  extra: string[],
  command: string[],
): string[] {
  const at = listen === undefined ? [] : ["--listen", listen];
  return ["run", "--json-events", "--store", store, ...at, ...extra, "--", ...command];
}
