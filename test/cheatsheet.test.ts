/** Every cheat-sheet command runs against a real Go 1.26 core and must print what the sheet promises. */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveDlvPath } from "../src/analyze/delve/index.js";
import { CHEATSHEET, renderCheatsheet } from "../src/forensics/debuggerCheatsheet.js";
import { produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";

let bin: string;
let core: string;
let dir: string;
let stackHolder: string;

beforeAll(async () => {
  bin = buildGoFixture("fxmem");
  const c = await produceCore(bin, ["crash"]);
  core = c.core;
  dir = c.dir;
  stackHolder = /stackholder goroutine (\d+)/.exec(c.stdout)?.[1] ?? "missing";
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runDlv(commands: string): string {
  const init = join(dir, "init.dlv");
  writeFileSync(init, `${commands}\nexit\n`);
  return execFileSync(
    resolveDlvPath(),
    ["core", bin, core, "--init", init, "--allow-non-terminal-interactive=true"],
    {
      encoding: "utf8",
      env: { ...process.env, TERM: "dumb" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    },
  ).replace(/\x1b\[[0-9;]*m/g, "");
}

function runGdb(commands: string): string {
  const args = ["-nx", "-batch", ...commands.split("\n").flatMap((c) => ["-ex", c]), bin, core];
  return execFileSync("gdb", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
}

describe("cheat sheet", () => {
  for (const e of CHEATSHEET) {
    it(`${e.tool}: ${e.example.replace(/\n/g, "; ")}`, () => {
      const cmd = e.example.replace("{STACKHOLDER}", stackHolder);
      const out = e.tool === "dlv" ? runDlv(cmd) : runGdb(cmd);
      expect(out).toMatch(new RegExp(e.expect, "m"));
    });
  }

  it("docs/cheatsheet.md is generated from the sheet", () => {
    const path = join(import.meta.dirname, "../docs/cheatsheet.md");
    if (process.env.UPDATE_DOCS) writeFileSync(path, renderCheatsheet());
    expect(readFileSync(path, "utf8")).toBe(renderCheatsheet());
  });
});
