/**
 * A long-running `hotdump dev` or `hotdump run` started as a user would, with --json-events:
 * its NDJSON events are collected and can be awaited; stop() ends it (and afterEach should call it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { HOTDUMP } from "./cli.js";
import { withinTest } from "./testLimit.js";

export interface Event {
  event: string;
  generation?: number | null;
  pid?: number | null;
  crashId?: string | null;
  [k: string]: unknown;
}

export interface Supervised {
  proc: ChildProcess;
  events: Event[];
  output: () => string;
  waitFor(pred: (e: Event) => boolean, timeoutMs?: number, what?: string): Promise<Event>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startSupervised(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Supervised {
  const proc = spawn(process.execPath, [HOTDUMP, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: Event[] = [];
  let stderr = "";
  let rest = "";
  const waiters = new Set<() => void>();
  proc.stdout!.on("data", (c: Buffer) => {
    const lines = (rest + c.toString()).split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) {
      try {
        events.push(JSON.parse(l) as Event);
      } catch {
        stderr += `[stdout] ${l}\n`;
      }
    }
    for (const w of waiters) w();
  });
  proc.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  // 'exit', not 'close': a descendant that inherited stdout (run's stage 2, a service it left) would
  // hold 'close' back for as long as it lives. Output still in flight is read for a moment after.
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const closed = new Promise<void>((resolve) => proc.on("close", () => resolve()));
  return {
    proc,
    events,
    output: () => stderr,
    waitFor(pred, timeoutMs = 30_000, what = "event") {
      const limit = withinTest(timeoutMs);
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(hit);
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${what} (${limit} ms${limit < timeoutMs ? `, all the test had left of its limit` : ""}); events: ${JSON.stringify(events.map((e) => e.event))}\n${stderr.slice(-3000)}`,
            ),
          );
        }, limit);
        waiters.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      // SIGKILL once the test has nearly run out (at most 20 s): a stop that hangs then fails the
      // test with its output below instead of vitest's bare timeout.
      const t = setTimeout(() => proc.kill("SIGKILL"), withinTest(20_000));
      const code = await exited;
      clearTimeout(t);
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
      if (code === null && signal !== "SIGKILL")
        process.stderr.write(`supervisor killed after ${signal} did not stop it:\n${stderr.slice(-3000)}\n`);
      return code;
    },
  };
}

/**
 * Pids of every process whose executable is `exe` (to prove nothing was left running): by path, or
 * by inode (a stored binary starts from a second name of the same file: src/supervise/pinnedProgram.ts).
 */
export async function pidsRunning(exe: string): Promise<number[]> {
  const { readdirSync, readlinkSync, statSync } = await import("node:fs");
  const want = statSync(exe, { throwIfNoEntry: false });
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const l = readlinkSync(`/proc/${d}/exe`);
      const st = want ? statSync(`/proc/${d}/exe`) : null;
      if (l === exe || l === `${exe} (deleted)` || (st && want && st.ino === want.ino && st.dev === want.dev))
        out.push(Number(d));
    } catch {}
  }
  return out;
}

/**
 * Running and not a zombie. An orphan whose new parent (PID 1 in these VMs) does not reap it stays
 * a zombie: dead, holding nothing, but kill(pid, 0) still succeeds on it.
 */
export function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
