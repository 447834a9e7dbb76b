// `hotdump analyze` against `dlv core` doing the same reads, on a small and a 1 GB core, side by side.
//   npx tsc -p tsconfig.json && node bench/analyze-vs-dlv.mjs [SMALL_RUNS] [BIG_RUNS]
//
// The cores come from bench/fixtures/crasher (built with -gcflags=all=-N -l, as hotdump dev
// builds): "small" is the HTTP service that has answered one request (-serve), "big" also holds
// 1 GiB of touched heap (-alloc 1024). Each is captured once by `hotdump exec` and decompressed
// from the store, so the machine's core_pattern does not matter.
//
// hotdump: the whole CLI, `hotdump analyze --binary B --core C -o /dev/null` (Node's start, the
// build-ID check, the memory map, Delve, the text report). dlv: `dlv core B C` reading the
// same facts from its terminal: the goroutine list, the crashing goroutine's stack, the culprit
// frame's locals and args, the registers, then exit. Runs alternate; medians.
//
// "Node floor": bench/lib/delveFloor.mjs, Node's start plus hotdump's Delve client making the same
// reads and nothing else (no report, no build-ID proof): what any Node front end to Delve costs at
// least, against which the 1.3× target can be read.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { goBuild, HOTDUMP, loadLine, machine, median, runBench, tempDir } from "./lib/common.mjs";

const SMALL_RUNS = Number(process.argv[2] ?? 7);
const BIG_RUNS = Number(process.argv[3] ?? 5);
const FLOOR = join(import.meta.dirname, "lib/delveFloor.mjs");
const DLV = join(execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim(), "bin/dlv");

function timed(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (c) => {
      err += c;
    });
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")}: exit ${code}\n${err.slice(-2000)}`));
      resolve(performance.now() - t0);
    });
    p.stdin.end(input ?? "");
  });
}

/**
 * A crash captured by hotdump exec, its core decompressed; returns the core and the culprit scope.
 * On this shared machine another bench may hold core_pattern on a pipe for a moment: tried again.
 */
async function capture(bin, args) {
  for (let attempt = 1; ; attempt++) {
    try {
      return captureOnce(bin, args);
    } catch (e) {
      if (attempt >= 6) throw e;
      process.stderr.write(`capture failed (${e.message.split("\n")[0]}); again in 10 s\n`);
      await new Promise((r) => setTimeout(r, 10_000));
    }
  }
}

function captureOnce(bin, args) {
  const dir = tempDir("analyze");
  const store = join(dir, "store");
  let out;
  try {
    out = execFileSync(process.execPath, [HOTDUMP, "exec", "--json", "--store", store, "--", bin, ...args], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch (e) {
    out = e.stdout; // exec exits with the program's status
  }
  const r = JSON.parse(out);
  if (!r.core?.stored) throw new Error(`no core stored: ${JSON.stringify(r.core)}`);
  const core = join(dir, "core");
  execFileSync("zstd", ["-q", "-d", "-f", join(r.crash.dir, r.core.stored), "-o", core]);
  const report = JSON.parse(readFileSync(join(r.crash.dir, "report.json"), "utf8"));
  return { core, goroutine: report.goroutine.id, frame: report.culprit.frame };
}

async function side(label, bin, args, runs) {
  const { core, goroutine, frame } = await capture(bin, args);
  const size = Number(execFileSync("stat", ["-c", "%s", core], { encoding: "utf8" }).trim());
  const dlvInput = `goroutines\ngoroutine ${goroutine}\nbt\nframe ${frame} locals\nframe ${frame} args\nregs\nexit\n`;
  const hd = [];
  const dl = [];
  const fl = [];
  for (let i = 0; i < runs; i++) {
    hd.push(
      await timed(process.execPath, [HOTDUMP, "analyze", "--binary", bin, "--core", core, "-o", "/dev/null"]),
    );
    dl.push(await timed(DLV, ["core", bin, core, "--allow-non-terminal-interactive=true"], dlvInput));
    fl.push(await timed(process.execPath, [FLOOR, bin, core, String(goroutine), String(frame)]));
    process.stderr.write(`\r${label} ${i + 1}/${runs}`);
  }
  process.stderr.write("\n");
  const [h, d, f] = [median(hd), median(dl), median(fl)];
  console.log(
    `| ${label} | ${(size / 1e6).toFixed(0)} MB | ${h.toFixed(0)} ms | ${d.toFixed(0)} ms | ${(h / d).toFixed(2)}× | ${f.toFixed(0)} ms (${(f / d).toFixed(2)}×) |`,
  );
  const runsOf = (xs) => xs.map((x) => x.toFixed(0)).join(", ");
  console.log(`  hotdump runs: ${runsOf(hd)}; dlv runs: ${runsOf(dl)}; floor runs: ${runsOf(fl)}`);
  return h / d;
}

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  console.log(`before: ${loadLine()}`);
  const bins = tempDir("analyze-bins");
  const bin = goBuild("./crasher", join(bins, "crasher"), ["-gcflags=all=-N -l"]);
  console.log("\n| core | size | hotdump analyze | dlv core, same reads | ratio | Node floor (÷ dlv) |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  await side(`small HTTP service (median of ${SMALL_RUNS})`, bin, ["-serve"], SMALL_RUNS);
  if (BIG_RUNS > 0) await side(`1 GiB heap (median of ${BIG_RUNS})`, bin, ["-alloc", "1024"], BIG_RUNS);
  console.log(`after: ${loadLine()}`);
});
