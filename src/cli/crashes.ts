import { existsSync } from "node:fs";
import type { Command } from "commander";
import { listBundles, openJournal, storeLayout } from "../store/index.js";
import { type CommonOptions, printJson, storeDirFrom, storeOption } from "./common.js";

export interface CrashListing {
  id: string;
  time: string | null;
  generation: number | null;
  outcome: string | null;
  signal: string | null;
  kind: string | null;
  message: string | null;
  culprit: string | null;
  binarySha256: string | null;
  state: string | null;
  coreStored: boolean;
  buildIdMatch: boolean | null;
  evicted: boolean;
  dir: string | null;
  error?: string;
}

/** Bundles on disk, plus crashes the journal still counts after their bundle was evicted. */
export function listCrashes(storeDir: string): CrashListing[] {
  const layout = storeLayout(storeDir);
  const out: CrashListing[] = listBundles(layout).map((b) => {
    // Snapshots stored before they had their own kind said `unknown` with a made-up culprit.
    const snapshot = b.meta?.type === "snapshot";
    return {
      id: b.id,
      time: b.meta?.createdAt ?? null,
      generation: b.meta?.generation ?? null,
      outcome: b.meta?.outcome ?? null,
      signal: b.meta?.signal ?? null,
      kind: snapshot ? "snapshot" : (b.meta?.kind ?? null),
      message: b.meta?.message || (snapshot ? `snapshot of pid ${b.meta?.pid ?? "?"}` : null),
      culprit:
        b.meta?.culprit && !snapshot
          ? `${b.meta.culprit.function} ${b.meta.culprit.file}:${b.meta.culprit.line}`
          : null,
      binarySha256: b.meta?.binary?.sha256 ?? null,
      state: b.meta?.state ?? null,
      coreStored: Boolean(b.meta?.core.stored),
      buildIdMatch: b.meta?.core.buildIdMatch ?? null,
      evicted: false,
      dir: b.dir,
      ...(b.error ? { error: b.error } : {}),
    };
  });
  if (existsSync(layout.journal)) {
    const seen = new Set(out.map((c) => c.id));
    const j = openJournal(layout, { readonly: true });
    try {
      for (const c of j.crashes())
        if (!seen.has(c.id))
          out.push({
            id: c.id,
            time: c.ts,
            generation: c.generation,
            outcome: c.outcome,
            signal: c.signal,
            kind: c.kind,
            message: c.message,
            culprit: c.culprit,
            binarySha256: c.binarySha256,
            state: null,
            coreStored: false,
            buildIdMatch: null,
            evicted: true,
            dir: null,
          });
    } finally {
      j.close();
    }
  }
  return out.sort((a, b) => (b.time ?? "").localeCompare(a.time ?? ""));
}

export function registerCrashes(program: Command): void {
  storeOption(program.command("crashes").description("list the crashes in the store, newest first"))
    .option("--json", "print a JSON array")
    .action((opts: CommonOptions) => {
      const dir = storeDirFrom(opts);
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
