import { existsSync } from "node:fs";
import type { Command } from "commander";
import { openJournal, storeLayout } from "../store/index.js";
import { type CommonOptions, printJson, storeDirFrom, storeOption } from "./common.js";

export interface GenerationListing {
  generation: number;
  createdAt: string;
  source: string;
  sha256: string;
  binary: string;
  goBuildId: string | null;
  gnuBuildId: string | null;
  changed: string[];
  buildMs: number | null;
  /** What became of it: ready, crashed, rolled back, stopped... (the last lifecycle event). */
  status: string;
  pids: number[];
  crashIds: string[];
}

export function listGenerations(storeDir: string): GenerationListing[] {
  const layout = storeLayout(storeDir);
  if (!existsSync(layout.journal)) return [];
  const j = openJournal(layout, { readonly: true });
  try {
    const events = j.events({ limit: 1_000_000 });
    return j.generations().map((g) => {
      const mine = events.filter((e) => e.generation === g.n);
      const last = [...mine]
        .reverse()
        .find((e) =>
          ["ready", "switch", "stopped", "exited", "crash", "rollback", "started"].includes(e.event),
        );
      return {
        generation: g.n,
        createdAt: g.createdAt,
        source: g.source,
        sha256: g.sha256,
        binary: g.binary,
        goBuildId: g.goBuildId,
        gnuBuildId: g.gnuBuildId,
        changed: g.changed,
        buildMs: g.buildMs,
        status: last?.event ?? "built",
        pids: [...new Set(mine.filter((e) => e.event === "started" && e.pid).map((e) => e.pid as number))],
        crashIds: mine.filter((e) => e.event === "crash" && e.crashId).map((e) => e.crashId as string),
      };
    });
  } finally {
    j.close();
  }
}

export function registerHistory(program: Command): void {
  storeOption(
    program
      .command("history")
      .description("list the generations built or deployed into this store, oldest first"),
  )
    .option("--json", "print a JSON array")
    .action((opts: CommonOptions) => {
      const dir = storeDirFrom(opts);
      const list = listGenerations(dir);
      if (opts.json) return printJson(list);
      if (list.length === 0) {
        process.stdout.write(`no generations in ${dir}\n`);
        return;
      }
      process.stdout.write(
        `${"GEN".padStart(4)}  ${"BUILT (UTC)".padEnd(19)}  SRC  ${"SHA-256".padEnd(12)}  ${"STATUS".padEnd(8)}  CHANGED / CRASHES\n`,
      );
      for (const g of list) {
        const changed = g.changed.length
          ? ` ${g.changed.slice(0, 3).join(", ")}${g.changed.length > 3 ? " …" : ""}`
          : "";
        const crashes = g.crashIds.length ? `  crashes: ${g.crashIds.join(", ")}` : "";
        process.stdout.write(
          `${String(g.generation).padStart(4)}  ${g.createdAt.replace("T", " ").slice(0, 19)}  ${g.source.padEnd(3)}  ${g.sha256.slice(0, 12)}  ${g.status.padEnd(8)}${changed}${crashes}\n`,
        );
      }
    });
}
