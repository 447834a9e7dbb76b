// Capture modes side by side (issue 25), one script, the modes alternated run by run:
//   npx tsc -p tsconfig.json && node bench/capture-modes.mjs [SMALL_RUNS=5] [BIG_RUNS=2] [LOAD_RUNS=3]
//
// 1. Crash → report: `hotdump exec --json --capture MODE -- crasher` (bench/fixtures/crasher, as in
//    crash-to-report.mjs: it prints the wall clock right before it panics) under
//    - kernel: the machine's core_pattern as it is (a file pattern: `core` here), hotdump finds the
//      file, compresses it and analyses it;
//    - handler: hotdump's core handler (installed once in /tmp/hotdump-bench-handler; core_pattern
//      and core_pipe_limit set for that one run and restored at once, under the same lock the
//      tests use), which compresses while the kernel writes;
//    - tracer: `--capture tracer`, the tracer writes the core itself.
//    Times from the died-at line to core.zst's mtime and to report.json's mtime.
// 2. The tracer's cost on a busy service: bench/fixtures/busysvc (GOMAXPROCS=2) under
//    `hotdump exec --capture kernel` and `--capture tracer`, loaded by bench/fixtures/loadgen
//    (8 keep-alive connections, 5 s), with 0 and 2 tight-loop goroutines (their async preemption
//    signals are ptrace stops under the tracer); requests/s, and the tracer's CPU time against the
//    service's (robust to a shared machine, where requests/s are not).
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CLK_TCK,
  cpuTicks,
  execCrash,
  fmtMs,
  goBuild,
  HOTDUMP,
  machine,
  median,
  runBench,
  spawnTracked,
  tempDir,
} from "./lib/common.mjs";

const SMALL_RUNS = Number(process.argv[2] ?? 5);
// 0 skips a part: `node bench/capture-modes.mjs 0 0 3` measures only the tracer's cost.
const BIG_RUNS = Number(process.argv[3] ?? 2);
const LOAD_RUNS = Number(process.argv[4] ?? 3);
const PATTERN = "/proc/sys/kernel/core_pattern";
const PIPE_LIMIT = "/proc/sys/kernel/core_pipe_limit";
const LOCK = "/tmp/hotdump-core-pattern.lock";
const HANDLER = "/tmp/hotdump-bench-handler";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The tests' lock (test/helpers/corePattern.ts): mkdir, then the pid; a lock without one is being taken. */
async function withPattern(pattern, fn) {
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(`${LOCK}/pid`, String(process.pid));
      break;
    } catch {
      let holder = null;
      try {
        holder = Number(readFileSync(`${LOCK}/pid`, "utf8"));
        process.kill(holder, 0);
      } catch (e) {
        if (holder !== null && e.code === "ESRCH") {
          rmSync(LOCK, { recursive: true, force: true });
          continue;
        }
      }
      await sleep(50);
    }
  }
  const prev = readFileSync(PATTERN, "utf8").trimEnd();
  const prevLimit = readFileSync(PIPE_LIMIT, "utf8").trim();
  try {
    writeFileSync(PIPE_LIMIT, "64");
    writeFileSync(PATTERN, pattern);
    return await fn();
  } finally {
    writeFileSync(PATTERN, prev);
    writeFileSync(PIPE_LIMIT, prevLimit);
    rmSync(LOCK, { recursive: true, force: true });
  }
}

async function execOnce(bin, args, mode) {
  const { r, msAfterDeath } = await execCrash(bin, args, {
    flags: ["--capture", mode],
    prefix: `cap-${mode}`,
  });
  if (!r.core?.found || !r.crash) throw new Error(`${mode}: no core: ${JSON.stringify(r.core)}`);
  return {
    stored: msAfterDeath(r.core.stored),
    report: msAfterDeath("report.json"),
    coreBytes: r.core.bytes,
    storedBytes: r.core.storedBytes,
    buildIdMatch: r.core.buildIdMatch,
    mode: r.capture.mode,
  };
}

async function crashSeries(label, bin, args, runs, handlerPattern) {
  const by = { kernel: [], handler: [], tracer: [] };
  for (let i = 0; i < runs; i++) {
    by.kernel.push(await execOnce(bin, args, "kernel"));
    by.handler.push(await withPattern(handlerPattern, () => execOnce(bin, args, "handler")));
    by.tracer.push(await execOnce(bin, args, "tracer"));
    process.stderr.write(`\r${label} ${i + 1}/${runs}`);
  }
  process.stderr.write("\n");
  for (const [mode, rs] of Object.entries(by)) {
    if (rs.some((r) => r.mode !== mode || !r.buildIdMatch)) throw new Error(`${mode}: ${JSON.stringify(rs)}`);
    const m = (k) => median(rs.map((r) => r[k]));
    console.log(
      `| ${label} | ${mode} | ${(m("coreBytes") / 1e6).toFixed(0)} MB → ${(m("storedBytes") / 1e6).toFixed(1)} MB | ${fmtMs(m("stored"))} | **${fmtMs(m("report"))}** | ${rs.map((r) => r.report.toFixed(0)).join(", ")} |`,
    );
  }
}

