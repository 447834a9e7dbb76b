/** Every cheat-sheet command runs against a real Go 1.26 core and must print what the sheet promises. */
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveDlvPath } from "../src/analyze/delve/index.js";
import { CHEATSHEET, renderCheatsheet } from "../src/forensics/debuggerCheatsheet.js";
import { produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";
import { withinTest } from "./helpers/testLimit.js";

const execFileAsync = promisify(execFile);

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

/** A debugger run to its end, asynchronously: a slow one on a loaded machine must not block the worker. */
async function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await execFileAsync(cmd, args, {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: withinTest(60_000),
  });
  return stdout;
}

async function runDlv(commands: string): Promise<string> {
  const init = join(dir, "init.dlv");
  writeFileSync(init, `${commands}\nexit\n`);
  const out = await run(
    resolveDlvPath(),
    ["core", bin, core, "--init", init, "--allow-non-terminal-interactive=true"],
    { TERM: "dumb" },
  );
  return out.replace(/\x1b\[[0-9;]*m/g, "");
}

function runGdb(commands: string): Promise<string> {
  return run("gdb", ["-nx", "-batch", ...commands.split("\n").flatMap((c) => ["-ex", c]), bin, core]);
}

describe("cheat sheet", () => {
  for (const e of CHEATSHEET) {
    it(`${e.tool}: ${e.example.replace(/\n/g, "; ")}`, async () => {
      const cmd = e.example.replace("{STACKHOLDER}", stackHolder);
      const out = e.tool === "dlv" ? await runDlv(cmd) : await runGdb(cmd);
      expect(out).toMatch(new RegExp(e.expect, "m"));
    });
  }

  it("docs/cheatsheet.md is generated from the sheet", () => {
    const path = join(import.meta.dirname, "../docs/cheatsheet.md");
    if (process.env.UPDATE_DOCS) writeFileSync(path, renderCheatsheet());
    expect(readFileSync(path, "utf8")).toBe(renderCheatsheet());
  });
});
