import { existsSync } from "node:fs";
import type { Command } from "commander";
import { assertStoreDir } from "../store/layout.js";
import { listCrashes } from "../store/queries.js";
import { type CommonOptions, printJson, storeDirFrom, storeOption } from "./common.js";

export function registerCrashes(program: Command): void {
  storeOption(program.command("crashes").description("list the crashes in the store, newest first"))
    .option("--json", "print a JSON array")
    .action((opts: CommonOptions) => {
      const dir = storeDirFrom(opts);
      // A --store that names no store is a mistake to say; no store found by default is just
      // "nothing yet" (exec, dev and run create it).
      if (opts.store !== undefined) assertStoreDir(dir);
      else if (!existsSync(dir)) {
        if (opts.json) return printJson([]);
        process.stdout.write(
          `no crashes yet: no .hotdump store here or in a parent directory (hotdump exec, dev and run create one)\n`,
        );
        return;
      }
      const list = listCrashes(dir);
      if (opts.json) return printJson(list);
      if (list.length === 0) {
        process.stdout.write(`no crashes in ${dir}\n`);
        return;
      }
      const rows = list.map((c) => [
        c.id,
        c.generation === null ? "-" : String(c.generation),
        c.evicted
          ? "evicted"
          : c.error
            ? "unreadable"
            : c.state === "capturing"
              ? "incomplete"
              : (c.kind ?? c.outcome ?? "?"),
        // meta.json still says "capturing": hotdump ended (SIGKILL, power loss) mid-capture.
        (c.state === "capturing"
          ? "capture interrupted: hotdump stopped before the report"
          : (c.message ?? c.error ?? "")
        ).slice(0, 60),
        c.culprit ? c.culprit.replace(/^(\S+) .*\/([^/]+)$/, "$1 $2") : "",
      ]);
      const head = ["ID", "GEN", "KIND", "MESSAGE", "CULPRIT"];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const fmt = (r: string[]) =>
        r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
      process.stdout.write(`${[fmt(head), ...rows.map(fmt)].join("\n")}\n`);
    });
}
