// Failed requests and latency under reloads: `hotdump run` and `hotdump dev --listen` against air,
// same load, same handler.
//   npx tsc -p tsconfig.json && node bench/reload-load.mjs [RELOADS] [SIDES]
//
// SIDES (comma-separated, default all): run-coop, run-plain, run-coop-shared, run-plain-shared,
// unix-plain, unix-plain-shared, dev-plain, dev-coop, dev-plain-shared, air.
//  - coop: test/fixtures/go/runsvc, which on SIGTERM closes its listener, sleeps 100 ms and then
//    calls Shutdown (what the README asked services to do before kernel steering);
//  - plain: test/fixtures/go/plainsvc, which on SIGTERM only calls srv.Shutdown(ctx), as most Go
//    services do;
//  - shared: HOTDUMP_LISTEN_MODE=shared, one socket shared by every generation (the fallback);
//    otherwise each generation gets its own socket in a SO_REUSEPORT group steered by BPF;
//  - unix: the same over a UNIX socket (load connects to the socket path);
//  - run: `hotdump run --listen ... --ready-timeout 3s`; a steered plain service is probed on the
//    listen address itself (the probe is steered to the new socket by its source port), the others
//    on the health port (HEALTH_ADDR={port}). RELOADS deploys, each a copy + rename over the
//    binary's path and `hotdump reload --json`, one after the other: good builds with alternating
//    versions, plus builds that crash on start (reloads 12 and 38) and one that never becomes ready
//    (reload 25); those must be rolled back with the old generation serving.
//  - dev: `hotdump dev --listen` on a copy of the service's source; each reload rewrites main.go
//    (version, or the crash / never-ready mode at the same reloads) and waits for the switch or
//    rollback event.
// air: bench/fixtures/airsvc (the same handler, listening itself) in a temp copy, air's defaults;
// RELOADS rewrites of the version in main.go, each waited for until the new version answers.
// Load: 4 loops of GET / without keep-alive (a fresh connection per request), 2 ms apart, in a
// worker thread, for the whole run (5 s steady before the first reload and after the last). A
// request is "during a reload" when it started between the deploy and 500 ms after the switch (or
// rollback, or air's first new answer).
import { execFile } from "node:child_process";
import { cpSync, readFileSync, renameSync, writeFileSync } from "node:fs";
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
  onJsonEvents,
  percentile,
  pollUntil,
  runBench,
  sleep,
  spawnTracked,
  stop,
  TEST_FIXTURES,
  tempDir,
} from "./lib/common.mjs";
import { startLoad } from "./lib/load.mjs";
import { startRunsvc } from "./lib/runsvc.mjs";

const RELOADS = Number(process.argv[2] ?? 50);
const STEADY_MS = 5000;
const AFTER_MS = 500;
// Short runs (while developing) still include one of each bad build.
const crashAt = new Set(RELOADS >= 38 ? [12, 38] : RELOADS >= 3 ? [2] : []);
const hangAt = new Set(RELOADS >= 25 ? [25] : RELOADS >= 3 ? [3] : []);
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

const SIDES = (
  process.argv[3] ??
  "run-coop,run-plain,run-coop-shared,run-plain-shared,unix-plain,unix-plain-shared,dev-plain,dev-coop,dev-plain-shared,air"
).split(",");
const kindAt = (i) => (crashAt.has(i) ? "crash" : hangAt.has(i) ? "hang" : "good");

/**
 * RELOADS reloads one after the other under the running load, 300 ms apart: `reloadOnce(i, kind)`
 * makes one and returns when it started and ended, and for a good one how long the switch took
 * (undefined when not known); it throws when a good one failed or a bad one was not rolled back.
 * Then the steady tail, the load and the supervisor stopped, and the figures.
 */
async function reloadLoop(label, verb, { load, proc, events }, reloadOnce) {
  const windows = [];
  const switchMs = [];
  const rollbacks = [];
  for (let i = 1; i <= RELOADS; i++) {
    const kind = kindAt(i);
    const { t0, t1, switchMs: ms } = await reloadOnce(i, kind);
    windows.push([t0, t1]);
    if (kind !== "good") rollbacks.push(`${kind}: ${t1 - t0} ms`);
    else if (ms !== undefined) switchMs.push(ms);
    process.stderr.write(`\r${label} ${verb} ${i}/${RELOADS}`);
    await sleep(300);
  }
  process.stderr.write("\n");
  await sleep(STEADY_MS);
  const rec = await load.stop();
  await stop(proc, "SIGTERM", 15_000);
  const drained = events.filter((e) => e.event === "drained").map((e) => e.ms);
  return { ...summarize(label, rec, windows), switchMs, rollbacks, drained };
}

