import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { closeEarlyDelve, startEarlyDelve, takeEarlyDelve } from "./earlyDelve.js";

const dir = mkdtempSync(join(tmpdir(), "hotdump-early-"));
const bin = join(dir, "bin");
const core = join(dir, "core");
writeFileSync(bin, "x");
writeFileSync(core, "x");
// A dlv that does not exist: the session fails at once, so no process is started by these tests.
const saved = process.env.HOTDUMP_DLV;
process.env.HOTDUMP_DLV = join(dir, "no-dlv");

afterEach(async () => {
  await closeEarlyDelve();
});
afterAll(() => {
  if (saved === undefined) delete process.env.HOTDUMP_DLV;
  else process.env.HOTDUMP_DLV = saved;
  rmSync(dir, { recursive: true, force: true });
});

describe("startEarlyDelve", () => {
  it("starts a session for a plain analysis, handed once to the same binary and core", async () => {
    await startEarlyDelve(["analyze", "--binary", bin, `--core=${core}`, "-o", "/dev/null"]);
    expect(takeEarlyDelve(bin, join(dir, "other"))).toBeUndefined();
    const s = takeEarlyDelve(bin, core);
    expect(s).toBeDefined();
    await expect(s).rejects.toMatchObject({ code: "E_DLV_NOT_FOUND" });
    expect(takeEarlyDelve(bin, core)).toBeUndefined();
  });

  it.each([
    ["another command", ["report", "--binary", bin, "--core", core]],
    ["--crash", ["analyze", "--crash", "latest"]],
    ["--no-delve", ["analyze", "--binary", bin, "--core", core, "--no-delve"]],
    ["--help", ["analyze", "--binary", bin, "--core", core, "--help"]],
    ["a missing core", ["analyze", "--binary", bin, "--core", join(dir, "missing")]],
    ["a directory as the binary", ["analyze", "--binary", dir, "--core", core]],
    ["no --core", ["analyze", "--binary", bin]],
  ])("starts nothing for %s", async (_what, argv) => {
    await startEarlyDelve(argv);
    expect(takeEarlyDelve(bin, core)).toBeUndefined();
  });
});
