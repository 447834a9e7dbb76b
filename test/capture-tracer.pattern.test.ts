/**
 * Container mode (issue 25): where the kernel's core never reaches hotdump. A pid namespace with
 * its own /proc (`unshare --pid --fork --mount-proc`, as a container has) and core_pattern
 * `|/bin/false` (a handler that keeps nothing, standing for the host's): `--capture auto` must
 * choose the tracer, and the crash must come out with a core Delve reads (locals) and the build ID
 * proven. The pattern is set for this one run and restored in withCorePattern's finally.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { cannotSetPattern, withCorePattern } from "./helpers/corePattern.js";
import { buildGoFixture } from "./helpers/go.js";

function cannotUnshare(): string | null {
  try {
    execFileSync("unshare", ["--pid", "--fork", "--mount-proc", "true"], {
      stdio: "ignore",
      timeout: 10_000,
    });
    return null;
  } catch (e) {
    return `unshare --pid --fork --mount-proc fails here: ${(e as Error).message}`;
  }
}

const skip = cannotSetPattern() ?? cannotUnshare();
let bin = "";
let dir = "";

beforeAll(() => {
  bin = buildGoFixture("dlvcrash");
});
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
});

describe.skipIf(skip !== null)(`the tracer in a container${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("captures a crash inside unshare --pid --mount-proc with core_pattern |/bin/false, locals and build ID", async () => {
    dir = mkdtempSync(join(tmpdir(), "hotdump-tracer-ns-"));
    const store = join(dir, ".hotdump");
    const r = await withCorePattern("|/bin/false", () =>
      runCli(["exec", "--store", store, "--json", "--", bin, "goroutine"], {
        cwd: dir,
        under: ["unshare", "--pid", "--fork", "--mount-proc"],
        timeoutMs: 100_000,
      }),
    );
    expect(r.code, r.stderr).toBe(134);
    const out = JSON.parse(r.stdout);
    expect(out.capture).toEqual({
      mode: "tracer",
      why: "core_pattern pipes to /bin/false, a handler hotdump cannot retrieve cores from",
    });
    expect(out.signal).toBe("SIGABRT");
    expect(out.core).toMatchObject({ found: true, stored: "core.zst", truncated: false, buildIdMatch: true });
    expect(out.report.culprit).toMatchObject({ function: "main.process" });
    const frame = out.report.goroutine.frames.find(
      (f: { function: string }) => f.function === "main.process",
    );
    expect(frame.locals).toContainEqual(expect.objectContaining({ name: "secret", value: '"tok-12345"' }));
    expect(frame.args).toContainEqual(expect.objectContaining({ name: "key", value: '"missing"' }));
    // Inside the namespace the service is pid 2 or so; the bundle keeps the pid hotdump saw.
    expect(out.process.pid).toBeLessThan(100);
  }, 120_000);
});