async function runSide(label, { pkg, shared, unix }) {
  const dir = tempDir(`reload-${label}`);
  const events = [];
  const steeredProbe = pkg === "./plainsvc" && !shared && !unix;
  const { store, target, sup, variant, deploy } = await startRunsvc({
    dir,
    pkg,
    unix,
    args: ["--ready-timeout", "3s"],
    ...(steeredProbe ? { probe: "http://{listen}/" } : {}),
    env: shared ? { HOTDUMP_LISTEN_MODE: "shared" } : {},
    onEvent: (e) => events.push(e),
  });
  const good = [1, 2, 3, 4, 5].map((v) => variant("", String(v)));
  const crash = variant("crash", "crash");
  const hang = variant("hang", "hang");
  const load = startLoad(target);
  await sleep(STEADY_MS);
  let version = 1;
  return reloadLoop(label, "reload", { load, proc: sup, events }, async (i, kind) => {
    if (kind === "good") version = (version % good.length) + 1;
    deploy(kind === "crash" ? crash : kind === "hang" ? hang : good[version - 1]);
    const t0 = Date.now();
    const { stdout } = await run(process.execPath, [HOTDUMP, "reload", "--json", "--store", store]).catch(
      (e) => e,
    );
    const t1 = Date.now();
    const r = JSON.parse(stdout);
    if (kind !== "good") {
      if (r.ok) throw new Error(`${label} reload ${i} (${kind}) was not rolled back: ${stdout}`);
      return { t0, t1 };
    }
    if (!r.ok) throw new Error(`${label} reload ${i} (good) failed: ${stdout}`);
    const sw = events.find((e) => e.event === "switch" && e.generation === r.generation);
    return { t0, t1, switchMs: sw ? Date.parse(sw.ts) - t0 : undefined };
  });
}

