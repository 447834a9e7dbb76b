// Scan throughput: hotdump's core scanner against gdb's `find` over every loaded segment of the
// same real core (a Go process holding ~1 GB, dumped live by Delve). Run after a build:
//   npx tsc -p tsconfig.json && node bench/scan.mjs [MB]
// Prints the median of 5 runs of each, in the same run, and the ratio. The core stays in the page
// cache between runs (both tools read it warm), so this measures the scanners, not the disk.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openCore } from "../dist/elf/index.js";
import { dumpLiveProcess } from "../dist/forensics/liveDump.js";
import { parsePattern, scanCoreFile } from "../dist/forensics/scanCore.js";

const MB = Number(process.argv[2] ?? 1024);
const RUNS = 5;
const root = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "hotdump-bench-"));
const bin = join(dir, "fxbig");
execFileSync("go", ["build", "-o", bin, "./fxbig"], {
  cwd: join(root, "test/fixtures/go"),
  env: { ...process.env, CGO_ENABLED: "0" },
});

const proc = spawn(bin, [String(MB)], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((r) => proc.stdout.on("data", (c) => String(c).includes("ready") && r()));
const core = join(dir, "core");
try {
  const dumped = await dumpLiveProcess({ pid: proc.pid, dest: core, method: "delve" });
  proc.kill("SIGKILL");
  const size = statSync(core).size;
  const c = await openCore(core);
  const segs = c.segments.filter((s) => s.available > 0);
  const dumpedBytes = segs.reduce((n, s) => n + s.available, 0);
  await c.close();
  const script = join(dir, "find.gdb");
  writeFileSync(
    script,
    segs
      .map(
        (s) =>
          `find /b 0x${s.vaddr.toString(16)}, 0x${(s.vaddr + BigInt(s.available) - 1n).toString(16)}, 0xef, 0xbe, 0xad, 0xde`,
      )
      .join("\n"),
  );
  const pattern = parsePattern({ hex: "efbeadde" });
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ours = [];
  const gdb = [];
  let hitsOurs = 0;
  let hitsGdb = 0;
  await scanCoreFile(core, pattern, { max: 1e9 }); // warm the page cache
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const r = await scanCoreFile(core, pattern, { max: 1e9 });
    ours.push(performance.now() - t);
    hitsOurs = r.hits.length;
    t = performance.now();
    const out = execFileSync("gdb", ["-nx", "-batch", "-x", script, bin, core], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
      stdio: ["ignore", "pipe", "ignore"],
    });
    gdb.push(performance.now() - t);
    hitsGdb = (out.match(/^0x[0-9a-f]+/gm) ?? []).length;
  }
  const mo = median(ours);
  const mg = median(gdb);
  const gbs = (ms) => (dumpedBytes / 1e9 / (ms / 1000)).toFixed(2);
  console.log(`machine: ${cpus().length} CPUs, ${cpus()[0]?.model}`);
  console.log(
    `core: ${(size / 1e9).toFixed(2)} GB file, ${(dumpedBytes / 1e9).toFixed(2)} GB dumped in ${segs.length} segments (live dump paused the process ${dumped.pauseMs.toFixed(0)} ms)`,
  );
  console.log(`hotdump scan: median ${mo.toFixed(0)} ms = ${gbs(mo)} GB/s (${hitsOurs} hits)`);
  console.log(
    `gdb find:     median ${mg.toFixed(0)} ms = ${gbs(mg)} GB/s (${hitsGdb} hits, includes gdb start and core load)`,
  );
  console.log(`ratio: ${(mg / mo).toFixed(1)}x`);
} finally {
  proc.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
