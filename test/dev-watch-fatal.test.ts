/**
 * Issue 24: `dev` stayed up, blind, after a fatal watch error (EACCES on the watched root), and
 * ignored SIGTERM (with root = "/" it grew to 989 MB). Now the root lost (unreadable at start,
 * removed later) ends dev with one E_WATCH_ROOT line and exit 1, its service stopped; SIGTERM ends
 * it at any moment, also during the first scan of a large tree.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gather, HOTDUMP } from "./helpers/cli.js";
import { useScratch } from "./helpers/scratch.js";
import { isLive } from "./helpers/supervised.js";
import { withinTest } from "./helpers/testLimit.js";

const scratch = useScratch("hotdump-devfatal-");

/** A service that writes its pid to `pidFile` and then waits. */
const service = (pidFile: string) => `package main

import (
	"os"
	"strconv"
	"time"
)

func main() {
	os.WriteFile(${JSON.stringify(pidFile)}, []byte(strconv.Itoa(os.Getpid())), 0o644)
	println("service up")
	time.Sleep(time.Hour)
}
`;

function module(dir: string, pidFile: string): void {
  writeFileSync(join(dir, "go.mod"), "module fatalsvc\n\ngo 1.24\n");
  writeFileSync(join(dir, "main.go"), service(pidFile));
}

/** Resolves with the exit code once `p` exits, or rejects after `ms` (the child is killed in afterEach). */
function exitOf(p: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), withinTest(ms));
    p.on("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** Resolves once `text` appears in the output (or the process exits, or `ms` passes). */
function seen(
  p: ChildProcess,
  out: { stderr: string; stdout: string },
  text: string,
  ms: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const check = () => {
      if (out.stderr.includes(text) || out.stdout.includes(text)) done(true);
    };
    const done = (v: boolean) => {
      clearInterval(iv);
      clearTimeout(t);
      resolve(v);
    };
    const iv = setInterval(check, 50);
    const t = setTimeout(() => done(false), withinTest(ms));
    p.on("exit", () => done(out.stderr.includes(text) || out.stdout.includes(text)));
  });
}

function dev(
  cwd: string,
  store: string,
  extra: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
) {
  const p = scratch.track(
    spawn(process.execPath, [HOTDUMP, "dev", "--store", store], {
      cwd,
      env: { ...process.env, NO_COLOR: "1", ...extra.env },
      stdio: ["ignore", "pipe", "pipe"],
      ...(extra.uid !== undefined ? { uid: extra.uid, gid: extra.gid ?? extra.uid } : {}),
    }),
  );
  return { p, out: gather(p) };
}

const pidIn = (file: string): number | null => {
  try {
    return Number(readFileSync(file, "utf8")) || null;
  } catch {
    return null;
  }
};

describe("dev ends on a fatal watch error and on SIGTERM (issue 24)", () => {
  it("the watched root removed while it serves: one E_WATCH_ROOT line, exit 1, its service stopped", async () => {
    const base = scratch.dir();
    const root = join(base, "proj");
    mkdirSync(root);
    const pidFile = join(base, "svc.pid");
    module(root, pidFile);
    const { p, out } = dev(root, join(base, "store"));
    expect(await seen(p, out, "service up", 90_000)).toBe(true);
    const svc = pidIn(pidFile);
    expect(svc).not.toBeNull();
    rmSync(root, { recursive: true, force: true });
    expect(await exitOf(p, 30_000)).toBe(1);
    expect(out.stderr).toMatch(/E_WATCH_ROOT/);
    expect(out.stderr).toMatch(/cannot watch \S+proj: it was removed/);
    expect(out.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(isLive(svc!)).toBe(false);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "as another user (nobody), a watched root it cannot read: one E_WATCH_ROOT line (EACCES), exit 1",
    async () => {
      const base = scratch.dir();
      chmodSync(base, 0o755);
      const home = join(base, "home");
      mkdirSync(home);
      chownSync(home, 65534, 65534);
      const root = join(home, "src");
      mkdirSync(root);
      module(root, join(home, "svc.pid"));
      writeFileSync(join(home, "hotdump.toml"), 'root = "src"\n');
      chownSync(root, 65534, 65534);
      chmodSync(root, 0o000);
      const { p, out } = dev(home, join(home, "store"), {
        uid: 65534,
        gid: 65534,
        env: { HOME: home, GOCACHE: join(home, "gocache"), GOPATH: join(home, "gopath") },
      });
      expect(await exitOf(p, 60_000)).toBe(1);
      expect(out.stderr).toMatch(/cannot watch \S+\/src: permission denied \(EACCES\).*\[E_WATCH_ROOT\]/);
      expect(out.stderr).not.toMatch(/\n\s+at /);
    },
  );

  it("SIGTERM during the first scan of a large tree ends dev at once, exit 0, nothing left running", async () => {
    const base = scratch.dir();
    const root = join(base, "proj");
    mkdirSync(root);
    const pidFile = join(base, "svc.pid");
    module(root, pidFile);
    // 40 x 100 directories: a scan long enough to be signalled in the middle of.
    for (let i = 0; i < 40; i++)
      for (let j = 0; j < 100; j++) mkdirSync(join(root, `d${i}`, `e${j}`), { recursive: true });
    const { p, out } = dev(root, join(base, "store"));
    expect(await seen(p, out, "hotdump", 30_000)).toBe(true);
    p.kill("SIGTERM");
    expect(await exitOf(p, 15_000)).toBe(0);
    expect(out.stdout).toMatch(/\[hotdump\] stopping/);
    const svc = pidIn(pidFile);
    if (svc !== null) expect(isLive(svc)).toBe(false);
  });
});
