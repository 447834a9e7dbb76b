/**
 * The structure check (scripts/check-imports.mjs, run by `make lint`): it passes on src/ and fails,
 * naming the import, on a tree with a module cycle, a folder cycle, an import that does not go
 * down the layer table (up a layer, across one, from a folder the table does not know), or one
 * that enters another folder past its barrel (index.ts).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const script = join(import.meta.dirname, "..", "scripts", "check-imports.mjs");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "hotdump-structure-"));
  dirs.push(root);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

const check = (dir: string) => spawnSync(process.execPath, [script, dir], { encoding: "utf8" });

describe("check-imports", () => {
  it("passes on hotdump's own src/", () => {
    const out = execFileSync(process.execPath, [script], { encoding: "utf8" });
    expect(out).toMatch(/no import cycles, every import goes down the \d+ layers/);
  });

  it("fails on a module cycle, even through `import type`", () => {
    const r = check(
      tree({
        "a/x.ts": 'import type { Y } from "./y.js";\nexport type X = Y;\n',
        "a/y.ts": 'import { x } from "./x.js";\nexport const y = x;\n',
      }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/import cycle among 2 modules: .*a\/x\.ts, .*a\/y\.ts/);
  });

  it("fails on a folder cycle and names the imports that make it", () => {
    const r = check(
      tree({
        "store/bundle.ts": 'import type { Report } from "../analyze/report.js";\nexport type B = Report;\n',
        "analyze/report.ts": "export type Report = {};\n",
        "analyze/analyzeCrash.ts": 'import type { B } from "../store/bundle.js";\nexport type A = B;\n',
      }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/folder cycle analyze -> store -> analyze/);
    expect(r.stderr).toMatch(/store\/bundle\.ts -> \S*analyze\/report\.ts/);
  });

  it("fails when a stage imports from cli/", () => {
    const r = check(
      tree({
        "cli/crashes.ts": "export const listCrashes = () => [];\n",
        "ui/data.ts": 'import { listCrashes } from "../cli/crashes.js";\nexport const d = listCrashes;\n',
      }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /ui\/data\.ts imports .*cli\/crashes\.ts: ui\/ \(layer \d+\) may import only lower layers/,
    );
  });

  // One case per kind of wrong arrow; each tree is otherwise well layered, so the named import is
  // the only reason it fails.
  const violations: [string, Record<string, string>, RegExp][] = [
    [
      "util/ importing report/ (the bottom importing a stage)",
      {
        "report/text.ts": "export const renderText = () => '';\n",
        "util/log.ts": 'import { renderText } from "../report/text.js";\nexport const log = renderText;\n',
      },
      /util\/log\.ts imports \S*report\/text\.ts: util\/ \(layer 0\) may import only lower layers, and report\/ is layer \d/,
    ],
    [
      "report/ importing analyze/ (the renderers need the contract alone)",
      {
        "analyze/frames.ts": "export const classify = () => 'user';\n",
        "report/text.ts": 'import { classify } from "../analyze/frames.js";\nexport const t = classify;\n',
      },
      /report\/text\.ts imports \S*analyze\/frames\.ts/,
    ],
    [
      "contracts/ importing config/",
      {
        "config/configTypes.ts": "export type Config = {};\n",
        "contracts/crashMeta.ts":
          'import type { Config } from "../config/configTypes.js";\nexport type B = Config;\n',
      },
      /contracts\/crashMeta\.ts imports \S*config\/configTypes\.ts/,
    ],
    [
      "a folder importing one on its own layer (store/ importing elf/)",
      {
        "elf/core.ts": "export const openCore = () => null;\n",
        "store/bundle.ts": 'import { openCore } from "../elf/core.js";\nexport const b = openCore;\n',
      },
      /store\/bundle\.ts imports \S*elf\/core\.ts: store\/ \(layer 2\) may import only lower layers, and elf\/ is layer 2/,
    ],
    [
      "analyze/ importing capture/ (a stage importing the one that drives it)",
      {
        "capture/capture.ts": "export const captureCrash = () => null;\n",
        "analyze/analyzeCrash.ts":
          'import { captureCrash } from "../capture/capture.js";\nexport const a = captureCrash;\n',
      },
      /analyze\/analyzeCrash\.ts imports \S*capture\/capture\.ts/,
    ],
    [
      "a top-level module of the bottom layer importing a stage (errors.ts importing store/)",
      {
        "store/layout.ts": "export const STORE_NAME = '.hotdump';\n",
        "errors.ts": 'import { STORE_NAME } from "./store/layout.js";\nexport const e = STORE_NAME;\n',
      },
      /errors\.ts imports \S*store\/layout\.ts/,
    ],
    [
      "an import into another folder past its barrel (cli/ importing store/bundle.ts, not store/index.ts)",
      {
        "store/bundle.ts": "export const openBundle = () => null;\n",
        "store/index.ts": 'export { openBundle } from "./bundle.js";\n',
        "cli/report.ts": 'import { openBundle } from "../store/bundle.js";\nexport const r = openBundle;\n',
      },
      /cli\/report\.ts imports \S*store\/bundle\.ts past its folder's barrel: import it from \S*store\/index\.ts/,
    ],
    [
      "a sub-folder's module reached past its barrel (analyze/delve/client.ts is an entry, rpc.ts is not)",
      {
        "analyze/delve/rpc.ts": "export const connect = () => null;\n",
        "analyze/delve/index.ts": 'export { connect } from "./rpc.js";\n',
        "cli/debug.ts": 'import { connect } from "../analyze/delve/rpc.js";\nexport const d = connect;\n',
      },
      /cli\/debug\.ts imports \S*analyze\/delve\/rpc\.ts past its folder's barrel: import it from \S*analyze\/delve\/index\.ts/,
    ],
    [
      "a folder the table does not know",
      {
        "plugins/x.ts": 'import { e } from "../errors.js";\nexport const x = e;\n',
        "errors.ts": "export const e = 1;\n",
      },
      /plugins\/x\.ts is in plugins\/, which has no layer/,
    ],
  ];
  it("passes on imports through a barrel, a sub-folder's barrel, its parent's module, and a deferred import()", () => {
    const r = check(
      tree({
        "store/bundle.ts": "export const openBundle = () => null;\n",
        "store/index.ts": 'export { openBundle } from "./bundle.js";\n',
        "analyze/frames.ts": "export const classify = () => 'user';\n",
        "analyze/delve/rpc.ts":
          'import { classify } from "../frames.js";\nexport const connect = classify;\n',
        "analyze/delve/index.ts": 'export { connect } from "./rpc.js";\n',
        "cli/report.ts":
          'import { openBundle } from "../store/index.js";\nimport { connect } from "../analyze/delve/index.js";\n' +
          'export const r = [openBundle, connect, () => import("../analyze/frames.js")];\n',
      }),
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  for (const [name, files, message] of violations)
    it(`fails on ${name}`, () => {
      const r = check(tree(files));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
    });

  it("passes a tree whose imports all go down the layers", () => {
    const r = check(
      tree({
        "errors.ts": "export const e = 1;\n",
        "store/layout.ts": 'import { e } from "../errors.js";\nexport const s = e;\n',
        "capture/capture.ts": 'import { s } from "../store/layout.js";\nexport const c = s;\n',
        "capture/index.ts": 'export { c } from "./capture.js";\n',
        "cli/exec.ts": 'import { c } from "../capture/index.js";\nexport const x = c;\n',
      }),
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
