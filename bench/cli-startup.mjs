// The fixed cost of a hotdump command: `hotdump --version` and `hotdump crashes` on an empty
// store against `node -e 0`, side by side, alternating runs, medians.
//   npx tsc -p tsconfig.json && node bench/cli-startup.mjs [RUNS]
//
// Each command's modules load only when it runs (src/cli/program.ts): --version loads none,
// `crashes` only its own and the store's.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ensureStore } from "../dist/store/layout.js";
import { HOTDUMP, loadLine, machine, median, runBench, tempDir } from "./lib/common.mjs";

const RUNS = Number(process.argv[2] ?? 15);

const time = (args) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${args.join(" ")}: exit ${r.status}`);
  return performance.now() - t0;
};

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  console.log(`before: ${loadLine()}`);
  const store = join(tempDir("startup"), "store");
  ensureStore(store);
  const cases = {
    "node -e 0": ["-e", "0"],
    "hotdump --version": [HOTDUMP, "--version"],
    "hotdump crashes (empty store)": [HOTDUMP, "crashes", "--store", store],
  };
  const t = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i < RUNS; i++) for (const [k, args] of Object.entries(cases)) t[k].push(time(args));
  const base = median(t["node -e 0"]);
  console.log("\n| command | median | over node -e 0 |\n| --- | --- | --- |");
  for (const k of Object.keys(cases))
    console.log(`| ${k} | ${median(t[k]).toFixed(0)} ms | +${(median(t[k]) - base).toFixed(0)} ms |`);
  console.log(`after: ${loadLine()}`);
});
