import type { Command } from "commander";
import { resolveSnapshotTarget, snapshotProcess } from "../forensics/liveDump.js";
import { type CommonOptions, formatBytes, intFlag, printJson, storeDirFrom, storeOption } from "./common.js";

interface SnapshotFlags extends CommonOptions {
  pid?: string;
  generation?: string;
}

export function registerSnapshot(program: Command): void {
  storeOption(
    program
      .command("snapshot")
      .description(
        "dump a core of a running Go service without ending it (hotdump's tracer, Delve's dump where it cannot), stored as a snapshot bundle",
      )
      .option("--pid <pid>", "the process to snapshot")
      .option("--generation <n>", "a generation that hotdump run supervises (default: the newest)")
      .option("--json", "print the result as JSON"),
  ).action(async (opts: SnapshotFlags) => {
    const storeDir = storeDirFrom(opts);
    const pid = intFlag(opts.pid, "--pid");
    const generation = intFlag(opts.generation, "--generation");
    const target = resolveSnapshotTarget(storeDir, {
      ...(pid !== undefined ? { pid } : {}),
      ...(generation !== undefined ? { generation } : {}),
    });
    const s = await snapshotProcess({ storeDir, pid: target.pid, generation: target.generation });
    const out = {
      id: s.bundle?.id ?? null,
      pid: target.pid,
      generation: target.generation,
      pauseMs: Math.round(s.pauseMs),
      writer: s.writer,
      ...(s.tracerFailed ? { tracerFailed: s.tracerFailed } : {}),
      coreBytes: s.core.bytes ?? null,
      storedBytes: s.core.storedBytes ?? null,
      goroutines: s.report.goroutines.total,
      problems: s.problems,
    };
    if (opts.json) return printJson(out);
    process.stdout.write(
      `snapshot ${out.id ?? "(not stored)"} of pid ${out.pid}${out.generation !== null ? ` (generation ${out.generation})` : ""}: ` +
        `paused ${out.pauseMs} ms (${out.writer === "tracer" ? "hotdump's tracer" : "Delve's dump"}), core ${formatBytes(out.coreBytes ?? 0)} → ${formatBytes(out.storedBytes ?? 0)}, ${out.goroutines} goroutines\n`,
    );
    if (s.tracerFailed) process.stdout.write(`  Delve's dump stood in: ${s.tracerFailed}\n`);
    for (const p of s.problems) process.stdout.write(`  problem: ${p.message} [${p.code}]\n`);
    if (out.id)
      process.stdout.write(
        `  next: hotdump report ${out.id} | hotdump scan ${out.id} --string TEXT | hotdump diff A ${out.id}\n`,
      );
  });
}
