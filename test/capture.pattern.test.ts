/**
 * Real Go crashes under real core_patterns, each set through withCorePattern (the setting is
 * global: the helper holds the lock and restores it), then findCore asked where the core went.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type FindCoreResult,
  factsFromSnapshot,
  findCore,
  raiseCoreLimitArgv,
  readCoreSettings,
  snapshotAfterExec,
} from "../src/capture/index.js";
import { type Child, startChild } from "../src/util/child.js";
import { cannotSetPattern, withCorePattern } from "./helpers/corePattern.js";
import { buildGoFixture } from "./helpers/go.js";

const skip = cannotSetPattern();
let bin = "";
let dir = "";
const children: Child[] = [];

beforeAll(() => {
  bin = buildGoFixture("capcrash", { debug: false });
});
afterEach(async () => {
  for (const c of children.splice(0)) await c.stop({ signal: "SIGKILL", graceMs: 100 });
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

interface Run {
  result: FindCoreResult;
  pid: number;
  sizeAtExit?: number;
}

/** Start the crasher in `cwd` (limit raised unless `limit0`), wait for it to die, ask findCore. */
async function crashAndFind(
  cwd: string,
  opts: { limit0?: boolean; limitKiB?: number; args?: string[]; sizeAt?: (pid: number) => string } = {},
): Promise<Run> {
  const args = opts.args ?? ["crash"];
  const argv =
    opts.limit0 || opts.limitKiB
      ? ["sh", "-c", `ulimit -S -c ${opts.limitKiB ?? 0} && exec "$0" "$@"`, bin, ...args]
      : raiseCoreLimitArgv(bin, args);
  const startedAt = Date.now();
  const child = startChild(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, GOTRACEBACK: "crash" } });
  children.push(child);
  const snap = await snapshotAfterExec(child.pid!, bin);
  if (!snap) throw new Error("the crasher died before it could be observed");
  expect(snap.exe).toBe(bin);
  // raiseCoreLimitArgv really raised the soft limit to the hard one, keeping the pid.
  if (!opts.limit0 && !opts.limitKiB) expect(snap.coreLimit?.soft).toBe(snap.coreLimit?.hard);
  const end = await child.stopped;
  const endedAt = Date.now();
  let sizeAtExit: number | undefined;
  if (opts.sizeAt) {
    try {
      sizeAtExit = statSync(opts.sizeAt(child.pid!)).size;
    } catch {
      sizeAtExit = -1;
    }
  }
  const result = await findCore({
    facts: factsFromSnapshot(snap, { startedAt, endedAt }),
    exit: { exitCode: end.exitCode, signal: end.signal },
    waitMs: 3000,
  });
  return { result, pid: child.pid!, ...(sizeAtExit === undefined ? {} : { sizeAtExit }) };
}

const fresh = () => {
  dir = mkdtempSync(join(tmpdir(), "hotdump-cap-"));
  return dir;
};

