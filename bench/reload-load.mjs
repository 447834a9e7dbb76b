// Failed requests and latency under reloads: `hotdump run` against air, same load, same handler.
//   npx tsc -p tsconfig.json && node bench/reload-load.mjs [RELOADS]
//
// hotdump: test/fixtures/go/runsvc (serves on the inherited socket, health on HEALTH_ADDR, drains on
// SIGTERM) under `hotdump run --listen 127.0.0.1:PORT --probe http://127.0.0.1:{port}/healthz
// --ready-timeout 3s`. RELOADS (default 50) deploys, each a copy + rename over the binary's path
// and `hotdump reload --json`, one after the other: good builds with alternating versions, plus
// builds that crash on start (reloads 12 and 38) and one that never becomes ready (reload 25);
// those must be rolled back with the old generation serving.
// air: bench/fixtures/airsvc (the same handler, listening itself) in a temp copy, air's defaults;
// RELOADS rewrites of the version in main.go, each waited for until the new version answers.
// Load: 4 loops of GET / without keep-alive, 2 ms apart, in a worker thread, for the whole run
// (5 s steady before the first reload and after the last). A request is "during a reload" when it
// started between the deploy and 500 ms after the switch (or rollback, or air's first new answer).
import { execFile } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  ensureAir,
  FIXTURES,
  fmtMs,
  freePort,
  HOTDUMP,
  machine,
  median,
  percentile,
  pollUntil,
  runBench,
  sleep,
  spawnTracked,
  stop,
  tempDir,
} from "./lib/common.mjs";
import { startLoad } from "./lib/load.mjs";
import { startRunsvc } from "./lib/runsvc.mjs";

const RELOADS = Number(process.argv[2] ?? 50);
const STEADY_MS = 5000;
const AFTER_MS = 500;
const crashAt = new Set([12, 38].filter((n) => n <= RELOADS));
const hangAt = new Set([25].filter((n) => n <= RELOADS));
const run = promisify(execFile);

function summarize(label, rec, windows) {
  const inWindow = (t) => windows.some(([a, b]) => t >= a && t <= b + AFTER_MS);
  const steady = [];
  const during = [];
  let failedDuring = 0;
  let failedSteady = 0;
  for (let i = 0; i < rec.starts.length; i++) {
    const w = inWindow(rec.starts[i]);
    if (rec.failed[i]) {
      if (w) failedDuring++;
      else failedSteady++;
      continue;
    }
    (w ? during : steady).push(rec.lat[i]);
  }
  const p = (xs, q) => `${percentile(xs, q).toFixed(2)} ms`;
  return {
    label,
    total: rec.starts.length,
    failed: failedDuring + failedSteady,
    failedDuring,
    errors: rec.errors,
    bodies: rec.bodies,
    line: `| ${label} | ${rec.starts.length} | ${failedDuring + failedSteady} (${failedDuring} during reloads) | ${p(steady, 50)} / ${p(steady, 99)} | ${p(during, 50)} / ${p(during, 99)} |`,
  };
}

async function hotdumpSide() {
  const dir = tempDir("reload-hotdump");
  const events = [];
  const { store, port, sup, variant, deploy } = await startRunsvc({
    dir,
    args: ["--ready-timeout", "3s"],
    onEvent: (e) => events.push(e),
  });
  const good = [1, 2, 3, 4, 5].map((v) => variant("", String(v)));
  const crash = variant("crash", "crash");
  const hang = variant("hang", "hang");
  const load = startLoad(port);
  await sleep(STEADY_MS);
  const windows = [];
  const cliMs = [];
  const switchMs = []; // deploy → switch event
  const startedToSwitch = []; // started event → switch event (inside the supervisor)
  const rollbacks = [];
  let version = 1;
  for (let i = 1; i <= RELOADS; i++) {
    const kind = crashAt.has(i) ? "crash" : hangAt.has(i) ? "hang" : "good";
    if (kind === "good") version = (version % good.length) + 1;
    deploy(kind === "crash" ? crash : kind === "hang" ? hang : good[version - 1]);
    const t0 = Date.now();
    const { stdout } = await run(process.execPath, [HOTDUMP, "reload", "--json", "--store", store]).catch(
      (e) => e,
    );
    const t1 = Date.now();
    cliMs.push(t1 - t0);
    windows.push([t0, t1]);
    const r = JSON.parse(stdout);
    if (kind === "good") {
      if (!r.ok) throw new Error(`reload ${i} (good) failed: ${stdout}`);
      const sw = events.find((e) => e.event === "switch" && e.generation === r.generation);
      const st = events.find((e) => e.event === "started" && e.generation === r.generation);
      if (sw) switchMs.push(Date.parse(sw.ts) - t0);
      if (sw && st) startedToSwitch.push(Date.parse(sw.ts) - Date.parse(st.ts));
    } else {
      if (r.ok) throw new Error(`reload ${i} (${kind}) was not rolled back: ${stdout}`);
      rollbacks.push(
        `${kind}: ${r.reason ?? r.error}${r.crashId ? ` (crash ${r.crashId})` : ""}, ${t1 - t0} ms`,
      );
    }
    process.stderr.write(`\rhotdump reload ${i}/${RELOADS}`);
    await sleep(300);
  }
  process.stderr.write("\n");
  await sleep(STEADY_MS);
  const rec = await load.stop();
  await stop(sup, "SIGTERM", 15_000);
  const s = summarize("hotdump run", rec, windows);
  return { ...s, cliMs, switchMs, startedToSwitch, rollbacks };
}

