import type { Command } from "commander";
import { firstSeenText, listSignatureGroups, type SignatureGroup } from "../analyze/signatureGroups.js";
import { type CrashListing, listCrashes } from "../store/queries.js";
import { printable } from "../util/log.js";
import { type CommonOptions, printJson, readableStoreDir, storeOption } from "./common.js";

interface CrashesOptions extends CommonOptions {
  all?: boolean;
  signatures?: boolean;
}

export function registerCrashes(program: Command): void {
  storeOption(
    program
      .command("crashes")
      .description(
        "list the crashes in the store by signature (the same bug once, with its count), newest first",
      ),
  )
    .option("--all", "every crash on its own line, not grouped by signature")
    .option("--signatures", "with --json: the signature groups instead of the crashes")
    .option("--json", "print a JSON array (the crashes, each with its fingerprint; --signatures: the groups)")
    .action(async (opts: CrashesOptions) => {
      const dir = readableStoreDir(opts, "crashes");
      if (dir === null) return;
      // JSON stays the flat list scripts already read; people read the groups.
      const grouped = opts.signatures || (!opts.json && !opts.all);
      if (!grouped) {
        const list = listCrashes(dir);
        if (opts.json) return printJson(list);
        return printFlat(list, dir);
      }
      const groups = await listSignatureGroups(dir);
      if (opts.json) return printJson(groups);
      printGroups(groups, dir);
    });
}

const shortCulprit = (c: string | null) => (c ? c.replace(/^(\S+) .*\/([^/]+)$/, "$1 $2") : "");

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [fmt(head), ...rows.map(fmt)].join("\n");
}

function printFlat(list: CrashListing[], dir: string): void {
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
        : `${c.message ?? c.error ?? ""}${c.count > 1 ? ` (×${c.count})` : ""}`,
    ).slice(0, 60),
    shortCulprit(c.culprit),
  ]);
  process.stdout.write(`${table(["ID", "GEN", "KIND", "MESSAGE", "CULPRIT"], rows)}\n`);
}

function printGroups(groups: SignatureGroup[], dir: string): void {
  if (groups.length === 0) {
    process.stdout.write(`no crashes in ${dir}\n`);
    return;
  }
  const gens = (g: SignatureGroup) => {
    const n = g.generations;
    if (n.length === 0) return "-";
    return n.length <= 3 ? n.join(",") : `${n[0]}-${n.at(-1)} (${n.length})`;
  };
  const rows = groups.map((g) => [
    String(g.count),
    g.kind ?? "?",
    gens(g),
    (g.lastSeen ?? "").replace("T", " ").slice(0, 19),
    printable(`${g.regression ? "REGRESSION " : ""}${g.message ?? ""}`).slice(0, 60),
    shortCulprit(g.culprit),
  ]);
  const lines = table(["COUNT", "KIND", "GENS", "LAST SEEN (UTC)", "MESSAGE", "CULPRIT"], rows).split("\n");
  const out = [lines[0]!];
  groups.forEach((g, i) => {
    out.push(lines[i + 1]!);
    const notes = [
      firstSeenText(g),
      g.regression
        ? `regression: fixed in generation ${g.regression.fixedIn}, back in ${g.regression.backIn}`
        : "",
      `latest ${g.crashIds[0]}`,
    ].filter(Boolean);
    out.push(`       ${notes.join(" · ")}`);
  });
  process.stdout.write(`${out.join("\n")}\n`);
}
