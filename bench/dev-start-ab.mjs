// Start → first response of `hotdump dev` from two checkouts side by side (a change against the
// commit before it), on one copy of the watch-idle.mjs service with 20,000 extra files.
//   node bench/dev-start-ab.mjs BASE_CHECKOUT [RUNS=7] [FILES=20000]
// BASE_CHECKOUT is another hotdump checkout with dist/ built (e.g. `git archive <commit> | tar -x
// -C /tmp/base`, node_modules linked, `npx tsc -p tsconfig.json` there); the other is this one.
// Both start on the same directory and store (each start is seeded with the last stored binary,
// as a restarted session is), one after the other, alternating which goes first; one uncounted
// warm-up start each. The watch-idle.mjs figure against air is the target's; this one says what a
// change did, under the same load.
import { loadavg } from "node:os";
import { join } from "node:path";
import {
  fmtMs,
  freePort,
  HOTDUMP,
  machine,
  median,
  pollUntil,
  runBench,
  spawnTracked,
  stop,
} from "./lib/common.mjs";
import { addGenTree, project } from "./lib/devsvc.mjs";

const BASE = process.argv[2];
const RUNS = Number(process.argv[3] ?? 7);
const FILES = Number(process.argv[4] ?? 20_000);
if (!BASE) {
  console.error("usage: node bench/dev-start-ab.mjs BASE_CHECKOUT [RUNS] [FILES]");
  process.exit(2);
}

await runBench(async () => {
  console.log(
    `machine: ${machine()}; load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );
  const port = await freePort();
  const dir = await project("devstart", port);
  addGenTree(dir, FILES);
  const tools = { base: join(BASE, "bin/hotdump"), this: HOTDUMP };
  const once = async (bin) => {
    const t0 = performance.now();
    const child = spawnTracked(process.execPath, [bin, "dev"], {
      cwd: dir,
      stdio: "ignore",
      env: { ...process.env, NO_COLOR: "1", GOFLAGS: "-buildvcs=false" },
    });
    try {
      return await pollUntil(port, (b) => b === "v0", { t0, timeoutMs: 120_000, everyMs: 10 });
    } finally {
      await stop(child, "SIGTERM", 10_000);
    }
  };
  for (const bin of Object.values(tools)) await once(bin);
  const res = { base: [], this: [] };
  for (let i = 0; i < RUNS; i++)
    for (const k of i % 2 ? ["this", "base"] : ["base", "this"]) res[k].push(await once(tools[k]));
  console.log(`\nstart → first response, ${FILES} extra files, median of ${RUNS} (alternated)`);
  console.log("| checkout | median | runs |\n| --- | --- | --- |");
  for (const [k, xs] of Object.entries(res))
    console.log(
      `| ${k === "base" ? BASE : "this checkout"} | ${fmtMs(median(xs))} | ${xs.map((x) => x.toFixed(0)).join(", ")} |`,
    );
  const d = median(res.this) - median(res.base);
  console.log(
    `\nthis checkout: ${d <= 0 ? `${fmtMs(-d)} sooner` : `${fmtMs(d)} later`} (${((median(res.this) / median(res.base)) * 100).toFixed(0)} % of base)`,
  );
  console.log(
    `load average after: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );
});