/** `hotdump dev --listen` over a copy of the service's source; each reload is an edit of main.go. */
async function devSide(label, { pkg, shared }) {
  const dir = tempDir(`reload-${label}`);
  const src = readFileSync(join(TEST_FIXTURES, pkg, "main.go"), "utf8");
  writeFileSync(join(dir, "go.mod"), "module svc\n\ngo 1.24\n");
  // Written to a temp name and renamed (as many editors save), so one edit is one change event:
  // a truncate-then-write can be seen twice and build twice, and the second build's switch would
  // be taken for the next edit's.
  const write = (mode, v) => {
    writeFileSync(
      join(dir, "main.go.tmp"),
      src.replace(/mode\s+= ""/, `mode = "${mode}"`).replace(/version = "1"/, `version = "${v}"`),
    );
    renameSync(join(dir, "main.go.tmp"), join(dir, "main.go"));
  };
  write("", "1");
  const port = await freePort();
  const steeredProbe = pkg === "plainsvc" && !shared;
  const events = [];
  const child = spawnTracked(
    process.execPath,
    [
      HOTDUMP,
      "dev",
      "--json-events",
      "--listen",
      `127.0.0.1:${port}`,
      "--probe",
      steeredProbe ? `http://127.0.0.1:${port}/` : "http://127.0.0.1:{port}/healthz",
      "--env",
      "HEALTH_ADDR=127.0.0.1:{port}",
      "--ready-timeout",
      "3s",
    ],
    {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        NO_COLOR: "1",
        GOFLAGS: "-buildvcs=false",
        ...(shared ? { HOTDUMP_LISTEN_MODE: "shared" } : {}),
      },
    },
  );
  onJsonEvents(child, (e) => events.push(e));
  let errTail = "";
  child.stderr.on("data", (c) => {
    errTail = (errTail + c).slice(-4000);
  });
  await pollUntil(port, (b) => b.startsWith("v1 "), { timeoutMs: 120_000, everyMs: 50 }).catch((e) => {
    throw new Error(`${label}: ${e.message}\n${errTail}`);
  });
  const load = startLoad(port);
  await sleep(STEADY_MS);
  let version = 1;
  return reloadLoop(label, "edit", { load, proc: child, events }, async (i, kind) => {
    if (kind === "good") version = (version % 5) + 1;
    const seen = events.length;
    const t0 = Date.now();
    // Every edit changes the source, so each is a new build (the version keeps the text unique).
    write(kind === "good" ? "" : kind, kind === "good" ? String(version) : `${kind}${i}`);
    const deadline = t0 + 120_000;
    let done;
    while (!done && Date.now() < deadline) {
      await sleep(10);
      done = events
        .slice(seen)
        .find((e) => e.event === "switch" || e.event === "rollback" || e.event === "build-failed");
    }
    const t1 = Date.now();
    if (!done) throw new Error(`${label} reload ${i}: no switch or rollback\n${errTail}`);
    if (kind !== "good") {
      if (done.event !== "rollback") throw new Error(`${label} reload ${i} (${kind}) was not rolled back`);
      return { t0, t1 };
    }
    if (done.event !== "switch") throw new Error(`${label} reload ${i} (good): ${JSON.stringify(done)}`);
    return { t0, t1, switchMs: t1 - t0 };
  });
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
  let stalls = 0;
  for (let i = 1; i <= RELOADS; i++) {
    const v = i + 1;
    const t0 = Date.now();
    setVersion(v);
    // air has stalled here on a loaded machine (the new process not serving, nothing rebuilt):
    // after 20 s the file is written again, at most 3 times; the stall stays in the window.
    for (let attempt = 1; ; attempt++) {
      try {
        await pollUntil(port, (b) => b.startsWith(`v${v} `), { everyMs: 5, timeoutMs: 20_000 });
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
        stalls++;
        setVersion(v);
      }
    }
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
  return {
    ...summarize("air", rec, windows),
    switchMs,
    rollbacks: stalls ? [`${stalls} stall(s): main.go written again after 20 s without the new version`] : [],
  };
}

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  console.log(
    `${RELOADS} reloads each (crash-on-start at ${[...crashAt]}, never-ready at ${[...hangAt]}); load: 4 loops, a fresh connection per request, 2 ms pause, loopback`,
  );
  const results = [];
  for (const side of SIDES) {
    const shared = side.endsWith("-shared");
    const pkg = side.includes("plain") ? "plainsvc" : "runsvc";
    const label = side.startsWith("dev-")
      ? `hotdump dev ${side.slice(4)}`
      : `hotdump ${side.startsWith("unix") ? "run unix" : "run"} ${side.replace(/^(run|unix)-/, "")}`;
    let r;
    try {
      if (side === "air") r = await airSide();
      else if (side.startsWith("dev-")) r = await devSide(label, { pkg, shared });
      else r = await runSide(label, { pkg: `./${pkg}`, shared, unix: side.startsWith("unix") });
    } catch (e) {
      // One side failing (air once stalled on a rebuild here) must not lose the others' figures.
      console.log(`${side}: did not finish: ${String(e.message).split("\n")[0]}`);
      continue;
    }
    results.push(r);
    console.log(`${r.line} (${side} done)`);
  }
  console.log(
    "\n| | requests | failed | steady p50 / p99 | during reloads p50 / p99 | reload → switch median |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of results) console.log(`${r.line} ${fmtMs(median(r.switchMs))} |`);
  console.log("");
  for (const r of results) {
    console.log(
      `${r.label}: failures by kind ${JSON.stringify(r.errors)}; versions served ${JSON.stringify(r.bodies)}`,
    );
    if (r.drained?.length)
      console.log(
        `  drain wait on the old socket (queue empty + ${50} ms grace): median ${fmtMs(median(r.drained))}, max ${fmtMs(Math.max(...r.drained))}`,
      );
    if (r.rollbacks?.length) console.log(`  rollbacks: ${r.rollbacks.join("; ")}`);
  }
  const ours = results.filter((r) => r.label.startsWith("hotdump") && !r.label.endsWith("shared"));
  const missed = ours.filter((r) => r.failed > 0);
  console.log(
    `\ntarget: zero failed requests across ${RELOADS} reloads incl. crash-on-start and never-ready, for every steered hotdump side: ${missed.length === 0 ? "met" : `MISSED (${missed.map((r) => `${r.label}: ${r.failed}`).join(", ")})`}`,
  );
});
