/**
 * `hotdump analyze` on real cores: Delve first, gdb when Delve is hidden, the traceback alone when
 * both are off; a core from another build refused; a truncated core gives a partial report that
 * says so; a stored crash analysed again.
 */
import { closeSync, copyFileSync, ftruncateSync, openSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../src/contracts/reportModel.js";
import { runCli } from "./helpers/cli.js";
import { type ProducedCore, produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";

let bin: string;
let crash: ProducedCore;
const analyze = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = await runCli(["analyze", "--format", "json", ...args], { env });
  return { r, report: r.code === 0 ? (JSON.parse(r.stdout) as Report) : null };
};

beforeAll(async () => {
  bin = buildGoFixture("exectarget");
  crash = await produceCore(bin, ["panic"]);
});

describe("hotdump analyze", () => {
  it("names the culprit with Delve, merging the traceback", async () => {
    const stderr = join(crash.dir, "stderr.txt");
    writeFileSync(stderr, crash.stderr);
    const { report } = await analyze(["--binary", bin, "--core", crash.core, "--stderr", stderr]);
    expect(report?.sources.delve.used).toBe(true);
    expect(report?.sources.traceback.used).toBe(true);
    expect(report?.culprit).toMatchObject({ function: "main.process", line: 19 });
    expect(report?.core?.buildIdMatch).toBe(true);
    expect(report?.registers.some((r) => /rip/i.test(r.name))).toBe(true);
  });

  it("falls back to gdb when Delve is missing, and says why", async () => {
    const { report } = await analyze(["--binary", bin, "--core", crash.core], {
      HOTDUMP_DLV: "/nonexistent/dlv",
    });
    expect(report?.sources.delve.used).toBe(false);
    expect(report?.sources.delve.note).toMatch(/dlv/i);
    expect(report?.sources.gdb.used).toBe(true);
    expect(report?.culprit).toMatchObject({ function: "main.process", line: 19 });
  });

  it("uses the traceback alone when no debugger may run", async () => {
    const stderr = join(crash.dir, "stderr2.txt");
    writeFileSync(stderr, crash.stderr);
    const { report } = await analyze([
      "--binary",
      bin,
      "--core",
      crash.core,
      "--stderr",
      stderr,
      "--no-delve",
      "--no-gdb",
    ]);
    expect(report?.sources.delve.used).toBe(false);
    expect(report?.sources.gdb.used).toBe(false);
    expect(report?.culprit?.function).toBe("main.process");
  });

  it("refuses a core from another build of the same program, unless forced", async () => {
    const other = buildGoFixture("exectarget", { flags: ["-ldflags=-X main.v=2"] });
    const { r } = await analyze(["--binary", other, "--core", crash.core]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /was not produced by .* analysis refused; --force to try anyway \[E_BUILD_ID_MISMATCH\]/,
    );
    const forced = await analyze(["--binary", other, "--core", crash.core, "--force"]);
    expect(forced.r.code).toBe(0);
    expect(forced.report?.core?.buildIdMatch).toBe(false);
  });

  it("gives a clear partial report for a truncated core", async () => {
    const cut = join(crash.dir, "core.cut");
    copyFileSync(crash.core, cut);
    const fd = openSync(cut, "r+");
    ftruncateSync(fd, Math.floor(statSync(crash.core).size / 3));
    closeSync(fd);
    const { r, report } = await analyze(["--binary", bin, "--core", cut]);
    expect(r.code).toBe(0);
    expect(report?.core?.truncated).toBe(true);
    expect(report?.warnings.join("\n")).toMatch(/truncated/);
  });

  it("culprit stays right for an optimised build (locals may be unreadable)", async () => {
    const opt = buildGoFixture("exectarget", { debug: false });
    const c = await produceCore(opt, ["panic"]);
    const { report } = await analyze(["--binary", opt, "--core", c.core]);
    expect(report?.culprit?.function).toBe("main.process");
  });

  it("analyses a stored crash again with --crash", async () => {
    const cwd = crash.dir;
    const store = join(cwd, "store");
    const e = await runCli(["exec", "--json", "--store", store, "--", bin, "fault"], { cwd });
    const id = (JSON.parse(e.stdout) as { crash: { id: string } }).crash.id;
    const { r, report } = await analyze(["--store", store, "--crash", id, "--no-delve"]);
    expect(r.code).toBe(0);
    expect(report?.sources.gdb.used).toBe(true);
    expect(report?.next).toContain(`hotdump debug ${id}`);
    // The same core steps as the capture: the build-ID proof and the memory map, read again from
    // the stored core (gdb gives no map, so this one is the core's own).
    expect(report?.core?.buildIdMatch).toBe(true);
    expect(report?.memoryMap.some((m) => m.perms === "r-x" && m.file?.endsWith(bin.split("/").pop()!))).toBe(
      true,
    );
  });
});