/** One load run: the service under `hotdump exec --capture MODE`, loaded for 5 s; requests/s. */
async function loadOnce(svc, loadgen, mode, spin) {
  const dir = tempDir(`load-${mode}`);
  const child = spawnTracked(
    process.execPath,
    [HOTDUMP, "exec", "--capture", mode, "--store", join(dir, "store"), "--", svc, "-spin", String(spin)],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, GOMAXPROCS: "2" }, detached: true },
  );
  const addr = await new Promise((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 60_000);
    child.stdout.on("data", (c) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.on("close", () => reject(new Error(`service ended: ${out}`)));
  });
  const line = await new Promise((resolve, reject) => {
    const lg = spawn(loadgen, ["-url", `http://${addr}/`, "-c", "8", "-d", "5s"], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, GOMAXPROCS: "2" },
    });
    let out = "";
    lg.stdout.on("data", (c) => {
      out += c;
    });
    lg.on("close", () => resolve(out));
    lg.on("error", reject);
  });
  // CPU time over the whole run, less sensitive to a shared machine than requests/s: the service's,
  // and (traced) its tracer's, which is the cost of every ptrace stop.
  const svcPid = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8")
    .trim()
    .split(" ")
    .map(Number)[0];
  const tracerPid = Number(
    /^TracerPid:\s*(\d+)/m.exec(readFileSync(`/proc/${svcPid}/status`, "utf8"))?.[1] ?? 0,
  );
  const ms = (pid) => (cpuTicks([pid]) * 1000) / CLK_TCK;
  const serviceCpu = ms(svcPid);
  const tracerCpu = tracerPid ? ms(tracerPid) : 0;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("close", r));
  const m = /requests (\d+) errors (\d+) seconds ([\d.]+)/.exec(line);
  if (!m) throw new Error(`loadgen said: ${line}`);
  return { rps: Number(m[1]) / Number(m[3]), errors: Number(m[2]), serviceCpu, tracerCpu };
}

await runBench(async () => {
  const binDir = tempDir("capture-modes-bin");
  const crasher = goBuild("./crasher", join(binDir, "crasher"), ["-gcflags=all=-N -l"]);
  const svc = goBuild("./busysvc", join(binDir, "busysvc"));
  const loadgen = goBuild("./loadgen", join(binDir, "loadgen"));
  const { installHandlerFiles, handlerPattern } = await import("../dist/capture/handler.js");
  const { findZstd } = await import("../dist/store/index.js");
  const previous = readFileSync(PATTERN, "utf8").trimEnd();
  if (previous.startsWith("|"))
    throw new Error(`the kernel runs need a file core_pattern; it is ${previous}`);
  installHandlerFiles(join(HANDLER, "bin"), {
    registry: join(HANDLER, "registry"),
    previous,
    previousPipeLimit: Number(readFileSync(PIPE_LIMIT, "utf8")),
    fallbackDir: join(HANDLER, "fallback"),
    zstd: findZstd() ?? "/usr/bin/zstd",
    timeoutSeconds: 120,
  });
  const pattern = handlerPattern(join(HANDLER, "bin"));

  console.log(
    `Machine: ${machine()}, zstd ${execFileSync("zstd", ["--version"], { encoding: "utf8" }).trim()}`,
  );
  console.log(`core_pattern for the kernel runs: ${previous}\n`);
  console.log("| program | mode | core → stored | death → core.zst | death → report.json | runs (ms) |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  if (SMALL_RUNS)
    await crashSeries(
      `small HTTP service, median of ${SMALL_RUNS}`,
      crasher,
      ["-serve"],
      SMALL_RUNS,
      pattern,
    );
  if (BIG_RUNS)
    await crashSeries(
      `10,000 goroutines + 1 GiB heap, median of ${BIG_RUNS}`,
      crasher,
      ["-goroutines", "10000", "-alloc", "1024"],
      BIG_RUNS,
      pattern,
    );

  console.log(
    "\n| busysvc, GOMAXPROCS=2 | kernel (req/s) | tracer (req/s) | tracer / kernel | runs kernel | runs tracer | tracer CPU / service CPU |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const spin of LOAD_RUNS ? [0, 2] : []) {
    const k = [];
    const t = [];
    for (let i = 0; i < LOAD_RUNS; i++) {
      k.push(await loadOnce(svc, loadgen, "kernel", spin));
      t.push(await loadOnce(svc, loadgen, "tracer", spin));
      process.stderr.write(`\rload spin=${spin} ${i + 1}/${LOAD_RUNS}`);
    }
    process.stderr.write("\n");
    const mk = median(k.map((r) => r.rps));
    const mt = median(t.map((r) => r.rps));
    const share = median(t.map((r) => r.tracerCpu / r.serviceCpu));
    console.log(
      `| ${spin} tight-loop goroutines, median of ${LOAD_RUNS} × 5 s | ${mk.toFixed(0)} | ${mt.toFixed(0)} | ${((mt / mk) * 100).toFixed(1)} % | ${k.map((r) => r.rps.toFixed(0)).join(", ")} | ${t.map((r) => r.rps.toFixed(0)).join(", ")} | ${(share * 100).toFixed(2)} % (${t.map((r) => `${r.tracerCpu.toFixed(0)}/${r.serviceCpu.toFixed(0)} ms`).join(", ")}) |`,
    );
  }
});
