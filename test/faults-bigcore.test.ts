/**
 * A core over 4 GiB long (a 4 GiB mapping, mostly never touched: holes in the file, as a stack
 * overflow's 1 GB stack is) is captured and analysed with bounded memory: hotdump's own peak RSS
 * (VmHWM, polled from /proc while it runs) stays far below the core's length.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { HOTDUMP } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { withinTest } from "./helpers/testLimit.js";

const vmHwmKb = (pid: number) => {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
};

it("captures and analyses a 4 GiB sparse core with hotdump's peak RSS under 400 MB", async () => {
  const bin = buildGoFixture("relsparse");
  const cwd = mkdtempSync(join(tmpdir(), "hotdump-bigcore-"));
  try {
    const store = join(cwd, ".hotdump");
    const p = spawn(process.execPath, [HOTDUMP, "exec", "--json", "--store", store, "--", bin], {
      cwd,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    p.stdout.on("data", (c) => {
      stdout += c;
    });
    let stderr = "";
    p.stderr.on("data", (c) => {
      stderr += c;
    });
    let peakKb = 0;
    const poll = setInterval(() => {
      peakKb = Math.max(peakKb, vmHwmKb(p.pid!));
    }, 20);
    // A 4 GiB dump on a loaded machine can take minutes: the limit is the test's own (withinTest).
    const limit = withinTest(180_000);
    const kill = setTimeout(() => p.kill("SIGKILL"), limit);
    const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
      p.once("close", (c, s) => r([c, s])),
    );
    clearInterval(poll);
    clearTimeout(kill);
    if (signal === "SIGKILL")
      throw new Error(`hotdump exec killed after ${limit} ms:\n${stderr.slice(-2000)}`);
    expect(stdout, `exit ${code}: ${stderr.slice(-2000)}`).not.toBe("");
    const json = JSON.parse(stdout);
    expect(json.outcome).toBe("crash");
    expect(json.problems).toEqual([]);
    expect(json.core.found).toBe(true);
    expect(json.core.bytes).toBeGreaterThan(4 * 1024 ** 3);
    expect(json.core.buildIdMatch).toBe(true);
    expect(json.report.culprit?.function).toBe("main.use");
    expect(json.report.sources.delve?.used).toBe(true);
    // Figures for the report (vitest prints console output of the test).
    process.stderr.write(
      `[bigcore] core ${(json.core.bytes / 1024 ** 3).toFixed(2)} GiB, stored ${(json.core.storedBytes / 1024 ** 2).toFixed(1)} MiB, hotdump peak RSS ${(peakKb / 1024).toFixed(0)} MiB\n`,
    );
    expect(peakKb).toBeGreaterThan(0);
    expect(peakKb).toBeLessThan(400 * 1024);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}, 200_000);
