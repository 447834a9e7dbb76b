// Core store throughput: compressing and storing a 1 GB mostly-empty core with hotdump's
// `compressFile` (zstd -1 -T0 through the zstd CLI), against its gzip fallback (Node zlib level 1,
// what hotdump does where zstd is missing).
//   npx tsc -p tsconfig.json && node bench/core-store.mjs [RUNS]
//
// The core is real: bench/fixtures/crasher -alloc 1024 (1 GiB of heap, one non-zero byte per
// 4 KiB page, so every page is dumped and almost all of it is zeros) crashes under
// `hotdump exec`, and the stored core is decompressed back to a plain,
// non-sparse file (cp --sparse=never), so both compressors read every byte. Each run stores into a
// fresh directory; the core is warm in the page cache after the first read, so this measures the
// compressors, not the disk. zstd: median of RUNS (default 5); gzip: median of 3 (it is ~7x slower),
// run in a child process whose PATH has no zstd, so `findZstd()` picks the fallback as it would.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { compressFile, decompressFile } from "../dist/store/compress.js";
import { goBuild, HOTDUMP, machine, median, ROOT, runBench, tempDir } from "./lib/common.mjs";

const RUNS = Number(process.argv[2] ?? 5);
const GZIP_RUNS = 3;

function gzipOnce(core, dest) {
  const script = `import { compressFile } from ${JSON.stringify(join(ROOT, "dist/store/compress.js"))};
const r = await compressFile(${JSON.stringify(core)}, ${JSON.stringify(dest)});
process.stdout.write(JSON.stringify(r));`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    env: { PATH: "/nonexistent" },
  });
  return JSON.parse(out);
}

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  console.log(`zstd: ${execFileSync("zstd", ["--version"], { encoding: "utf8" }).trim()}`);
  const dir = tempDir("core-store");
  const bin = goBuild("./crasher", join(dir, "crasher"), ["-gcflags=all=-N -l"]);
  // hotdump exec exits with the program's own status (134 for the SIGABRT), so no execFileSync.
  const out = spawnSync(
    process.execPath,
    [HOTDUMP, "exec", "--json", "--store", join(dir, "store"), "--", bin, "-alloc", "1024"],
    {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 64 << 20,
      timeout: 300_000,
    },
  ).stdout;
  const r = JSON.parse(out);
  if (r.outcome !== "crash" || !r.crash) throw new Error(`no crash: ${out.slice(0, 500)}`);
  const sparse = join(dir, "core.sparse");
  await decompressFile(join(r.crash.dir, r.core.stored), sparse);
  const core = join(dir, "core");
  execFileSync("cp", ["--sparse=never", sparse, core]);
  rmSync(sparse);
  const st = statSync(core);
  const mb = st.size / 1e6;
  console.log(`core: ${mb.toFixed(0)} MB (${((st.blocks * 512) / 1e6).toFixed(0)} MB allocated on disk)`);
  execFileSync("cat", [core], { stdio: ["ignore", "ignore", "ignore"] }); // warm the page cache

  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const dest = join(dir, `z${i}`);
    mkdirSync(dest);
    const c = await compressFile(core, dest);
    if (c.compression !== "zstd") throw new Error("zstd not found on PATH");
    runs.push(c);
    rmSync(dest, { recursive: true });
  }
  const gz = [];
  for (let i = 0; i < GZIP_RUNS; i++) {
    const dest = join(dir, `g${i}`);
    mkdirSync(dest);
    const c = gzipOnce(core, dest);
    if (c.compression !== "gzip") throw new Error(`expected the gzip fallback, got ${c.compression}`);
    gz.push(c);
    rmSync(dest, { recursive: true });
  }
  const line = (label, xs) => {
    const ms = median(xs.map((x) => x.ms));
    const stored = xs[0].storedBytes;
    console.log(
      `| ${label} | ${ms.toFixed(0)} ms | ${(mb / (ms / 1000)).toFixed(0)} MB/s | ${(stored / 1e6).toFixed(1)} MB | ${(st.size / stored).toFixed(0)}:1 |`,
    );
    return ms;
  };
  console.log(`\n| compressor | median time | throughput (original size) | stored | ratio |`);
  console.log("| --- | --- | --- | --- | --- |");
  const z = line(`zstd -1 -T0 (median of ${RUNS})`, runs);
  const g = line(`gzip level 1 fallback (median of ${GZIP_RUNS})`, gz);
  console.log(
    `\nzstd runs: ${runs.map((x) => x.ms.toFixed(0)).join(", ")} ms; gzip runs: ${gz.map((x) => x.ms.toFixed(0)).join(", ")} ms`,
  );
  console.log(`zstd is ${(g / z).toFixed(1)}x faster than the gzip fallback`);
});
