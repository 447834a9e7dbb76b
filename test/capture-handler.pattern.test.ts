/**
 * Host mode (issue 25): hotdump's own core handler, installed into a temporary root-owned directory
 * with its own registry, core_pattern pointing at it (restored in a finally by withCorePattern,
 * core_pipe_limit restored beside it). Real crashes, real cores through zstd, read back by the ELF
 * reader.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type HandlerConfig,
  handlerPattern,
  installHandlerFiles,
  readCoreSettings,
} from "../src/capture/index.js";
import { openCore } from "../src/elf/core.js";
import { decompressFile, findZstd } from "../src/store/index.js";
import { type Child, startChild } from "../src/util/child.js";
import { runCli } from "./helpers/cli.js";
import { cannotSetPattern, withCorePattern } from "./helpers/corePattern.js";
import { buildGoFixture } from "./helpers/go.js";

const skip = cannotSetPattern() ?? (process.getuid?.() === 0 ? null : "the handler is installed as root");
const PIPE_LIMIT = "/proc/sys/kernel/core_pipe_limit";
let bin = "";
const dirs: string[] = [];
const children: Child[] = [];

beforeAll(() => {
  bin = buildGoFixture("capcrash", { debug: true });
});
afterEach(async () => {
  for (const c of children.splice(0)) await c.stop({ signal: "SIGKILL", graceMs: 100 });
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const scratch = (name: string) => {
  const d = mkdtempSync(join(tmpdir(), `hotdump-${name}-`));
  dirs.push(d);
  return d;
};

/**
 * Install the handler and run fn with core_pattern (and the pipe limit) on it. The handler's
 * directory is a fixed one that stays: should the pattern ever outlive the test (another run
 * restoring it late), the machine's cores still reach a handler that hands them on, not a missing file.
 */
async function underHandler<T>(fn: (h: { dir: string; config: HandlerConfig }) => Promise<T>): Promise<T> {
  const dir = join(tmpdir(), "hotdump-test-handler");
  const config: HandlerConfig = {
    registry: join(dir, "registry"),
    // Never a hotdump handler's own pattern (one left behind by an interrupted run): that would
    // send the machine's other cores to the fallback directory instead of where they belong.
    previous: /hotdump-tracer handle/.test(readCoreSettings().pattern) ? "core" : readCoreSettings().pattern,
    previousPipeLimit: Number(readFileSync(PIPE_LIMIT, "utf8")),
    fallbackDir: join(dir, "fallback"),
    zstd: findZstd() ?? "/usr/bin/zstd",
    timeoutSeconds: 120,
  };
  installHandlerFiles(join(dir, "bin"), config);
  return withCorePattern(handlerPattern(join(dir, "bin")), async () => {
    const prevLimit = readFileSync(PIPE_LIMIT, "utf8").trim();
    try {
      writeFileSync(PIPE_LIMIT, "64");
      return await fn({ dir, config });
    } finally {
      writeFileSync(PIPE_LIMIT, prevLimit);
    }
  });
}

async function corePid(zst: string): Promise<number | undefined> {
  const raw = `${zst}.raw`;
  await decompressFile(zst, raw);
  try {
    const core = await openCore(raw);
    return core.process?.pid;
  } finally {
    rmSync(raw, { force: true });
  }
}

