import type { Command } from "commander";
import { listGenerations } from "../store/queries.js";
import { type CommonOptions, printJson, readableStoreDir, storeOption } from "./common.js";

export function registerHistory(program: Command): void {
  storeOption(
    program
      .command("history")
      .description("list the generations built or deployed into this store, oldest first"),
  )
    .option("--json", "print a JSON array")
    .action((opts: CommonOptions) => {
      const dir = readableStoreDir(opts, "generations");
      if (dir === null) return;
      const list = listGenerations(dir);
      if (opts.json) return printJson(list);
      if (list.length === 0) {
        process.stdout.write(`no generations in ${dir}\n`);
        return;
      }
      // ADDED, not BUILT: a `run` generation is a deployed binary hotdump never built.
      // A generation that ended by itself and was started again says so: "ready" alone would hide
      // that it crashed (its crashes are listed at the end of the line).
      const statusOf = (g: (typeof list)[number]) =>
        g.restarts > 0 ? `${g.status} (restarted ${g.restarts}×)` : g.status;
      const w = Math.max(8, ...list.map((g) => statusOf(g).length));
      process.stdout.write(
        `${"GEN".padStart(4)}  ${"ADDED (UTC)".padEnd(19)}  SRC  ${"SHA-256".padEnd(12)}  ${"STATUS".padEnd(w)}  CHANGED / CRASHES\n`,
      );
      for (const g of list) {
        const changed = g.changed.length
          ? ` ${g.changed.slice(0, 3).join(", ")}${g.changed.length > 3 ? " …" : ""}`
          : "";
        const crashes = g.crashIds.length ? `  crashes: ${g.crashIds.join(", ")}` : "";
        process.stdout.write(
          `${String(g.generation).padStart(4)}  ${g.createdAt.replace("T", " ").slice(0, 19)}  ${g.source.padEnd(3)}  ${g.sha256.slice(0, 12)}  ${statusOf(g).padEnd(w)}${changed}${crashes}\n`,
        );
      }
    });
}
