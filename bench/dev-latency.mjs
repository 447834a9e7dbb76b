// Edit-to-first-response latency of `hotdump dev` against air and a build by hand, side by side.
//   npx tsc -p tsconfig.json && node bench/dev-latency.mjs [EDITS] [RAPID]
//
// Six copies of one small net/http service (each on its own loopback port) are driven round-robin,
// one edit at a time: the version constant in main.go is rewritten in place (as an editor saves)
// and GET / is polled every 5 ms until the new version answers. The time from the write to that
// answer is recorded for:
//   hotdump        `hotdump dev`, defaults (builds with -gcflags=all=-N -l; a complete save is
//                  built 2 ms after its last event, a write in progress waits the 10 ms debounce)
//   hotdump -N-l=  `hotdump dev` with hotdump.toml `[build] gcflags = ""` (air's build flags)
//   air            air with defaults (build.delay = 1000 ms)
//   air delay=1    air with build.delay = 1, its minimum: 0 is silently replaced by the default
//                  1000, because air merges the file over its defaults with mergo, which skips
//                  zero values (runner/config.go, v1.67.4)
//   go build -N-l  by hand: `go build -gcflags=all=-N -l`, SIGKILL the old process, start the new
//   go build       the same without flags
// Then RAPID saves per target, each 300 ms after the last one answered (a developer saving again
// at once): inside hotdump's default readiness wait (`alive:1s`), which the next save once had to
// wait out.
// "Added latency" is hotdump's median minus the hand-driven median with the same flags. Targets
// (issue 20): at most 15 ms added, and hotdump ahead of air at its minimum delay with the same
// build flags. The idle cost of watching a big tree is bench/watch-idle.mjs.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ensureAir,
  fmtMs,
  freePort,
  goBuild,
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
} from "./lib/common.mjs";
import { AIR_DEFAULT, AIR_MIN, project, source } from "./lib/devsvc.mjs";

