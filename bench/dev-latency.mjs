// Edit-to-first-response latency of `hotdump dev` against air, and their idle cost on a big tree.
//   npx tsc -p tsconfig.json && node bench/dev-latency.mjs [EDITS]
//
// Six copies of one small net/http service (each on its own loopback port) are driven round-robin,
// one edit at a time: the version constant in main.go is rewritten in place (as an editor saves)
// and GET / is polled every 5 ms until the new version answers. The time from the write to that
// answer is recorded for:
//   hotdump        `hotdump dev`, defaults (builds with -gcflags=all=-N -l, 30 ms debounce)
//   hotdump -N-l=  `hotdump dev` with hotdump.toml `[build] gcflags = ""` (air's build flags)
//   air            air with defaults (build.delay = 1000 ms)
//   air delay=1    air with build.delay = 1, its minimum: 0 is silently replaced by the default
//                  1000, because air merges the file over its defaults with mergo, which skips
//                  zero values (runner/config.go, v1.67.4)
//   go build -N-l  by hand: `go build -gcflags=all=-N -l`, SIGKILL the old process, start the new
//   go build       the same without flags
// "Added latency" is hotdump's median minus the hand-driven median with the same flags.
//
// Then the idle cost: two fresh copies each get 20,000 extra .go files (gen/d000..d199, 100
// files each, a package nothing imports, so every tool watches them and none builds them); hotdump
// dev and air watch them, and after both serve and settle, CPU time (utime+stime) and RSS of each
// tool's process tree, minus the service itself, are sampled over 10 s.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CLK_TCK,
  comm,
  cpuTicks,
  ensureAir,
  fmtMs,
  freePort,
  goBuild,
  HOTDUMP,
  machine,
  median,
  onJsonEvents,
  percentile,
  pidsWithExeUnder,
  pollUntil,
  processTree,
  rssKiB,
  runBench,
  sleep,
  spawnTracked,
  stop,
  tempDir,
} from "./lib/common.mjs";

const EDITS = Number(process.argv[2] ?? 20);
const IDLE_FILES_DIRS = 200;
const IDLE_FILES_PER_DIR = 100;
const IDLE_SAMPLE_MS = 10_000;

const source = (port, version) => `package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"time"
)

const version = "v${version}"

var started = time.Now()

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, version) })
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"version": version, "up": time.Since(started).String()})
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:${port}", nil))
}
`;

async function project(name, port, extra = {}) {
  const dir = tempDir(name);
  writeFileSync(join(dir, "go.mod"), "module devbench\n\ngo 1.24\n");
  writeFileSync(join(dir, "main.go"), source(port, 0));
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(dir, f), text);
  return dir;
}

const AIR_DEFAULT = 'root = "."\ntmp_dir = "tmp"\n';
const AIR_MIN = `${AIR_DEFAULT}\n[build]\ndelay = 1\n`;

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
    async edit(i) {
      const wall = Date.now();
      const t0 = performance.now();
      writeFileSync(join(dir, "main.go"), source(port, i));
      const ms = await pollUntil(port, (b) => b === `v${i}`, { t0, timeoutMs: 60_000 });
      edits.push({ wall, ms });
      return ms;
    },
  };
}

/**
 * Where hotdump's time goes, from its own events (ms-resolution timestamps): write → build-start
 * (inotify + debounce), build-start → build-ok (go build, storing the binary by SHA-256, build
 * IDs; `ms` is go build alone), build-ok → started (journal, stopping the old generation, spawning
 * the new one), started → first new response (the service's own start).
 */
function breakdown(t) {
  const parts = { watch: [], goBuild: [], afterGoBuild: [], deploy: [], serve: [] };
  for (const e of t.edits) {
    const at = (x) => Date.parse(x.ts);
    const bs = t.events.find((x) => x.event === "build-start" && at(x) >= e.wall - 2);
    if (!bs) continue;
    const ok = t.events.find((x) => x.event === "build-ok" && at(x) >= at(bs));
    const st = ok && t.events.find((x) => x.event === "started" && x.generation === ok.generation);
    if (!ok || !st) continue;
    parts.watch.push(at(bs) - e.wall);
    parts.goBuild.push(ok.ms);
    parts.afterGoBuild.push(at(ok) - at(bs) - ok.ms);
    parts.deploy.push(at(st) - at(ok));
    parts.serve.push(e.wall + e.ms - at(st));
  }
  const m = (k) => fmtMs(median(parts[k]));
  return `write → build-start ${m("watch")}, go build ${m("goBuild")}, store + build IDs ${m("afterGoBuild")}, build-ok → started ${m("deploy")}, started → first response ${m("serve")} (medians, n=${parts.watch.length})`;
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
        t.times.push(await t.edit(i));
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
  console.log(
    `\nadded latency, hotdump - go build -N -l + start: ${fmtMs(addN)} (target < 50 ms: ${addN < 50 ? "met" : "MISSED"})`,
  );
  console.log(
    `added latency, hotdump gcflags="" - go build + start: ${fmtMs(add0)} (target < 50 ms: ${add0 < 50 ? "met" : "MISSED"})`,
  );
  const gain = m["air (delay 1000)"] - hd0;
  console.log(
    `air default / hotdump gcflags="": ${(m["air (delay 1000)"] / hd0).toFixed(2)}x, ${fmtMs(gain)} faster (target >= 1000 ms: ${gain >= 1000 ? "met" : "MISSED"})`,
  );
  console.log(
    `air default / hotdump default: ${(m["air (delay 1000)"] / hd).toFixed(2)}x, ${fmtMs(m["air (delay 1000)"] - hd)} faster`,
  );
  console.log(`air delay=1 / hotdump gcflags="": ${(m["air (delay 1)"] / hd0).toFixed(2)}x`);
  for (const t of targets.filter((t) => t.events?.length)) console.log(`${t.label}: ${breakdown(t)}`);
  for (const t of targets) await (t.close ? t.close() : stop(t.child, "SIGTERM", 10_000));
}