describe.skipIf(skip !== null)("findCore with real crashes", () => {
  it("relative `core`: in the process's cwd, complete when wait() returns", async () => {
    const cwd = fresh();
    const r = await withCorePattern("core", () => crashAndFind(cwd, { sizeAt: () => join(cwd, "core") }), {
      usesPid: false,
    });
    expect(r.result).toMatchObject({ found: true, path: join(cwd, "core"), via: "file" });
    // The kernel writes a file core before the parent's wait() returns: no growth afterwards.
    expect(r.sizeAtExit).toBeGreaterThan(1_000_000);
    await new Promise((res) => setTimeout(res, 300));
    expect(statSync(join(cwd, "core")).size).toBe(r.sizeAtExit);
  });

  it("relative `core.%p`", async () => {
    const cwd = fresh();
    const r = await withCorePattern("core.%p", () => crashAndFind(cwd), { usesPid: false });
    expect(r.result).toMatchObject({ found: true, path: join(cwd, `core.${r.pid}`) });
  });

  it("absolute %e-%p-%t-%s: found by listing and matching the time window", async () => {
    const d = fresh();
    const r = await withCorePattern(`${d}/x/%e-%p-%t-%s.core`, async () => {
      mkdirSync(join(d, "x"));
      return crashAndFind(d);
    });
    expect(r.result.found).toBe(true);
    if (!r.result.found) return;
    const name = r.result.path.split("/").pop()!;
    const comm = bin.split("/").pop()!.slice(0, 15);
    expect(name).toMatch(new RegExp(`^${comm}-${r.pid}-\\d+-6\\.core$`));
  });

  it("%E (executable path with ! for /) and %h", async () => {
    const d = fresh();
    const r = await withCorePattern(`${d}/%E@%h.%p`, () => crashAndFind(d));
    expect(r.result).toMatchObject({
      found: true,
      path: join(d, `${bin.replaceAll("/", "!")}@${hostname()}.${r.pid}`),
    });
  });

  it("core_uses_pid=1 with a pattern without %p", async () => {
    const d = fresh();
    const r = await withCorePattern(`${d}/core`, () => crashAndFind(d), { usesPid: true });
    expect(r.result).toMatchObject({ found: true, path: join(d, `core.${r.pid}`) });
  });

  it("RLIMIT_CORE 0: no core, reason says limit 0", async () => {
    const d = fresh();
    const r = await withCorePattern(`${d}/core.%p`, () => crashAndFind(d, { limit0: true }));
    expect(r.result).toMatchObject({ found: false, code: "limit-zero" });
    if (!r.result.found) expect(r.result.reason).toContain("limit 0");
  });

  it("a core cut short by RLIMIT_CORE is found and flagged", async () => {
    const d = fresh();
    const r = await withCorePattern(`${d}/core.%p`, () => crashAndFind(d, { limitKiB: 2048 }));
    expect(r.result).toMatchObject({ found: true, possiblyTruncated: true });
    if (!r.result.found) return;
    const limit = r.result.limit as bigint;
    expect(limit).toBe(1048576n); // dash's ulimit -c counts 512-byte blocks
    // Measured: the file's apparent size is the whole core (tens of MB), past the limit; only the
    // blocks on disk stay within it: what lies past the limit is holes that read as zeros.
    expect(BigInt(r.result.size)).toBeGreaterThan(limit);
    expect(BigInt(statSync(r.result.path).blocks * 512)).toBeLessThanOrEqual(limit);
  });

  it("a missing core directory", async () => {
    const d = fresh();
    const r = await withCorePattern(`${d}/nope/core.%p`, () => crashAndFind(d));
    expect(r.result).toMatchObject({ found: false, code: "dir-missing" });
  });

  it("an unknown pipe handler: the kernel pipes the core after exit; findCore says it cannot retrieve it", async () => {
    const d = fresh();
    const handler = join(d, "handler.sh");
    // Runs as root from the kernel with no PATH: absolute paths only. It reads everything, then
    // "post-processes" for 0.5 s (as systemd-coredump compresses and journals) before the core
    // appears under its final name.
    writeFileSync(
      handler,
      `#!/bin/sh\n/bin/cat > "${d}/piped.$1.$2.part"\n/bin/sleep 0.5\n/bin/mv "${d}/piped.$1.$2.part" "${d}/piped.$1.$2"\n`,
    );
    chmodSync(handler, 0o755);
    const r = await withCorePattern(`|${handler} %p %s`, async () => {
      const run = await crashAndFind(d, { sizeAt: (pid) => join(d, `piped.${pid}.6`) });
      // wait (inside the lock, the pattern must stay) for the helper to finish
      const file = join(d, `piped.${run.pid}.6`);
      const deadline = Date.now() + 10_000;
      let last = -1;
      for (;;) {
        let size = -1;
        try {
          size = statSync(file).size;
        } catch {}
        if (size > 0 && size === last) break;
        last = size;
        if (Date.now() > deadline) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      return { ...run, later: last };
    });
    expect(r.result).toMatchObject({ found: false, code: "pipe-unsupported" });
    if (!r.result.found) expect(r.result.reason).toContain(`core piped to ${handler}`);
    expect(r.later).toBeGreaterThan(1_000_000);
    // At the process's exit the helper had read the core (the dying task blocks writing into the
    // 64 KiB pipe) but had not finished its own work: the final file did not exist yet.
    expect(r.sizeAtExit).toBe(-1);
    expect(
      readFileSync(join(d, `piped.${r.pid}.6`))
        .subarray(0, 4)
        .toString("latin1"),
    ).toBe("\x7fELF");
  });

  it("SIGKILL: no core possible", async () => {
    const d = fresh();
    const startedAt = Date.now();
    const child = startChild(bin, ["sleep"], { cwd: d });
    children.push(child);
    await new Promise((res) => setTimeout(res, 100));
    child.signal("SIGKILL");
    const end = await child.stopped;
    const r = await findCore({
      facts: { pid: child.pid!, cwd: d, startedAt, endedAt: Date.now() },
      exit: { exitCode: end.exitCode, signal: end.signal },
    });
    expect(r).toMatchObject({ found: false, code: "sigkill" });
  });

  it("the kernel keeps 127 characters of a longer pattern", async () => {
    const long = `/tmp/${"p".repeat(200)}`;
    const got = await withCorePattern(long, async () => readCoreSettings().pattern);
    expect(got).toBe(long.slice(0, 127));
  });
});