const EDITS = Number(process.argv[2] ?? 20);
/** Saves made 300 ms after the last one answered, per target (0: none). */
const RAPID = Number(process.argv[3] ?? 5);
const RAPID_GAP_MS = 300;
function tail(child) {
  let out = "";
  const keep = (c) => {
    out = (out + c).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => out;
}

/** A tool-driven copy: write main.go, the tool notices. */
async function toolTarget(label, kind, extraFiles) {
  const port = await freePort();
  const dir = await project(label.replace(/[^a-z0-9]/gi, ""), port, extraFiles);
  const air = kind === "air" ? ensureAir() : null;
  const child =
    kind === "air"
      ? spawnTracked(air, ["-c", ".air.toml"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
      : spawnTracked(process.execPath, [HOTDUMP, "dev", "--json-events"], {
          cwd: dir,
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, NO_COLOR: "1", GOFLAGS: "-buildvcs=false" },
        });
  const out = tail(child);
  const events = [];
  if (kind !== "air") onJsonEvents(child, (e) => events.push(e));
  const edits = [];
  try {
    await pollUntil(port, (b) => b === "v0", { timeoutMs: 120_000, everyMs: 50 });
  } catch (e) {
    throw new Error(`${label} never served v0: ${e.message}\n${out()}`);
  }
  return {
    label,
    dir,
    port,
    child,
    out,
    events,
    edits,
    times: [],
    stalls: 0,
    async edit(i) {
      const wall = Date.now();
      const t0 = performance.now();
      writeFileSync(join(dir, "main.go"), source(port, i));
      try {
        const ms = await pollUntil(port, (b) => b === `v${i}`, { t0, timeoutMs: 20_000 });
        edits.push({ wall, ms });
        return ms;
      } catch (e) {
        // air (v1.67.4) sometimes stops serving after a rebuild (its new process never starts);
        // written again, it recovers. The stall is counted, not timed (reload-load.mjs does the same).
        if (kind !== "air") throw e;
        this.stalls++;
        writeFileSync(join(dir, "main.go"), source(port, i));
        await pollUntil(port, (b) => b === `v${i}`, { timeoutMs: 40_000 });
        return null;
      }
    },
  };
}

/**
 * Where hotdump's time goes, from its own events (ms-resolution timestamps): write → build-start
 * (inotify + the settle of a complete save), go build (`ms` of build-ok), link → started (journal,
 * stopping the old generation, spawning the new one: build-start + go build → started), started →
 * first new response (the service's own start). build-ok comes once the binary is hashed and
 * stored, beside the start: "hash done after start" is build-ok − started.
 */
function breakdown(t) {
  const parts = { watch: [], goBuild: [], deploy: [], serve: [], hash: [] };
  for (const e of t.edits) {
    const at = (x) => Date.parse(x.ts);
    const bs = t.events.find((x) => x.event === "build-start" && at(x) >= e.wall - 2);
    if (!bs) continue;
    const ok = t.events.find((x) => x.event === "build-ok" && at(x) >= at(bs));
    const st = ok && t.events.find((x) => x.event === "started" && x.generation === ok.generation);
    if (!ok || !st) continue;
    parts.watch.push(at(bs) - e.wall);
    parts.goBuild.push(ok.ms);
    parts.deploy.push(at(st) - at(bs) - ok.ms);
    parts.serve.push(e.wall + e.ms - at(st));
    parts.hash.push(at(ok) - at(st));
  }
  const m = (k) => fmtMs(median(parts[k]));
  return `write → build-start ${m("watch")}, go build ${m("goBuild")}, link → started ${m("deploy")}, started → first response ${m("serve")}, hash done after start ${m("hash")} (medians, n=${parts.watch.length})`;
}

/** The hand-driven baseline: go build, stop the old process, start the new one, first response. */
async function handTarget(label, flags) {
  const port = await freePort();
  const dir = await project(label.replace(/[^a-z0-9]/gi, ""), port);
  const bin = join(dir, "svc");
  let proc = null;
  const start = () => {
    goBuild(".", bin, flags, dir, { asTools: true });
    proc = spawnTracked(bin, [], { cwd: dir, stdio: "ignore" });
  };
  start();
  await pollUntil(port, (b) => b === "v0", { timeoutMs: 60_000 });
  return {
    label,
    dir,
    port,
    times: [],
    async edit(i) {
      const t0 = performance.now();
      writeFileSync(join(dir, "main.go"), source(port, i));
      goBuild(".", bin, flags, dir, { asTools: true });
      const old = proc;
      await stop(old, "SIGKILL", 2000);
      proc = spawnTracked(bin, [], { cwd: dir, stdio: "ignore" });
      return pollUntil(port, (b) => b === `v${i}`, { t0, timeoutMs: 60_000 });
    },
    async close() {
      await stop(proc, "SIGKILL", 2000);
    },
  };
}

/** RAPID saves per target, each RAPID_GAP_MS after the previous one answered; one target at a time. */
async function rapid(targets, after) {
  const times = new Map(targets.map((t) => [t.label, []]));
  let v = after;
  for (const t of targets) {
    await sleep(1500);
    await t.edit(++v); // settled first, then saves in quick succession
    for (let i = 0; i < RAPID; i++) {
      await sleep(RAPID_GAP_MS);
      const ms = await t.edit(++v);
      if (ms !== null) times.get(t.label).push(ms);
    }
  }
  console.log(
    `\nsaves ${RAPID_GAP_MS} ms after the last answer, ${RAPID} per target\n| target | median | min | max |\n| --- | --- | --- | --- |`,
  );
  for (const [label, xs] of times)
    console.log(
      `| ${label} | ${fmtMs(median(xs))} | ${fmtMs(Math.min(...xs))} | ${fmtMs(Math.max(...xs))} |`,
    );
  return v;
}

async function latency() {
  console.log(`dev latency: ${EDITS} edits per target, round-robin, poll every 5 ms`);
  const targets = [
    await toolTarget("hotdump", "hotdump"),
    await toolTarget('hotdump gcflags=""', "hotdump", { "hotdump.toml": '[build]\ngcflags = ""\n' }),
    await toolTarget("air (delay 1000)", "air", { ".air.toml": AIR_DEFAULT }),
    await toolTarget("air (delay 1)", "air", { ".air.toml": AIR_MIN }),
    await handTarget("go build -N -l + start", ["-gcflags=all=-N -l"]),
    await handTarget("go build + start", []),
  ];
  await sleep(1500); // let the first generations' readiness probes finish
  for (let i = 1; i <= EDITS; i++) {
    for (const t of targets) {
      try {
        const ms = await t.edit(i);
        if (ms !== null) t.times.push(ms);
      } catch (e) {
        throw new Error(`${t.label}, edit ${i}: ${e.message}\n${t.out?.() ?? ""}`);
      }
      await sleep(150);
    }
    process.stderr.write(`\redit ${i}/${EDITS}`);
  }
  process.stderr.write("\n");
  const m = Object.fromEntries(targets.map((t) => [t.label, median(t.times)]));
  console.log("\n| target | median | p10 | p90 | min | max |\n| --- | --- | --- | --- | --- | --- |");
  for (const t of targets)
    console.log(
      `| ${t.label} | ${fmtMs(median(t.times))} | ${fmtMs(percentile(t.times, 10))} | ${fmtMs(percentile(t.times, 90))} | ${fmtMs(Math.min(...t.times))} | ${fmtMs(Math.max(...t.times))} |`,
    );
  const hd = m.hotdump;
  const hd0 = m['hotdump gcflags=""'];
  const addN = hd - m["go build -N -l + start"];
  const add0 = hd0 - m["go build + start"];
  // On a loaded machine the hand-driven builds spread over seconds: a 15 ms target cannot be told
  // from that noise, and saying "met" would be a lie.
  const spread = Math.max(
    ...targets.filter((t) => !t.child).map((t) => percentile(t.times, 90) - percentile(t.times, 10)),
  );
  const verdict = (ok) =>
    spread > 150
      ? `inconclusive: the baselines' p10-p90 spread is ${fmtMs(spread)}`
      : ok
        ? "target met"
        : "target MISSED";
  console.log(
    `\nadded latency, hotdump - go build -N -l + start: ${fmtMs(addN)} (≤ 15 ms: ${verdict(addN <= 15)})`,
  );
  console.log(
    `added latency, hotdump gcflags="" - go build + start: ${fmtMs(add0)} (≤ 15 ms: ${verdict(add0 <= 15)})`,
  );
  const airMin = m["air (delay 1)"];
  console.log(
    `same flags, hotdump gcflags="" vs air delay=1: ${fmtMs(hd0)} vs ${fmtMs(airMin)}, ${(airMin / hd0).toFixed(2)}x (ahead: ${verdict(hd0 < airMin)})`,
  );
  console.log(
    `defaults, air (delay 1000) / hotdump: ${(m["air (delay 1000)"] / hd).toFixed(2)}x, ${fmtMs(m["air (delay 1000)"] - hd)} sooner`,
  );
  for (const t of targets.filter((t) => t.events?.length)) console.log(`${t.label}: ${breakdown(t)}`);
  if (RAPID > 0) await rapid(targets, EDITS);
  for (const t of targets.filter((t) => t.stalls))
    console.log(`${t.label}: ${t.stalls} stall(s), main.go written again after 20 s (not timed)`);
  for (const t of targets) await (t.close ? t.close() : stop(t.child, "SIGTERM", 10_000));
}

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  await latency();
});
