#!/usr/bin/env node
// The structure check `make test` runs (`node scripts/check-imports.mjs`): src/ has no import cycle
// between modules nor between its folders, and every import between folders goes down the layer
// table below (a folder imports only folders on a lower layer, never one beside or above it).
// Imports are read with TypeScript's own pre-processor, so `import type`, `export … from` and
// dynamic `import()` all count: a type-only cycle still ties two modules' contracts together.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = resolve(root, process.argv[2] ?? "src");

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

const files = walk(src);
const known = new Set(files);
/** @type {Map<string, string[]>} */
const graph = new Map();
for (const file of files) {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  const deps = [];
  for (const ref of info.importedFiles) {
    if (!ref.fileName.startsWith(".")) continue;
    const target = resolve(dirname(file), ref.fileName).replace(/\.js$/, ".ts");
    if (known.has(target)) deps.push(target);
  }
  graph.set(file, deps);
}

const rel = (p) => relative(dirname(src), p);
const problems = [];

// The layers, bottom first. A folder (or a top-level module, named without .ts) imports only
// folders on a lower layer. The pipeline runs watch → build → supervise → capture → analyze →
// present, and each stage that drives the next sits above it: supervise starts captures, a
// capture runs the analysis of the core it stored (capture/capture.ts calls analyze/), so capture
// is above analyze. report/ is the Report contract's schema and renderers, a function of the
// contract alone: the store writes report.json with the renderer `report -f json` prints, so
// report/ sits right above the contracts, under the store. watch/ and build/ need only config/,
// elf/, store/ and util/, and are driven by supervise/: they sit with analyze/.
const LAYERS = [
  ["contracts", "util", "errors"],
  ["report"],
  ["elf", "store", "config"],
  ["watch", "build", "analyze"],
  ["capture"],
  ["supervise", "forensics"],
  ["ui"],
  // The fleet sends the store's bundles out and serves the dashboard's pages over every host's.
  ["fleet"],
  ["cli"],
];
const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));
const folderOf = (p) => relative(src, p).split("/")[0].replace(/\.ts$/, "");
const layerName = (f) => (layerOf.has(f) ? `layer ${layerOf.get(f)}` : "no layer");
for (const [file, deps] of graph) {
  const a = folderOf(file);
  if (!layerOf.has(a)) {
    problems.push(
      `${rel(file)} is in ${a}/, which has no layer (add it to LAYERS in scripts/check-imports.mjs)`,
    );
    continue;
  }
  for (const d of deps) {
    const b = folderOf(d);
    if (a === b) continue;
    if (!layerOf.has(b) || layerOf.get(b) >= layerOf.get(a))
      problems.push(
        `${rel(file)} imports ${rel(d)}: ${a}/ (${layerName(a)}) may import only lower layers, and ${b}/ is ${layerName(b)}`,
      );
  }
}

// Tarjan's strongly connected components: every component with more than one module, or a module
// importing itself, is a cycle.
let index = 0;
const idx = new Map();
const low = new Map();
const onStack = new Set();
const stack = [];
function strong(v) {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!idx.has(w)) {
      strong(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) {
      problems.push(`import cycle among ${comp.length} modules: ${comp.map(rel).sort().join(", ")}`);
    }
  }
}
for (const f of files) if (!idx.has(f)) strong(f);

// The same between folders: src/a/x.ts importing src/b/y.ts is an arrow a -> b. A cycle here is
// two stages that each need the other's internals, the smell the contracts/ folder removes (the
// layer table already refuses it; this names the whole loop).
/** @type {Map<string, Map<string, string>>} folder -> folder -> one import that proves the arrow */
const folders = new Map();
for (const [file, deps] of graph)
  for (const d of deps) {
    const a = folderOf(file);
    const b = folderOf(d);
    if (a === b) continue;
    if (!folders.has(a)) folders.set(a, new Map());
    if (!folders.get(a).has(b)) folders.get(a).set(b, `${rel(file)} -> ${rel(d)}`);
  }
const state = new Map();
const path = [];
function visit(f) {
  state.set(f, "open");
  path.push(f);
  for (const [g] of folders.get(f) ?? []) {
    if (state.get(g) === "open") {
      const loop = [...path.slice(path.indexOf(g)), g];
      const proof = loop.slice(0, -1).map((x, i) => folders.get(x).get(loop[i + 1]));
      problems.push(`folder cycle ${loop.join(" -> ")} (${proof.join("; ")})`);
    } else if (!state.has(g)) visit(g);
  }
  path.pop();
  state.set(f, "done");
}
for (const f of [...folders.keys()].sort()) if (!state.has(f)) visit(f);

if (problems.length > 0) {
  for (const p of problems) console.error(`check-imports: ${p}`);
  process.exit(1);
}
console.log(
  `check-imports: ${files.length} modules, ${folders.size} folders, no import cycles, every import goes down the ${LAYERS.length} layers`,
);
