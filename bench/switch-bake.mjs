// Issue 20's switch waits and issue 18's bake rollback, for `hotdump run --listen` on
// test/fixtures/hangsvc (a net/http service that speaks sd_notify through go-systemd, unchanged).
//   npx tsc -p tsconfig.json && node bench/switch-bake.mjs [RELOADS] [ROLLBACKS] [KINDS]
//
// 1. reload → switch, per readiness kind (http on the public address, tcp, log, notify; alive:1s
//    for reference), RELOADS reloads each (default 7): from SIGHUP to the `switch` event, and from
//    the `switch` to the old generation's `stopped` (target: ≤ 100 ms for notify and log; the
//    default HTTP switch ≤ 700 ms on a service ready at once). The run default bake (60 s) is on:
//    it covers what the three probe passes 0.5 s apart covered.
// 2. a crash during the bake under load (4 loops of GET /, 2 ms apart, no keep-alive), ROLLBACKS
//    times each (default 5): with --bake-hold-old (a steering change; target ≤ 50 ms from the
//    crash seen to the old generation receiving) and without (the last good binary from the
//    store, health-gated). Figures: the supervisor's seen → steered (held), the client's crash
//    request failing → first answer of the old version, and failed requests that started after
//    that first old answer (must be 0: nothing fails outside the crashed process).
// No competitor does either: air restarts the same build (its restart is in reload-load.mjs).
import { copyFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import {
  fmtMs,
  freePort,
  get,
  goBuild,
  HOTDUMP,
  machine,
  median,
  onJsonEvents,
  pollUntil,
  ROOT,
  runBench,
  sleep,
  spawnTracked,
  stop,
  tempDir,
} from "./lib/common.mjs";
import { startLoad } from "./lib/load.mjs";

const RELOADS = Number(process.argv[2] ?? 7);
const ROLLBACKS = Number(process.argv[3] ?? 5);
/** Readiness kinds to measure (comma-separated names as in the table), default all. */
const ONLY = process.argv[4]?.split(",");
const SVC = join(ROOT, "test/fixtures/hangsvc");

function build(dir, version) {
  return goBuild(
    ".",
    join(dir, `hangsvc-v${version}`),
    ["-gcflags=all=-N -l", `-ldflags=-X main.version=${version}`],
    SVC,
  );
}

/** `hotdump run --listen` on a copy of the service; events collected with their arrival time. */
async function supervise(dir, probe, extra = []) {
  const port = await freePort();
  const svc = join(dir, "svc");
  const events = [];
  const child = spawnTracked(
    process.execPath,
    [
      HOTDUMP,
      "run",
      "--json-events",
      "--store",
      join(dir, "store"),
      "--listen",
      `127.0.0.1:${port}`,
      "--probe",
      probe(port),
      ...extra,
      "--",
      svc,
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stderr.on("data", (c) => {
    err = (err + c).slice(-4000);
  });
  onJsonEvents(child, (e) => events.push({ ...e, at: performance.now() }));
  const waitFor = async (pred, ms = 60_000) => {
    const end = performance.now() + ms;
    for (;;) {
      const hit = events.find(pred);
      if (hit) return hit;
      if (performance.now() > end) throw new Error(`timed out; last output:\n${err}`);
      await sleep(2);
    }
  };
  return { port, svc, child, events, waitFor };
}

function deploy(bin, svc) {
  copyFileSync(bin, `${svc}.new`);
  renameSync(`${svc}.new`, svc);
}

async function switchTimes(bins, kind, probe) {
  const dir = tempDir(`switch-${kind}`);
  deploy(bins[0], join(dir, "svc"));
  const s = await supervise(dir, probe);
  await s.waitFor((e) => e.event === "ready" && e.generation === 1);
  const toSwitch = [];
  const toStopped = [];
  for (let i = 0; i < RELOADS; i++) {
    const gen = i + 2;
    deploy(bins[(i + 1) % 2], s.svc);
    const t0 = performance.now();
    s.child.kill("SIGHUP");
    const sw = await s.waitFor((e) => e.event === "switch" && e.generation === gen);
    const st = await s.waitFor((e) => e.event === "stopped" && e.generation === gen - 1);
    toSwitch.push(sw.at - t0);
    toStopped.push(Date.parse(st.ts) - Date.parse(sw.ts));
  }
  await stop(s.child);
  return { toSwitch: median(toSwitch), toStopped: median(toStopped) };
}

/** Issue 20's targets: notify and log stop the old generation ≤ 100 ms after the switch; HTTP switches ≤ 700 ms. */
function targets(kind, t) {
  const verdict = (ok) => (ok ? "target met" : "target MISSED");
  if (kind === "notify" || kind === "log")
    return [
      `${kind}: old generation stopped ${fmtMs(t.toStopped)} after the switch (≤ 100 ms): ${verdict(t.toStopped <= 100)}`,
    ];
  if (kind.startsWith("http"))
    return [`${kind}: reload → switch ${fmtMs(t.toSwitch)} (≤ 700 ms): ${verdict(t.toSwitch <= 700)}`];
  return [];
}

async function rollback(bins, hold) {
  const dir = tempDir(`bake-${hold ? "held" : "store"}`);
  deploy(bins[0], join(dir, "svc"));
  const s = await supervise(dir, () => "notify", ["--bake", "60s", ...(hold ? ["--bake-hold-old"] : [])]);
  await s.waitFor((e) => e.event === "ready" && e.generation === 1);
  deploy(bins[1], s.svc);
  s.child.kill("SIGHUP");
  await s.waitFor((e) => e.event === "switch" && e.generation === 2);
  const load = startLoad(s.port, { concurrency: 4, pauseMs: 2 });
  await sleep(1000);
  await get(s.port, "/crash", 5000).catch(() => {});
  // From the crash request failing (the process is gone) to the old version answering.
  const crashToOld = await pollUntil(s.port, (body) => body.startsWith("v1 "), {
    everyMs: 1,
    timeoutMs: 30_000,
  });
  const firstOld = performance.timeOrigin + performance.now();
  const rb = await s.waitFor((e) => e.event === "rollback" && e.generation === 2);
  await sleep(1500);
  const r = await load.stop();
  await stop(s.child);
  let failed = 0;
  let failedAfter = 0;
  for (let i = 0; i < r.starts.length; i++) {
    if (!r.failed[i]) continue;
    failed++;
    if (r.starts[i] >= firstOld) failedAfter++;
  }
  const n = r.starts.length;
  return { steeredMs: rb.steeredMs, crashToOld, failed, failedAfter, requests: n };
}

await runBench(async () => {
  const bins = [1, 2].map((v) => build(tempDir("bins"), String(v)));
  console.log(`# switch and bake, ${machine()}`);
  console.log(`\n## reload → switch (median of ${RELOADS}), and switch → old generation stopped\n`);
  console.log("| readiness | reload → switch | switch → old stopped |");
  console.log("| --- | --- | --- |");
  const verdicts = [];
  const kinds = [
    ["notify", () => "notify"],
    ["log", () => "log:^hangsvc ready$"],
    ["http (public address)", (port) => `http://127.0.0.1:${port}/healthz`],
    ["tcp (public address)", (port) => `tcp:127.0.0.1:${port}`],
    ["alive:1s", () => "alive:1s"],
  ];
  for (const [kind, probe] of kinds.filter(([k]) => !ONLY || ONLY.some((o) => k.startsWith(o)))) {
    const t = await switchTimes(bins, kind, probe);
    console.log(`| ${kind} | ${fmtMs(t.toSwitch)} | ${fmtMs(t.toStopped)} |`);
    verdicts.push(...targets(kind, t));
  }
  for (const v of verdicts) console.log(v);
  if (ROLLBACKS === 0) return;
  console.log(`\n## crash during the bake under load (median of ${ROLLBACKS})\n`);
  console.log(
    "| rollback | seen → steered (supervisor) | crash request failed → first old answer | failed requests (after the first old answer) |",
  );
  console.log("| --- | --- | --- | --- |");
  for (const hold of [true, false]) {
    const runs = [];
    for (let i = 0; i < ROLLBACKS; i++) runs.push(await rollback(bins, hold));
    const steered = hold ? `${median(runs.map((x) => x.steeredMs)).toFixed(2)} ms` : "–";
    console.log(
      `| ${hold ? "--bake-hold-old" : "from the store"} | ${steered} | ${fmtMs(median(runs.map((x) => x.crashToOld)))} | ${median(runs.map((x) => x.failed))} (${Math.max(...runs.map((x) => x.failedAfter))}) of ~${median(runs.map((x) => x.requests))} |`,
    );
  }
});
