/**
 * Issue 24, point 4: nothing outlives hotdump unless asked. SIGKILL of `hotdump exec` and of a
 * `run` whose script starts the server without exec; and the end of a process is its exit, not
 * the end of its output (a descendant holding the pipes must not delay the crash report).
 */
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { until } from "./helpers/faults.js";
import { buildGoFixture } from "./helpers/go.js";
import { runArgs, useScratch } from "./helpers/scratch.js";
import { isLive } from "./helpers/supervised.js";

const scratch = useScratch("hotdump-orphans-");
/** Programs a failed test could leave running (the very thing under test): killed by pid after each. */
const orphans: number[] = [];
afterEach(() => {
  for (const pid of orphans.splice(0))
    try {
      if (isLive(pid)) process.kill(pid, "SIGKILL");
    } catch {}
});

/** Every descendant of pid, through /proc/PID/task/TID/children. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, "utf8")
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {}
    for (const k of kids) {
      out.push(k);
      visit(k);
    }
  };
  visit(pid);
  return out;
}

const exeOf = (pid: number) => {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
};

describe("SIGKILL of hotdump", () => {
  it("exec: its program dies with it (it ran on with ppid 1 before)", async () => {
    const bin = buildGoFixture("capcrash");
    const { cwd, store } = scratch.project();
    const sup = scratch.start(["exec", "--store", store, "--", bin, "sleep"], { cwd });
    const pid = await until(
      () => descendants(sup.proc.pid!).find((p) => exeOf(p) === bin),
      30_000,
      "the program running under exec",
    );
    expect(isLive(pid)).toBe(true);
    orphans.push(pid);
    sup.proc.kill("SIGKILL");
    await until(() => (isLive(pid) ? undefined : true), 10_000, `pid ${pid} to die with hotdump exec`);
  }, 60_000);

  it("run with a script that starts the server without exec: the next run stops what the killed one left", async () => {
    const bin = buildGoFixture("capcrash");
    const { cwd, store } = scratch.project();
    const script = join(cwd, "start.sh");
    writeFileSync(script, `#!/bin/sh\n# no exec: the server is this shell's child\n${bin} sleep\n`, {
      mode: 0o755,
    });
    const first = scratch.start(runArgs(store, undefined, ["--probe", "alive:200ms"], [script]), { cwd });
    await first.waitFor((e) => e.event === "ready", 60_000, "first run ready");
    const server = descendants(first.proc.pid!).find((p) => exeOf(p) === bin);
    expect(server).toBeDefined();
    orphans.push(server!);
    first.proc.kill("SIGKILL");
    await first.stop("SIGKILL");
    // The shell got the parent-death signal; its child, the server, did not (PDEATHSIG is not
    // inherited across fork): it runs on, in the process group running.json recorded.
    expect(isLive(server!)).toBe(true);
    const second = scratch.start(runArgs(store, undefined, ["--probe", "alive:200ms"], [script]), { cwd });
    await second.waitFor((e) => e.event === "ready", 60_000, "second run ready");
    expect(isLive(server!)).toBe(false);
    expect(second.output()).toMatch(/stopped \d+ service process\(es\) left by an earlier hotdump/);
    await second.stop("SIGTERM");
  }, 120_000);
});

describe("the end of a process is its exit", () => {
  it("a crash whose sleep 15 still holds the output pipes is reported at once, not 15 s later", async () => {
    const bin = buildGoFixture("capcrash");
    const { cwd, store } = scratch.project();
    // The shell starts a sleep that inherits stdout/stderr, then becomes the crashing program.
    const script = join(cwd, "svc.sh");
    writeFileSync(script, `#!/bin/sh\nsleep 15 &\nexec ${bin} crash\n`, { mode: 0o755 });
    const t0 = Date.now();
    const r = await runCli(["exec", "--json", "--no-analyze", "--store", store, "--", script], {
      cwd,
      timeoutMs: 60_000,
    });
    const took = Date.now() - t0;
    expect(JSON.parse(r.stdout).outcome).toBe("crash");
    // Not a speed target: the old behaviour waited for the sleep (15 s) before anything.
    expect(took).toBeLessThan(12_000);
  }, 60_000);
});
