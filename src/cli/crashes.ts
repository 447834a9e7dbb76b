import type { Command } from "commander";
import { listCrashes } from "../store/queries.js";
import { printable } from "../util/log.js";
import { type CommonOptions, printJson, readableStoreDir, storeOption } from "./common.js";

export function registerCrashes(program: Command): void {
  storeOption(program.command("crashes").description("list the crashes in the store, newest first"))
    .option("--json", "print a JSON array")
    .action((opts: CommonOptions) => {
      const dir = readableStoreDir(opts, "crashes");
      if (dir === null) return;
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
          : c.empty
            ? "empty"
            : c.error
              ? "unreadable"
              : c.state === "capturing"
                ? "incomplete"
                : (c.kind ?? c.outcome ?? "?"),
        // meta.json still says "capturing": hotdump ended (SIGKILL, power loss) mid-capture.
        // A panic message is the program's text: ESC or NUL in it must not reach the terminal raw.
        printable(
          c.state === "capturing"
            ? "capture interrupted: hotdump stopped before the report"
            : (c.message ?? c.error ?? ""),
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
