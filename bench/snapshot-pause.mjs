// How long a live snapshot stops the service, per GB resident: hotdump's tracer (what `hotdump
// snapshot` runs: seize every thread, copy /proc/PID/mem into an ELF core, let go), Delve's dump
// (its fallback: dlv attach, DumpStart/DumpWait, detach) and gdb's gcore, side by side.
//   npx tsc -p tsconfig.json && node bench/snapshot-pause.mjs [RUNS] [MB]
//
// bench/fixtures/resident holds MB MiB resident (every page written) and ticks a heartbeat every
// millisecond; the pause is the longest gap between two ticks across the snapshot, as the service
// lived it (ptrace stops every thread). Also timed: the tool's wall time, the core's size, and
// whether Delve reads the core (`dlv core` lists the goroutines). PAUSE_ONLY=tracer (Delve, gcore) runs
// one method; PAUSE_DIR=/dev/shm/x writes the cores to memory (it made no difference for Delve).
import { execFileSync, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { goBuild, loadLine, machine, median, runBench, spawnTracked, stop, tempDir } from "./lib/common.mjs";

const RUNS = Number(process.argv[2] ?? 3);
const MB = Number(process.argv[3] ?? 1024);
const GOPATH = execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim();
const DLV = join(GOPATH, "bin/dlv");
const { dumpLiveProcess } = await import("../dist/forensics/liveDump.js");

/** The resident program, started and ready; `gap()` asks it for the longest gap since the last ask. */
async function startResident(bin) {
  const p = spawnTracked(bin, ["-mb", String(MB)], { stdio: ["pipe", "pipe", "inherit"] });
  let buf = "";
  const waiters = [];
  p.stdout.on("data", (c) => {
    buf += c;
    let i = buf.indexOf("\n");
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiters.shift()?.(line);
      i = buf.indexOf("\n");
    }
  });
  const next = () =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("resident: no answer")), 120_000);
      waiters.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  if ((await next()) !== "ready") throw new Error("resident did not start");
  const gap = async () => {
    const answer = next();
    p.stdin.write("gap\n");
    return Number(/^gap (\d+)$/.exec(await answer)?.[1]);
  };
  await gap(); // the gaps of its start
  return {
    p,
    gap,
    rssMB: () =>
      Number(
        /VmRSS:\s+(\d+)/.exec(execFileSync("cat", [`/proc/${p.pid}/status`], { encoding: "utf8" }))?.[1],
      ) / 1024,
  };
}

const delveReads = (bin, core) => {
  try {
    const out = execFileSync(DLV, ["core", bin, core, "--allow-non-terminal-interactive=true"], {
      input: "goroutines\nexit\n",
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 120_000,
    });
    return /\[\d+ goroutines?\]/.test(out) || /Goroutine \d+/.test(out);
  } catch {
    return false;
  }
};

const ONLY = process.env.PAUSE_ONLY;
const METHODS = {
  "hotdump's tracer (hotdump snapshot)": async (pid, dest) => {
    const d = await dumpLiveProcess({ pid, dest, method: "tracer" });
    if (d.writer !== "tracer") throw new Error(`the tracer did not write it: ${d.tracerFailed}`);
    return dest;
  },
  "Delve dump (the fallback)": async (pid, dest) => {
    await dumpLiveProcess({ pid, dest, dlvPath: DLV, method: "delve" });
    return dest;
  },
  "gdb gcore": async (pid, dest) => {
    await new Promise((resolve, reject) => {
      const g = spawn("gcore", ["-o", dest, String(pid)], { stdio: "ignore" });
      g.on("error", reject);
      g.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`gcore exit ${code}`))));
    });
    return `${dest}.${pid}`;
  },
};

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  console.log(`before: ${loadLine()}`);
  const bin = goBuild("./resident", join(tempDir("pause-bin"), "resident"));
  const dir = process.env.PAUSE_DIR ?? tempDir("pause");
  const r = await startResident(bin);
  const rss = r.rssMB();
  console.log(`resident: ${rss.toFixed(0)} MB RSS\n`);
  console.log(
    "| method | pause (longest heartbeat gap) | per GB resident | tool wall time | core size | Delve reads it |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  // Runs alternate between the methods, so a change of the machine's load falls on all of them.
  const methods = Object.entries(METHODS).filter(([n]) => !ONLY || n.includes(ONLY));
  const got = new Map(methods.map(([n]) => [n, { pauses: [], walls: [], size: 0, reads: false }]));
  try {
    for (let i = 0; i < RUNS; i++) {
      for (const [name, take] of methods) {
        const g = got.get(name);
        await r.gap();
        const dest = join(dir, `core-${i}`);
        const t0 = performance.now();
        const core = await take(r.p.pid, dest);
        g.walls.push(performance.now() - t0);
        g.pauses.push(await r.gap());
        g.size = statSync(core).size;
        if (i === 0) g.reads = delveReads(bin, core);
        execFileSync("rm", ["-f", core]);
        process.stderr.write(`\r${name} ${i + 1}/${RUNS}     `);
      }
    }
    process.stderr.write("\n");
    for (const [name, g] of got) {
      const p = median(g.pauses);
      console.log(
        `| ${name} | ${p.toFixed(0)} ms (runs: ${g.pauses.join(", ")}) | ${((p / rss) * 1024).toFixed(0)} ms | ${median(g.walls).toFixed(0)} ms | ${(g.size / 1e6).toFixed(0)} MB | ${g.reads ? "yes" : "no"} |`,
      );
    }
  } finally {
    await stop(r.p);
  }
  console.log(`after: ${loadLine()}`);
});
