import { existsSync, readdirSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { Report } from "../contracts/index.js";
import { HotdumpError, usageError } from "../errors.js";
import type { TextOptions } from "../report/index.js";
import { isCrashId, readStore, storeLayout } from "../store/layout.js";
import { useColour } from "../util/log.js";
import { type CommonOptions, storeDirFrom, storeOption, withStoreFlag } from "./common.js";

export type Format = "text" | "json" | "md" | "html";
const FORMATS: Format[] = ["text", "json", "md", "html"];

export function parseFormat(f: string | undefined): Format {
  const v = (f ?? "text") as Format;
  if (!FORMATS.includes(v))
    throw usageError(`unknown format ${JSON.stringify(f)}: use one of ${FORMATS.join(", ")}`);
  return v;
}

/**
 * For a person reading it here, the report's `next` commands with the --store they need (JSON
 * keeps the stored commands: a program reading it knows which store it asked).
 */
export function humanNext(report: Report, format: Format, storeDir: string): Report {
  return format === "json" ? report : { ...report, next: withStoreFlag(report.next, storeDir) };
}

/**
 * Each format's renderer, loaded when it is asked for: the JSON one orders keys by the report's
 * zod schema, and loading zod costs more than the rest of a text report.
 */
const RENDERERS: Record<Format, () => Promise<(r: Report, o: TextOptions) => string>> = {
  text: async () => (await import("../report/text.js")).renderText,
  json: async () => (await import("../report/json.js")).renderJson,
  md: async () => (await import("../report/markdown.js")).renderMarkdown,
  html: async () => (await import("../report/html.js")).renderHtml,
};

/** Print or write a report in a format; text gets colour only on a terminal. */
/** Loads the renderer now (its modules) so that emitReport does not wait for them later. */
export function preloadRenderer(format: Format): void {
  RENDERERS[format]().catch(() => undefined);
}

export async function emitReport(report: Report, format: Format, out?: string): Promise<void> {
  const colour = !out && format === "text" && useColour(process.stdout);
  const text = (await RENDERERS[format]())(report, { colour });
  if (out) {
    writeFileSync(out, text, { mode: 0o600 });
    process.stderr.write(`hotdump: wrote ${out}\n`);
  } else process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** The bundle module (it validates with zod and journals in SQLite) loads only when a stored report is read. */
async function readStoredReport(storeDir: string, id: string): Promise<Report> {
  const { openBundle, readBundleReport } = await import("../store/bundle.js");
  return readBundleReport(openBundle(readStore(storeDir), id));
}

export function registerReport(program: Command): void {
  storeOption(
    program
      .command("report")
      .description("print the report of a stored crash")
      .argument("[crash-id]", "as listed by hotdump crashes (default: the latest)")
      .option("-f, --format <format>", "text, json, md or html", "text")
      .option("-o, --out <file>", "write to a file instead of stdout"),
  ).action(async (id: string | undefined, opts: CommonOptions & { format?: string; out?: string }) => {
    const format = parseFormat(opts.format);
    const storeDir = storeDirFrom(opts);
    const report = await readStoredReport(storeDir, resolveCrashId(storeDir, id ?? "latest"));
    await emitReport(humanNext(report, format, storeDir), format, opts.out);
  });
}

/** `latest` means the newest bundle; anything else must be a valid id (validated by openBundle). */
export function resolveCrashId(storeDir: string, id: string): string {
  if (id !== "latest") return id;
  const dir = storeLayout(storeDir).crashes;
  const last = (existsSync(dir) ? readdirSync(dir) : []).filter(isCrashId).sort().pop();
  if (!last) throw new HotdumpError("usage", "E_NO_CRASHES", `no crashes in ${storeDir}`);
  return last;
}