async function idle() {
  console.log(
    `\nidle cost: watching ${IDLE_FILES_DIRS * IDLE_FILES_PER_DIR} extra files, sampled over ${IDLE_SAMPLE_MS / 1000} s`,
  );
  const gen = {};
  for (let d = 0; d < IDLE_FILES_DIRS; d++)
    for (let f = 0; f < IDLE_FILES_PER_DIR; f++) {
      const pkg = `d${String(d).padStart(3, "0")}`;
      gen[`gen/${pkg}/f${String(f).padStart(3, "0")}.go`] = `package ${pkg}\n\nconst F${f} = ${f}\n`;
    }
  const withGen = async (label, kind, cfg, files = true) => {
    // Create the tree before the tool starts, so its start-up scan covers it.
    const port = await freePort();
    const dir = await project(label.replace(/[^a-z0-9]/gi, ""), port, cfg);
    if (files) {
      for (let d = 0; d < IDLE_FILES_DIRS; d++)
        mkdirSync(join(dir, `gen/d${String(d).padStart(3, "0")}`), { recursive: true });
      for (const [f, text] of Object.entries(gen)) writeFileSync(join(dir, f), text);
    }
    const t0 = performance.now();
    const child =
      kind === "air"
        ? spawnTracked(ensureAir(), ["-c", ".air.toml"], { cwd: dir, stdio: "ignore" })
        : spawnTracked(process.execPath, [HOTDUMP, "dev"], {
            cwd: dir,
            stdio: "ignore",
            env: { ...process.env, NO_COLOR: "1", GOFLAGS: "-buildvcs=false" },
          });
    const firstMs = await pollUntil(port, (b) => b === "v0", { t0, timeoutMs: 180_000, everyMs: 50 });
    return { label, dir, child, firstMs };
  };
  const tools = [
    await withGen("hotdump", "hotdump", {}),
    await withGen("air", "air", { ".air.toml": AIR_DEFAULT }),
    // For scale: the same two on the bare service (main.go and go.mod only).
    await withGen("hotdump, no extra files", "hotdump", {}, false),
    await withGen("air, no extra files", "air", { ".air.toml": AIR_DEFAULT }, false),
  ];
  await sleep(5000); // settle: first builds, probes, watcher set-up
  const trees = tools.map((t) => {
    const service = new Set(pidsWithExeUnder(t.dir));
    return processTree(t.child.pid, (pid) => service.has(pid));
  });
  const t0 = trees.map(cpuTicks);
  const rss = tools.map(() => []);
  const w0 = performance.now();
  while (performance.now() - w0 < IDLE_SAMPLE_MS) {
    await sleep(1000);
    for (const [k, pids] of trees.entries()) rss[k].push(rssKiB(pids));
  }
  const wall = (performance.now() - w0) / 1000;
  console.log(
    "\n| tool | processes counted | CPU while idle | RSS (median of 1 s samples) | start to first response |",
  );
  console.log("| --- | --- | --- | --- | --- |");
  tools.forEach((t, k) => {
    const cpuS = (cpuTicks(trees[k]) - t0[k]) / CLK_TCK;
    console.log(
      `| ${t.label} | ${trees[k].map(comm).join(", ")} | ${((cpuS / wall) * 100).toFixed(2)} % of one CPU (${(cpuS * 1000).toFixed(0)} ms in ${wall.toFixed(1)} s) | ${(median(rss[k]) / 1024).toFixed(1)} MiB | ${fmtMs(t.firstMs)} |`,
    );
  });
  for (const t of tools) await stop(t.child, "SIGTERM", 10_000);
}

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  await latency();
  await idle();
});
