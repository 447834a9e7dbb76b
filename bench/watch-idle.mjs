// What watching a big tree costs: `hotdump dev` against air on the same service with 20,000 extra
// .go files (200 directories of 100), side by side in one run.
//   npx tsc -p tsconfig.json && node bench/watch-idle.mjs [RUNS=3] [BIG_FILES=200000]
//
// Each run starts every tool fresh on its own copy (tools alternate), times start → first
// response (GET / answering v0), lets it settle 5 s, then samples over 10 s the CPU time and RSS
// of the tool's process tree without the service (for hotdump: the whole hotdump process). Then,
// once each, the same with BIG_FILES extra files (0 skips it): does the first response still come
// in seconds? Targets (issue 20): idle RSS ≤ 90 MiB, first response ≤ 1.2× air's, idle CPU at
// air's level (taken as: within 0.5 % of one CPU of air's).
import {
  CLK_TCK,
  cpuTicks,
  ensureAir,
  fmtMs,
  freePort,
  HOTDUMP,
  machine,
  median,
  pidsWithExeUnder,
  pollUntil,
  processTree,
  rssKiB,
  runBench,
  sleep,
  spawnTracked,
  stop,
} from "./lib/common.mjs";
import { AIR_DEFAULT, addGenTree, project } from "./lib/devsvc.mjs";

const RUNS = Number(process.argv[2] ?? 3);
const BIG = Number(process.argv[3] ?? 200_000);
const FILES = 20_000;
const SAMPLE_MS = 10_000;

async function copy(label, kind, files) {
  const port = await freePort();
  const dir = await project(
    label.replace(/[^a-z0-9]/gi, ""),
    port,
    kind === "air" ? { ".air.toml": AIR_DEFAULT } : {},
  );
  const t = performance.now();
  addGenTree(dir, files);
  console.log(`${label}: ${files} extra files written in ${fmtMs(performance.now() - t)}`);
  return { label, kind, dir, port };
}

function start(c) {
  return c.kind === "air"
    ? spawnTracked(ensureAir(), ["-c", ".air.toml"], { cwd: c.dir, stdio: "ignore" })
    : spawnTracked(process.execPath, [HOTDUMP, "dev"], {
        cwd: c.dir,
        stdio: "ignore",
        env: { ...process.env, NO_COLOR: "1", GOFLAGS: "-buildvcs=false" },
      });
}

/** One run of one tool: first response, then idle CPU and RSS. */
async function measure(c, { sample = true } = {}) {
  const t0 = performance.now();
  const child = start(c);
  try {
    const firstMs = await pollUntil(c.port, (b) => b === "v0", { t0, timeoutMs: 600_000, everyMs: 20 });
    if (!sample) return { firstMs };
    await sleep(5000);
    const service = new Set(pidsWithExeUnder(c.dir));
    const tree = processTree(child.pid, (pid) => service.has(pid));
    const ticks0 = cpuTicks(tree);
    const rss = [];
    const w0 = performance.now();
    while (performance.now() - w0 < SAMPLE_MS) {
      await sleep(1000);
      rss.push(rssKiB(tree));
    }
    const cpuPct = ((cpuTicks(tree) - ticks0) / CLK_TCK / ((performance.now() - w0) / 1000)) * 100;
    return { firstMs, cpuPct, rssMiB: median(rss) / 1024 };
  } finally {
    await stop(child, "SIGTERM", 10_000);
  }
}

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  const copies = [await copy("hotdump", "hotdump", FILES), await copy("air", "air", FILES)];
  // A first start each, not counted: go's build cache and the page cache warm for both alike.
  for (const c of copies) await measure(c, { sample: false });
  const res = copies.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (const [k, c] of copies.entries()) res[k].push(await measure(c));
    process.stderr.write(`\rrun ${r + 1}/${RUNS}`);
  }
  process.stderr.write("\n");
  const m = res.map((rs) => ({
    firstMs: median(rs.map((x) => x.firstMs)),
    cpuPct: median(rs.map((x) => x.cpuPct)),
    rssMiB: median(rs.map((x) => x.rssMiB)),
    runs: rs,
  }));
  console.log(
    `\nwatching ${FILES} extra files, medians of ${RUNS} runs (idle sampled over ${SAMPLE_MS / 1000} s)`,
  );
  console.log(
    "| tool | start → first response | idle CPU (% of one CPU) | idle RSS | per run (first, CPU, RSS) |",
  );
  console.log("| --- | --- | --- | --- | --- |");
  for (const [k, c] of copies.entries())
    console.log(
      `| ${c.label} | ${fmtMs(m[k].firstMs)} | ${m[k].cpuPct.toFixed(2)} % | ${m[k].rssMiB.toFixed(1)} MiB | ${m[k].runs.map((x) => `${x.firstMs.toFixed(0)}/${x.cpuPct.toFixed(2)}/${x.rssMiB.toFixed(1)}`).join(", ")} |`,
    );
  const [h, a] = m;
  const verdict = (ok) => (ok ? "target met" : "target MISSED");
  console.log(`\nidle RSS ${h.rssMiB.toFixed(1)} MiB (≤ 90 MiB): ${verdict(h.rssMiB <= 90)}`);
  console.log(
    `first response ${(h.firstMs / a.firstMs).toFixed(2)}× air's (≤ 1.2×): ${verdict(h.firstMs <= 1.2 * a.firstMs)}`,
  );
  console.log(
    `idle CPU ${h.cpuPct.toFixed(2)} % vs air ${a.cpuPct.toFixed(2)} % (within 0.5 %): ${verdict(h.cpuPct <= a.cpuPct + 0.5)}`,
  );

  if (BIG > 0) {
    const big = [await copy(`hotdump-${BIG}`, "hotdump", BIG), await copy(`air-${BIG}`, "air", BIG)];
    for (const c of big) await measure(c, { sample: false }); // warm, as above
    console.log(`\n${BIG} extra files (one run each, after one warm-up start)`);
    console.log("| tool | start → first response | idle CPU | idle RSS |\n| --- | --- | --- | --- |");
    const bm = [];
    for (const c of big) {
      const x = await measure(c);
      bm.push(x);
      console.log(
        `| ${c.label} | ${fmtMs(x.firstMs)} | ${x.cpuPct.toFixed(2)} % | ${x.rssMiB.toFixed(1)} MiB |`,
      );
    }
    console.log(
      `first response with ${BIG} files in seconds (< 10 s): ${verdict((bm[0]?.firstMs ?? Infinity) < 10_000)}`,
    );
  }
});
