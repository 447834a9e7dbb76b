import type { Command } from "commander";
import { usageError } from "../errors.js";
import { profileProcess, resolveProfileTarget } from "../forensics/profileProcess.js";
import { type CommonOptions, intFlag, printJson, storeDirFrom, storeOption } from "./common.js";

interface ProfileFlags extends CommonOptions {
  pid?: string;
  generation?: string;
  seconds?: string;
  pprof?: string;
}

export function registerProfile(program: Command): void {
  storeOption(
    program
      .command("profile")
      .description(
        "a CPU profile of a running Go service as a flame graph (SVG), through its pprof endpoint or perf, stored in <store>/profiles/",
      )
      .option("--pid <pid>", "the process to profile")
      .option("--generation <n>", "a generation that hotdump run supervises (default: the newest)")
      .option("--seconds <s>", "how long to sample", "10")
      .option(
        "--pprof <url>",
        "the service's net/http/pprof profile endpoint, e.g. http://127.0.0.1:6060/debug/pprof/profile (default: perf record)",
      )
      .option("--json", "print the result as JSON"),
  ).action(async (opts: ProfileFlags) => {
    const storeDir = storeDirFrom(opts);
    const pid = intFlag(opts.pid, "--pid");
    const generation = intFlag(opts.generation, "--generation");
    const seconds = intFlag(opts.seconds, "--seconds") ?? 10;
    if (pid !== undefined && generation !== undefined)
      throw usageError("give --pid or --generation, not both");
    if (seconds < 1 || seconds > 3600) throw usageError("--seconds must be between 1 and 3600");
    const target = resolveProfileTarget(storeDir, {
      ...(pid !== undefined ? { pid } : {}),
      ...(generation !== undefined ? { generation } : {}),
    });
    if (!opts.json)
      process.stderr.write(
        `profiling pid ${target.pid} for ${seconds} s via ${opts.pprof !== undefined ? "pprof" : "perf"}...\n`,
      );
    const r = await profileProcess({
      storeDir,
      pid: target.pid,
      generation: target.generation,
      seconds,
      ...(opts.pprof !== undefined ? { pprof: opts.pprof } : {}),
    });
    if (opts.json)
      return printJson({
        generation: r.generation,
        pid: r.pid,
        seconds: r.seconds,
        method: r.method,
        samples: r.samples,
        svg: r.svg,
        profile: r.profile,
        folded: r.folded,
        dir: r.dir,
        binary: r.binary,
        top: r.top,
      });
    const who = r.generation !== null ? `generation ${r.generation} (pid ${r.pid})` : `pid ${r.pid}`;
    process.stdout.write(`CPU profile of ${who}: ${r.samples} samples in ${r.seconds} s via ${r.method}\n`);
    for (const t of r.top.slice(0, 5))
      process.stdout.write(`  ${(100 * t.share).toFixed(1).padStart(5)}%  ${t.name}\n`);
    process.stdout.write(`  flame graph: ${r.svg}\n  profile:     ${r.profile}\n`);
    if (r.method === "pprof" && r.binary)
      process.stdout.write(`  next: go tool pprof -http=127.0.0.1:0 ${r.binary.path} ${r.profile}\n`);
    else if (r.method === "perf") process.stdout.write(`  next: perf report -i ${r.profile}\n`);
  });
}
