import type { Command } from "commander";
import { usageError } from "../errors.js";
import { parsePattern, scanStoredCapture } from "../forensics/scanCore.js";
import { type CommonOptions, printJson, storeDirFrom, storeOption } from "./common.js";
import { resolveCrashId } from "./report.js";

interface ScanFlags extends CommonOptions {
  pattern?: string;
  string?: string;
  pointer?: string;
  max?: string;
  force?: boolean;
  regions?: boolean;
}

export function registerScan(program: Command): void {
  storeOption(
    program
      .command("scan")
      .description(
        "search every dumped byte of a capture's core and name where each hit lies (goroutine stack, heap object, symbol)",
      )
      .argument("<id>", "a crash or snapshot id (or 'latest')")
      .option("--pattern <hex>", "bytes in memory order, e.g. efbeadde for the uint32 0xdeadbeef")
      .option("--string <text>", "UTF-8 text")
      .option("--pointer <addr>", "an address, searched as 8 little-endian bytes")
      .option("--max <n>", "stop after N hits", "100")
      .option("--force", "name hits even though the core's build ID does not match the binary")
      .option(
        "--no-regions",
        "only stream the core (no decompression to disk): hits without their region names",
      )
      .option("--json", "print JSON"),
  ).action(async (idArg: string, opts: ScanFlags) => {
    const storeDir = storeDirFrom(opts);
    const pattern = parsePattern({
      ...(opts.pattern !== undefined ? { hex: opts.pattern } : {}),
      ...(opts.string !== undefined ? { text: opts.string } : {}),
      ...(opts.pointer !== undefined ? { pointer: opts.pointer } : {}),
    });
    if (!/^\d+$/.test(opts.max ?? "100")) throw usageError("--max must be a number");
    const r = await scanStoredCapture(storeDir, resolveCrashId(storeDir, idArg), pattern, {
      max: Number(opts.max ?? 100),
      force: opts.force ?? false,
      regions: opts.regions !== false,
    });
    if (opts.json) return printJson(r);
    const s = r.stats;
    process.stdout.write(
      `${r.hits.length}${s.capped ? "+" : ""} hits for ${r.pattern} in ${(s.bytes / 1e6).toFixed(0)} MB of ${r.id} (${s.segments} segments, ${s.ms.toFixed(0)} ms, ${s.gbPerSecond.toFixed(2)} GB/s)\n`,
    );
    for (const h of r.hits)
      process.stdout.write(`${h.address}  ${h.where}\n    ${h.before} [${h.match}] ${h.after}\n`);
    if (s.capped) process.stdout.write(`(stopped at --max ${opts.max})\n`);
    for (const n of r.notes) process.stdout.write(`note: ${n}\n`);
  });
}
