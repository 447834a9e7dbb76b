#!/usr/bin/env node
// The structure figures of issue 21's note: functions longer than 150 lines in src/, and exports
// nothing outside their module uses (a use in a test, a bench script or another module counts; a
// barrel's `export … from` alone does not; the .mjs bench scripts, which import dist/, count by name). `node scripts/structure-figures.mjs [--list]`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(fileURLToPath(import.meta.url), "../..");
const src = join(root, "src");
const walk = (d) =>
  readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") && !p.endsWith(".d.ts") ? [p] : [];
  });
const modules = walk(src).filter((f) => !f.endsWith(".test.ts"));
const everything = [...walk(src), ...walk(join(root, "test")), ...walk(join(root, "bench"))];
const program = ts.createProgram(everything, {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  noEmit: true,
});
const checker = program.getTypeChecker();
const original = (s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);

const long = [];
for (const f of modules) {
  const sf = program.getSourceFile(f);
  const visit = (n, name) => {
    const fn =
      ts.isFunctionDeclaration(n) ||
      ts.isArrowFunction(n) ||
      ts.isFunctionExpression(n) ||
      ts.isMethodDeclaration(n);
    if (fn) {
      const a = sf.getLineAndCharacterOfPosition(n.getStart()).line;
      const b = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      if (b - a + 1 > 150)
        long.push([b - a + 1, n.name?.getText() ?? name ?? "<anonymous>", `${relative(src, f)}:${a + 1}`]);
    }
    const inner = ts.isVariableDeclaration(n) || ts.isPropertyAssignment(n) ? n.name.getText() : name;
    ts.forEachChild(n, (c) => visit(c, inner));
  };
  visit(sf);
}

/** symbol -> the files that name it */
const usedIn = new Map();
for (const f of everything) {
  const sf = program.getSourceFile(f);
  const visit = (n) => {
    // A barrel's `export { x } from` hands a name on; it is no use of it.
    if (ts.isExportDeclaration(n) && n.moduleSpecifier) return;
    if (ts.isIdentifier(n)) {
      const s = checker.getSymbolAtLocation(n);
      if (s) {
        const o = original(s);
        if (!usedIn.has(o)) usedIn.set(o, new Set());
        usedIn.get(o).add(f);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}
/** "store/retention.ts diskUsage": what the .mjs bench scripts import from dist/ (statically or by import()) */
const benchUses = new Set();
const mjs = (d) =>
  readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? mjs(p) : p.endsWith(".mjs") ? [p] : [];
  });
for (const f of mjs(join(root, "bench"))) {
  const text = readFileSync(f, "utf8");
  const re = /(?:import|const)\s*\{([^}]*)\}\s*(?:from|=\s*await\s+import\()\s*"[./]*\/dist\/([^"]+)\.js"/g;
  for (const [, names, mod] of text.matchAll(re))
    for (const n of names.split(",")) {
      const name = n
        .trim()
        .split(/\s+as\s+|:/)[0]
        ?.trim();
      if (name) benchUses.add(`${mod}.ts ${name}`);
    }
}
let total = 0;
const unused = [];
for (const f of modules) {
  const ms = checker.getSymbolAtLocation(program.getSourceFile(f));
  for (const e of ms ? checker.getExportsOfModule(ms) : []) {
    const s = original(e);
    if (s.declarations?.[0]?.getSourceFile().fileName !== f) continue; // counted where declared
    total++;
    const users = [...(usedIn.get(s) ?? [])].filter((u) => u !== f);
    if (users.length === 0 && !benchUses.has(`${relative(src, f)} ${e.name}`))
      unused.push(`${relative(src, f)} ${e.name}`);
  }
}
long.sort((a, b) => b[0] - a[0]);
console.log(`functions over 150 lines: ${long.length} (over 200: ${long.filter((l) => l[0] > 200).length})`);
for (const [n, name, at] of long) console.log(`  ${n} ${name} ${at}`);
console.log(`exports: ${total}; used nowhere outside their module: ${unused.length}`);
if (process.argv.includes("--list")) for (const u of unused) console.log(`  ${u}`);
