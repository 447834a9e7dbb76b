/**
 * `hotdump debug --gdb` as good as Delve where it is the fallback (issue 22), on a real stored
 * crash: gdb lands on the culprit frame, Go's runtime-gdb.py is loaded (its `info goroutines`
 * works), and no false "core file may not match" although the store keeps the binary under its
 * SHA-256; `--gdb --vscode` writes a cppdbg launch configuration.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";

let bin = "";
let dir = "";
let store = "";
let id = "";
beforeAll(async () => {
  bin = buildGoFixture("govalues");
  dir = mkdtempSync(join(tmpdir(), "hotdump-gdbdebug-"));
  store = join(dir, "store");
  const e = await runCli(["exec", "--json", "--store", store, "--", bin, "nilfield"], { cwd: dir });
  id = (JSON.parse(e.stdout) as { crash: { id: string } }).crash.id;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("hotdump debug --gdb", () => {
  it("opens on the culprit with Go's helpers loaded and no false mismatch warning", async () => {
    const r = await runCli(["debug", id, "--gdb", "--store", store], {
      cwd: dir,
      input: "frame\ninfo goroutines\nquit\n",
    });
    const all = `${r.stdout}\n${r.stderr}`;
    expect(r.code, all).toBe(0);
    // `frame` prints the selected frame: the culprit, not runtime.raise (where the core opens).
    expect(r.stdout).toMatch(
      /^\(gdb\) #\d+ +0x[0-9a-f]+ in main\.notify \(.*\)\s+at \S+govalues\/main\.go:75$/m,
    );
    expect(all).toContain("Loading Go Runtime support.");
    // runtime-gdb.py's `info goroutines`: the crashing goroutine 1 is running.
    expect(r.stdout).toMatch(/^(\(gdb\) )?\* +1 running +runtime\./m);
    expect(all).not.toContain("may not match");
    expect(all).not.toMatch(/auto-loading has been declined/);
    expect(r.stderr).toMatch(/gdb opens on the culprit main\.notify, the report's frame #\d+/);
  });

  it("--gdb --vscode writes a cppdbg configuration on the core", async () => {
    const r = await runCli(["debug", id, "--gdb", "--vscode", "--store", store], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const launch = JSON.parse(readFileSync(join(dir, ".vscode/launch.json"), "utf8")) as {
      configurations: Record<string, unknown>[];
    };
    const c = launch.configurations.find((x) => x.type === "cppdbg");
    expect(c).toMatchObject({ request: "launch", MIMode: "gdb", cwd: dir });
    expect(existsSync(c?.program as string)).toBe(true);
    expect(existsSync(c?.coreDumpPath as string)).toBe(true);
    expect(JSON.stringify(c?.setupCommands)).toContain("runtime-gdb.py");
  });
});
