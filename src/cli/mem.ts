import type { Command } from "commander";
import { usageError } from "../errors.js";
import { hexDump, memInCapture } from "../forensics/inspect.js";
import { parseAddress } from "../forensics/scanCore.js";
import { type CommonOptions, printJson, storeDirFrom, storeOption } from "./common.js";
import { resolveCrashId } from "./report.js";

export function registerMem(program: Command): void {
  storeOption(
    program
      .command("mem")
      .description(
        "show memory of a stored capture at an address (Delve ExamineMemory), and what region it is",
      )
      .argument("<id>", "a crash or snapshot id (or 'latest')")
      .argument("<address>", "hex, e.g. 0xc000012000")
      .option("--len <n>", "bytes to show", "64")
      .option("--force", "read even though the core's build ID does not match the binary")
      .option("--json", "print JSON (bytes as hex)"),
  ).action(
    async (idArg: string, address: string, opts: CommonOptions & { len?: string; force?: boolean }) => {
      const storeDir = storeDirFrom(opts);
      if (!/^\d+$/.test(opts.len ?? "64") || Number(opts.len) < 1 || Number(opts.len) > 1 << 20)
        throw usageError("--len must be 1..1048576");
      const addr = parseAddress(address);
      const r = await memInCapture(storeDir, resolveCrashId(storeDir, idArg), addr, Number(opts.len ?? 64), {
        force: opts.force ?? false,
      });
      if (opts.json) return printJson({ ...r, bytes: r.bytes.toString("hex") });
      process.stdout.write(`${r.address}: ${r.regionText}\n${hexDump(addr, r.bytes)}\n`);
    },
  );
}
