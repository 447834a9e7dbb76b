/**
 * Flame graphs without graphviz or Perl: stacks are merged into a tree (children in name order,
 * as Brendan Gregg's flamegraph.pl does, so identical paths merge however samples arrived) and
 * drawn as plain SVG rectangles, root at the bottom. No script in the SVG: it is opened from a
 * store that holds secrets and may be served by the dashboard, so it must be inert. Every name is
 * escaped: function names come from the profiled program (and C++ or generic names hold < > &).
 */

export interface Stack {
  /** Root first. */
  frames: string[];
  value: number;
}

/** The de-facto "folded" text (flamegraph.pl, inferno, speedscope read it): `a;b;c 12` per line. */
export function foldStacks(stacks: readonly Stack[]): string {
  const merged = new Map<string, number>();
  for (const s of stacks) {
    if (s.value <= 0 || s.frames.length === 0) continue;
    // A ';' inside a name would split a frame in two for every reader of the format.
    const key = s.frames.map((f) => f.replaceAll(";", ":")).join(";");
    merged.set(key, (merged.get(key) ?? 0) + s.value);
  }
  return [...merged]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k} ${v}\n`)
    .join("");
}

export function parseFolded(text: string): Stack[] {
  const out: Stack[] = [];
  for (const line of text.split("\n")) {
    const m = /^(.*) (\d+)$/.exec(line.trimEnd());
    if (m?.[1]) out.push({ frames: m[1].split(";"), value: Number(m[2]) });
  }
  return out;
}

/**
 * `perf script` output (default fields) to stacks. Each sample is a header line, then one
 * indented line per frame, leaf first: `\t  4a1b2c main.burnCPU+0x2c (/path/bin)`, then a blank
 * line. Frame-pointer unwinding loses the caller of a frameless leaf (small Go leaf functions
 * push no frame), so such a leaf can sit directly on runtime.goexit. Unresolved frames (`[unknown]`) are named after their object, as flamegraph.pl's
 * stackcollapse-perf does, so they at least say which binary or library they are in.
 */
export function parsePerfScript(text: string): Stack[] {
  const out: Stack[] = [];
  let leafFirst: string[] | null = null;
  const flush = () => {
    if (leafFirst && leafFirst.length > 0) out.push({ frames: leafFirst.reverse(), value: 1 });
    leafFirst = null;
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      flush();
      continue;
    }
    if (!/^\s/.test(line)) {
      flush();
      leafFirst = [];
      continue;
    }
    const m = /^\s*[0-9a-fA-F]+\s+(.*?)(?:\s+\(([^()]*)\))?\s*$/.exec(line);
    if (!m || !leafFirst) continue;
    // ".abi0" marks Go's assembly-ABI symbols in the ELF table; pprof names them without it.
    let sym = (m[1] ?? "").replace(/\+0x[0-9a-fA-F]+$/, "").replace(/\.abi0$/, "");
    if (sym === "" || sym === "[unknown]") {
      const dso = (m[2] ?? "").split("/").pop() ?? "";
      sym = dso && dso !== "[unknown]" ? `[${dso}]` : "[unknown]";
    }
    (leafFirst as string[]).push(sym);
  }
  flush();
  return out;
}

/** The functions with the most samples as the sampled (leaf) frame. */
export function topSelf(stacks: readonly Stack[], n = 5): { name: string; value: number; share: number }[] {
  const self = new Map<string, number>();
  let total = 0;
  for (const s of stacks) {
    const leaf = s.frames[s.frames.length - 1];
    if (leaf === undefined || s.value <= 0) continue;
    self.set(leaf, (self.get(leaf) ?? 0) + s.value);
    total += s.value;
  }
  return [...self]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([name, value]) => ({ name, value, share: total > 0 ? value / total : 0 }));
}

interface Node {
  name: string;
  value: number;
  children: Map<string, Node>;
}

function buildTree(stacks: readonly Stack[]): Node {
  const root: Node = { name: "all", value: 0, children: new Map() };
  for (const s of stacks) {
    if (s.value <= 0) continue;
    root.value += s.value;
    let node = root;
    for (const f of s.frames) {
      let child = node.children.get(f);
      if (!child) {
        child = { name: f, value: 0, children: new Map() };
        node.children.set(f, child);
      }
      child.value += s.value;
      node = child;
    }
  }
  return root;
}

function escapeXml(s: string): string {
  return s
    .replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");
}

/** A warm colour that is the same for a name in every graph (FNV-1a of the name). */
function colour(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const a = (h & 0xff) / 255;
  const b = ((h >>> 8) & 0xff) / 255;
  // Go's runtime in cooler orange-yellow, the program's own code in reds: what is ours stands out.
  const runtime = /^runtime[./]|^\[/.test(name);
  const r = runtime ? 225 + Math.round(30 * a) : 205 + Math.round(50 * a);
  const g = runtime ? 150 + Math.round(80 * b) : Math.round(120 * b);
  const bl = runtime ? 40 : Math.round(55 * a);
  return `rgb(${r},${g},${bl})`;
}

interface FlameOptions {
  title?: string;
  subtitle?: string;
  /** What one unit of value is, for the tooltips ("samples"). */
  unit?: string;
  width?: number;
}

const FRAME = 16;
const FONT = 12;
/** Average advance of a 12 px monospace glyph, to decide how much of a name fits in a frame. */
const CHAR = 7.2;
const PAD = 10;
const HEADER = 44;

export function renderFlameGraph(stacks: readonly Stack[], opts: FlameOptions = {}): string {
  const width = opts.width ?? 1200;
  const unit = opts.unit ?? "samples";
  const root = buildTree(stacks);
  const inner = width - 2 * PAD;
  // Frames narrower than this are not drawn (their ancestors still count them); flamegraph.pl
  // uses 0.1 px and the file stays small with deep Go stacks.
  const minWidth = 0.3;
  const rows: string[] = [];
  let maxDepth = 0;
  const place: { node: Node; depth: number; x: number; w: number }[] = [];
  const walk = (node: Node, depth: number, x: number) => {
    const w = root.value > 0 ? (node.value / root.value) * inner : 0;
    if (w < minWidth) return;
    place.push({ node, depth, x, w });
    maxDepth = Math.max(maxDepth, depth);
    let cx = x;
    for (const child of [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      walk(child, depth + 1, cx);
      cx += (child.value / root.value) * inner;
    }
  };
  walk(root, 0, PAD);
  const height = HEADER + (maxDepth + 1) * FRAME + PAD + (root.value === 0 ? FRAME : 0);
  for (const { node, depth, x, w } of place) {
    const y = height - PAD - (depth + 1) * FRAME;
    const pct = root.value > 0 ? ((100 * node.value) / root.value).toFixed(2) : "0";
    const tip = `${node.name} (${node.value} ${unit}, ${pct}%)`;
    const fits = Math.floor((w - 6) / CHAR);
    const label =
      fits >= 3
        ? node.name.length <= fits
          ? node.name
          : `${node.name.slice(0, Math.max(1, fits - 2))}..`
        : "";
    rows.push(
      `<g><title>${escapeXml(tip)}</title>` +
        `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${FRAME - 1}" rx="2" fill="${node === root ? "rgb(200,200,200)" : colour(node.name)}"/>` +
        (label ? `<text x="${(x + 3).toFixed(2)}" y="${y + FONT - 1}">${escapeXml(label)}</text>` : "") +
        "</g>",
    );
  }
  const title = escapeXml(opts.title ?? "Flame graph");
  const subtitle = escapeXml(
    opts.subtitle ??
      `${root.value} ${unit}; width is the share of ${unit}, bottom to top is caller to callee`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<style>text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:${FONT}px;fill:#000}` +
      ".h{font-size:16px;text-anchor:middle}.s{fill:#555;text-anchor:middle}g:hover rect{stroke:#000;stroke-width:.5}</style>",
    `<rect width="100%" height="100%" fill="#fdf8f0"/>`,
    `<text class="h" x="${width / 2}" y="20">${title}</text>`,
    `<text class="s" x="${width / 2}" y="36">${subtitle}</text>`,
    ...(root.value === 0
      ? [
          `<text x="${PAD}" y="${HEADER + FONT}">no samples: the process used no CPU while it was profiled</text>`,
        ]
      : rows),
    "</svg>",
    "",
  ].join("\n");
}
