/**
 * The structure check (scripts/check-imports.mjs, run by `make lint`): it passes on src/ and fails,
 * naming the import, on a tree with a module cycle, a folder cycle or an import of cli/ from below.
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
    expect(out).toMatch(/no import cycles, src\/cli\/ imported only from src\/cli\//);
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
        "analyze/analyze.ts": 'import type { B } from "../store/bundle.js";\nexport type A = B;\n',
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
    expect(r.stderr).toMatch(/ui\/data\.ts imports .*cli\/crashes\.ts/);
  });
});