describe.skipIf(skip !== null)(`hotdump's core handler${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("8 concurrent crashes in one directory: each bundle holds its own process's core", async () => {
    const cwd = scratch("eight");
    const store = join(cwd, ".hotdump");
    let log = "";
    const runs = await underHandler(({ dir }) =>
      Promise.all(
        Array.from({ length: 8 }, () =>
          runCli(
            [
              "exec",
              "--store",
              store,
              "--capture",
              "handler",
              "--no-analyze",
              "--json",
              "--",
              bin,
              "crash",
              "8",
            ],
            {
              cwd,
              timeoutMs: 100_000,
            },
          ),
        ),
      ).finally(() => {
        log = existsSync(join(dir, "handler.log")) ? readFileSync(join(dir, "handler.log"), "utf8") : "";
      }),
    );
    const seen = new Set<number>();
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(134);
      const out = JSON.parse(r.stdout);
      expect(out.outcome).toBe("crash");
      const pid = out.process.pid as number;
      seen.add(pid);
      expect(out.core, `${JSON.stringify(out.core)}\n${r.stderr}\nhandler.log: ${log}`).toMatchObject({
        found: true,
        stored: "core.zst",
        compression: "zstd",
        buildIdMatch: true,
      });
      const meta = JSON.parse(readFileSync(join(out.crash.dir, "meta.json"), "utf8"));
      expect(meta.pid).toBe(pid);
      expect(await corePid(join(out.crash.dir, "core.zst"))).toBe(pid);
    }
    expect(seen.size).toBe(8);
    // Nothing was written where the default pattern `core` would have put it, and nothing is left over.
    expect(readdirSync(cwd).filter((f) => f.startsWith("core"))).toEqual([]);
    expect(readdirSync(join(store, "incoming"))).toEqual([]);
  }, 120_000);

  it("hands a core it does not own to the previous pattern unchanged", async () => {
    const cwd = scratch("unowned");
    await underHandler(async ({ config }) => {
      // The previous pattern as this test sets it: an absolute file pattern with %p.
      const prevDir = scratch("previous");
      const hd = join(config.registry, "..", "bin", "handler.json");
      writeFileSync(hd, JSON.stringify({ ...config, previous: `${prevDir}/core.%e.%p` }));
      let end: Awaited<Child["stopped"]>;
      const child = startChild("sh", ["-c", 'ulimit -c unlimited; exec "$0" "$@"', bin, "crash"], {
        cwd,
        env: { ...process.env, GOTRACEBACK: "crash" },
      });
      children.push(child);
      try {
        end = await child.stopped;
      } finally {
        writeFileSync(hd, JSON.stringify(config));
      }
      expect(end.signal).toBe("SIGABRT");
      // %e is the comm: the fixture's file name cut to 15 characters.
      const name = readdirSync(prevDir).find(
        (f) => f.startsWith("core.capcrash") && f.endsWith(`.${child.pid}`),
      );
      expect(name).toBeDefined();
      const core = await openCore(join(prevDir, name!));
      expect(core.process?.pid).toBe(child.pid);
    });
  }, 60_000);

  it("a supervisor SIGKILLed during a 1 GB dump loses nothing: the next start files the core", async () => {
    const cwd = scratch("killed");
    const store = join(cwd, ".hotdump");
    await underHandler(async () => {
      const run = startChild(
        process.execPath,
        [
          join(import.meta.dirname, "../bin/hotdump"),
          "run",
          "--store",
          store,
          "--capture",
          "handler",
          "--",
          bin,
          "crash",
          "1024",
        ],
        { cwd, env: { ...process.env }, stdio: ["ignore", "pipe", "pipe"] },
      );
      children.push(run);
      const incoming = join(store, "incoming");
      // The dump is under way once the handler's partial core appears: then the supervisor goes.
      const deadline = Date.now() + 90_000;
      let crashedPid = 0;
      while (!crashedPid) {
        const partial = existsSync(incoming)
          ? readdirSync(incoming).find((f) => f.endsWith(".zst.partial"))
          : undefined;
        if (partial) crashedPid = Number(partial.split(".")[2]);
        else if (run.exited || Date.now() > deadline)
          throw new Error(`no dump seen: ${run.stderrTail.toString()}`);
        else await new Promise((r) => setTimeout(r, 20));
      }
      run.signal("SIGKILL");
      await run.stopped;
      // The handler finishes on its own.
      while (!readdirSync(incoming).some((f) => f.endsWith(".json"))) {
        if (Date.now() > deadline) throw new Error("the handler never finished the core");
        await new Promise((r) => setTimeout(r, 50));
      }
      // The next start (an exec of anything, in handler mode) files it.
      const next = await runCli(["exec", "--store", store, "--capture", "handler", "--", "true"], {
        cwd,
        timeoutMs: 120_000,
      });
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr + next.stdout).toMatch(/filed an earlier crash the core handler kept/);
      // The bundles themselves (a restart may have crashed again before the SIGKILL took effect):
      // exactly one is the crashed pid's.
      const metas = readdirSync(join(store, "crashes")).map((id) =>
        JSON.parse(readFileSync(join(store, "crashes", id, "meta.json"), "utf8")),
      );
      const mine = metas.filter((m) => m.pid === crashedPid);
      expect(mine.length, JSON.stringify(metas.map((m) => m.pid))).toBe(1);
      const meta = mine[0];
      expect(meta.core).toMatchObject({ found: true, stored: "core.zst", buildIdMatch: true });
      expect(meta.core.bytes).toBeGreaterThan(1024 * 1024 * 1024);
      expect(readdirSync(incoming)).toEqual([]);
    });
  }, 240_000);
});
