#!/usr/bin/env node
// The structure check `make test` runs (`node scripts/check-imports.mjs`): src/ has no import cycle
// between modules nor between its folders, and every import between folders goes down the layer
// table below (a folder imports only folders on a lower layer, never one beside or above it), and
// enters another folder through its barrel (index.ts), the exceptions named below.
// Imports are read with TypeScript's own parser, so `import type`, `export … from` and
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

/** Every module specifier in a file: static imports and re-exports, `import()`, `import("…").T`. */
function specifiers(file) {
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  /** @type {{ spec: string; dynamic: boolean }[]} */
  const out = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier)
      out.push({ spec: node.moduleSpecifier.text, dynamic: false });
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) out.push({ spec: arg.text, dynamic: true });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument))
      out.push({ spec: node.argument.literal.text, dynamic: false });
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const files = walk(src);
const known = new Set(files);
/** @type {Map<string, string[]>} */
const graph = new Map();
/** @type {Map<string, Set<string>>} the targets each file loads only through `import()` */
const dynamicOnly = new Map();
for (const file of files) {
  const deps = [];
  const statics = new Set();
  const dynamics = new Set();
  for (const { spec, dynamic } of specifiers(file)) {
    if (!spec.startsWith(".")) continue;
    const target = resolve(dirname(file), spec).replace(/\.js$/, ".ts");
    if (!known.has(target)) continue;
    deps.push(target);
    (dynamic ? dynamics : statics).add(target);
  }
  graph.set(file, deps);
  dynamicOnly.set(file, new Set([...dynamics].filter((t) => !statics.has(t))));
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

// Barrels: another folder is entered through its index.ts (or a sub-folder's, analyze/delve/index.ts),
// which exports what other folders use; the rest of the folder is its own business. A module may
// use its own folder's and its parent folders' modules directly (analyze/delve/ → analyze/).
// An ES module loads every module its barrel re-exports, and each command loads only its own
// modules (cli/program.ts), so a barrel that re-exported a heavy folder's every entry would make
// `hotdump crashes` load Delve's client or `hotdump cheatsheet` the live-dump chain. Hence:
// - util/ is a set of leaf helpers (node: built-ins only, no other folder): its modules are
//   imported one by one; a util/index.ts would make every command load every helper.
// - forensics/ is one engine per command (cheatsheet, diff, scan, eval/mem, snapshot, profile),
//   each imported by its cli/ file alone: a barrel made `hotdump cheatsheet` load 119 modules, not 9.
// - ENTRIES: a heavy folder's light entry modules, importable directly, each with its reason.
// - `import()` names the one module it loads: a dynamic import is how a command defers a load.
const BARRELLESS = new Set(["util", "forensics"]);
const ENTRIES = new Map([
  ["store/layout.ts", "every command resolves --store (cli/common.ts); the barrel loads SQLite"],
  ["store/trust.ts", "every command checks the store's owner (cli/common.ts); the barrel loads SQLite"],
  ["store/queries.ts", "crashes, history and the dashboard list the journal, no bundle writing"],
  ["report/json.ts", "the store writes report.json without the text, Markdown and HTML renderers"],
  ["report/reportSchema.ts", "the store checks report.json without the renderers"],
  ["capture/mode.ts", "dev, run and exec parse --capture before the capture stage (and its analysis) loads"],
  [
    "fleet/hook.ts",
    "dev, run and exec start the fleet's sender only when configured (the barrel loads S3 and pg)",
  ],
  ["fleet/settings.ts", "exec reads the fleet's settings without the S3 SDK and pg"],
  ["ui/auth.ts", "dev and run read --ui-token without loading the dashboard's server"],
  ["ui/errors.ts", "dev and run refuse a token in argv without loading the dashboard's server"],
  ["supervise/start.ts", "dev starts its first go build before the supervisor, capture and analysis load"],
  ["build/goBuildPlan.ts", "dev starts its first go build before the CLI, the config and the store load"],
  [
    "build/planCache.ts",
    "dev reads the plan of that first build before the CLI, the config and the store load",
  ],
  ["supervise/control.ts", "run and reload talk to a running hotdump without the supervisor or prom-client"],
  ["analyze/signature.ts", "a crash's signature, for the fleet and the supervisor, without the analysers"],
  ["analyze/signatureGroups.ts", "crashes and the dashboard group stored crashes, without the analysers"],
  ["analyze/delve/errors.ts", "dev, run and exec print Delve's install remedy without loading its client"],
  ["analyze/delve/client.ts", "analyze starts `dlv core` before it loads the analysis, to overlap the two"],
  ["supervise/runOnce.ts", "exec runs one program once: not dev's watcher nor run's sockets"],
  ["supervise/devSession.ts", "dev's session: not exec's nor run's"],
  ["supervise/runService.ts", "run's service: not dev's watcher nor its builds"],
]);
const topFolder = (p) => relative(src, p).split("/")[0];
for (const [file, deps] of graph) {
  for (const d of new Set(deps)) {
    const from = dirname(file);
    const to = dirname(d);
    if (to === from || `${from}/`.startsWith(`${to}/`)) continue;
    if (d.endsWith("/index.ts") || BARRELLESS.has(topFolder(d)) || ENTRIES.has(relative(src, d))) continue;
    if (dynamicOnly.get(file)?.has(d)) continue;
    problems.push(
      `${rel(file)} imports ${rel(d)} past its folder's barrel: import it from ${rel(join(to, "index.ts"))}`,
    );
  }
}
for (const entry of ENTRIES.keys())
  if (files.length > 0 && !known.has(join(src, entry)) && src === resolve(root, "src"))
    problems.push(`ENTRIES in scripts/check-imports.mjs names ${entry}, which is not in src/`);

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
  `check-imports: ${files.length} modules, ${folders.size} folders, no import cycles, every import goes down the ${LAYERS.length} layers and through a barrel`,
);