async function airSide() {
  const air = ensureAir();
  const dir = tempDir("reload-air");
  cpSync(join(FIXTURES, "airsvc"), dir, { recursive: true });
  writeFileSync(join(dir, "go.mod"), "module airsvc\n\ngo 1.24\n");
  writeFileSync(join(dir, ".air.toml"), 'root = "."\ntmp_dir = "tmp"\n');
  const src = readFileSync(join(dir, "main.go"), "utf8");
  const setVersion = (v) =>
    writeFileSync(join(dir, "main.go"), src.replace('var version = "1"', `var version = "${v}"`));
  const port = await freePort();
  const child = spawnTracked(air, ["-c", ".air.toml"], {
    cwd: dir,
    stdio: "ignore",
    env: { ...process.env, ADDR: `127.0.0.1:${port}`, GOFLAGS: "-buildvcs=false" },
  });
  await pollUntil(port, (b) => b.startsWith("v1 "), { timeoutMs: 120_000, everyMs: 50 });
  const load = startLoad(port);
  await sleep(STEADY_MS);
  const windows = [];
  const switchMs = [];
  for (let i = 1; i <= RELOADS; i++) {
    const v = i + 1;
    const t0 = Date.now();
    setVersion(v);
    await pollUntil(port, (b) => b.startsWith(`v${v} `), { everyMs: 5, timeoutMs: 60_000 });
    const t1 = Date.now();
    windows.push([t0, t1]);
    switchMs.push(t1 - t0);
    process.stderr.write(`\rair rebuild ${i}/${RELOADS}`);
    await sleep(300);
  }
  process.stderr.write("\n");
  await sleep(STEADY_MS);
  const rec = await load.stop();
  await stop(child, "SIGTERM", 10_000);
  return { ...summarize("air", rec, windows), switchMs };
}

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  console.log(`${RELOADS} reloads each; load: 4 loops, no keep-alive, 2 ms pause, loopback`);
  const h = await hotdumpSide();
  const a = await airSide();
  console.log("\n| | requests | failed | steady p50 / p99 | during reloads p50 / p99 |");
  console.log("| --- | --- | --- | --- | --- |");
  console.log(h.line);
  console.log(a.line);
  console.log(
    `\nhotdump failures by kind: ${JSON.stringify(h.errors)}; versions served: ${JSON.stringify(h.bodies)}`,
  );
  console.log(`air failures by kind: ${JSON.stringify(a.errors)}`);
  console.log(`hotdump rollbacks: ${h.rollbacks.join("; ") || "none"}`);
  console.log(
    `hotdump reload-to-switch (deploy → switch event), good reloads: median ${fmtMs(median(h.switchMs))}, p90 ${fmtMs(percentile(h.switchMs, 90))} (n=${h.switchMs.length})`,
  );
  console.log(
    `  of which started → switch inside the supervisor: median ${fmtMs(median(h.startedToSwitch))}`,
  );
  console.log(`  hotdump reload --json round trip, all reloads: median ${fmtMs(median(h.cliMs))}`);
  console.log(
    `air write → first new answer: median ${fmtMs(median(a.switchMs))}, p90 ${fmtMs(percentile(a.switchMs, 90))}`,
  );
  console.log(
    `target: zero failed requests for hotdump across ${RELOADS} reloads incl. crash-on-start and never-ready: ${h.failed === 0 ? "met" : `MISSED (${h.failed} failed)`}`,
  );
});
