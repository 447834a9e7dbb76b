/**
 * The contracts (report.ts, bundle.ts) as zod schemas: what the store checks a report.json and a
 * meta.json against when it reads them, and the key order report.json is written in (the same
 * text `hotdump report -f json` prints). docs/report.schema.json is generated from reportSchema
 * (`UPDATE_GOLDEN=1 npx vitest run test/report.test.ts` rewrites it), and the type checks below
 * fail the build when the TypeScript types and these schemas drift apart.
 */
import { z } from "zod";
import type { CrashMeta } from "./bundle.js";
import { REPORT_SCHEMA_VERSION, type Report } from "./report.js";

const variable = z.object({
  name: z.string(),
  type: z.string(),
  value: z.string().describe("As Delve prints it, or gdb's text"),
  unreadable: z.string().optional().describe("Why the value could not be read"),
  redacted: z.boolean().optional().describe("Set when --redact masked the value"),
  nilFields: z
    .array(z.string())
    .optional()
    .describe("Paths of nil pointers, maps, slices, channels, funcs and interfaces inside the value"),
});

const frameClass = z
  .enum(["runtime", "stdlib", "cgo", "c", "user"])
  .describe("Whose code: the Go runtime, the standard library, cgo-generated glue, C code, or user code");

const sourceContext = z.object({
  startLine: z.number().int().describe("Line number of lines[0]"),
  lines: z.array(z.string()),
  path: z.string().optional().describe("The file read, when not the frame's own file (-trimpath)"),
  stale: z.string().optional().describe("Why the file on disk may differ from the build"),
});

const frame = z.object({
  function: z.string(),
  file: z.string(),
  line: z.number().int(),
  pc: z.string().optional(),
  rawArgs: z.string().optional().describe("Raw argument words from the traceback"),
  args: z.array(variable),
  locals: z.array(variable),
  runtime: z.boolean().describe("Go runtime frame: folded in presentation, skipped for the culprit"),
  class: frameClass,
  source: sourceContext.optional(),
});

export const locationSchema = z.object({
  function: z.string(),
  file: z.string(),
  line: z.number().int(),
  localFile: z.string().optional().describe("The file on this machine, when the build's path is not"),
  frame: z.number().int().optional().describe("Index of this frame in goroutine.frames"),
});

const goroutineGroup = z.object({
  count: z.number().int(),
  state: z.string(),
  function: z.string(),
  file: z.string(),
  line: z.number().int(),
  class: frameClass.optional(),
  ids: z.array(z.number().int()).optional(),
});

const raceAccess = z.object({
  op: z.enum(["read", "write"]),
  atomic: z.boolean(),
  previous: z.boolean().describe('The earlier access ("Previous write at ...")'),
  addr: z.string(),
  goroutine: z
    .number()
    .int()
    .nullable()
    .describe('The race detector\'s goroutine number; null for "main goroutine"'),
  mutexes: z.string().optional().describe("Locks held, as printed"),
  frames: z.array(frame),
});

const race = z.object({
  accesses: z.array(raceAccess).describe("The current access first, then the previous one"),
  created: z
    .array(z.object({ goroutine: z.number().int(), state: z.string(), frames: z.array(frame) }))
    .describe("Where each racing goroutine was started"),
  culprit: locationSchema.nullable().describe("The user's frame of the racing write"),
});

const processInfo = z.object({
  pid: z.number().int().nullable(),
  generation: z.number().int().nullable().describe("The hotdump dev/run generation; null under exec"),
  command: z.array(z.string()),
  startedAt: z.string().nullable(),
  time: z.string().nullable().describe("When it crashed (for a snapshot: when the core was taken)"),
});

const sourceUse = z.object({ used: z.boolean(), note: z.string().optional() });

export const reportSchema = z
  .object({
    schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
    kind: z.enum(["panic", "fatal", "signal", "race", "snapshot", "unknown"]),
    message: z.string().describe("The panic message / throw text / fault description, first line"),
    value: z.string().nullable().describe("The decoded panic value as Delve prints it"),
    nested: z.array(z.object({ message: z.string(), recovered: z.boolean() })),
    signal: z
      .object({
        name: z.string(),
        code: z.string().optional(),
        addr: z.string().optional(),
        pc: z.string().optional(),
      })
      .nullable(),
    culprit: locationSchema.nullable(),
    site: locationSchema
      .extend({ class: frameClass })
      .nullable()
      .optional()
      .describe("Where it happened when that is not the culprit (C code, the standard library)"),
    goroutine: z
      .object({ id: z.number().int(), state: z.string().optional(), frames: z.array(frame) })
      .nullable(),
    goroutines: z.object({ total: z.number().int(), groups: z.array(goroutineGroup) }),
    registers: z.array(z.object({ name: z.string(), value: z.string() })),
    memoryMap: z.array(
      z.object({
        start: z.string(),
        end: z.string(),
        perms: z.string().optional(),
        file: z.string().optional(),
        offset: z.string().optional(),
      }),
    ),
    goVersion: z.string().nullable(),
    binary: z
      .object({
        path: z.string().optional(),
        sha256: z.string().optional(),
        goBuildId: z.string().nullable().optional(),
        gnuBuildId: z.string().nullable().optional(),
      })
      .nullable(),
    core: z
      .object({
        path: z.string().optional(),
        buildIdMatch: z.boolean().nullable().optional(),
        truncated: z.boolean().optional(),
      })
      .nullable(),
    sources: z.object({ delve: sourceUse, gdb: sourceUse, traceback: sourceUse }),
    // Defaults: report.json files written before these fields existed still parse.
    races: z
      .array(race)
      .default([])
      .describe("Data races the race detector reported, in order; every one kept"),
    process: processInfo.nullable().default(null).describe("Which process crashed, and when"),
    next: z.array(z.string()).describe("Shell commands to go further"),
    warnings: z.array(z.string()),
  })
  .describe("A hotdump crash report");

const coreInfo = z.object({
  found: z.boolean(),
  reason: z.string().optional(),
  code: z.string().optional(),
  originalPath: z.string().optional(),
  stored: z.string().optional(),
  compression: z.string().optional(),
  bytes: z.number().optional(),
  storedBytes: z.number().optional(),
  truncated: z.boolean().optional(),
  buildIdMatch: z.boolean().nullable().optional(),
  buildIdReason: z.string().optional(),
});

const binaryInfo = z.object({
  path: z.string(),
  sha256: z.string().optional(),
  goBuildId: z.string().nullable().optional(),
  gnuBuildId: z.string().nullable().optional(),
  goVersion: z.string().nullable().optional(),
  hasDwarf: z.boolean().optional(),
});

/**
 * meta.json. Loose: a field a newer hotdump added survives a rewrite by this one (fields are added,
 * never renamed: contracts/bundle.ts).
 */
export const crashMetaSchema = z.looseObject({
  schemaVersion: z.number().int(),
  id: z.string(),
  type: z.enum(["crash", "snapshot"]),
  state: z.enum(["capturing", "complete", "partial"]),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  outcome: z.enum(["crash", "exit", "killed"]),
  pid: z.number().int().optional(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  cmdline: z.array(z.string()),
  cwd: z.string(),
  envNames: z.array(z.string()),
  goVersion: z.string().nullable().optional(),
  binary: binaryInfo.nullable(),
  core: coreInfo,
  generation: z.number().int().nullable(),
  kind: reportSchema.shape.kind.optional(),
  message: z.string().optional(),
  culprit: locationSchema.nullable().optional(),
  problems: z.array(z.object({ code: z.string(), message: z.string() })),
});

// Both directions, so a field added to one and not the other is a compile error.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Strict<T> = { [K in keyof T as string extends K ? never : K]: T[K] };
const reportMatchesSchema: Same<
  Omit<z.infer<typeof reportSchema>, "schemaVersion">,
  Omit<Report, "schemaVersion">
> = true;
const metaMatchesSchema: Same<Strict<z.infer<typeof crashMetaSchema>>, CrashMeta> = true;
void reportMatchesSchema;
void metaMatchesSchema;

/** Keys sorted, recursively: the order used when a report does not match the schema. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** report.json's text: the contract's key order (the schema's), 2-space indent, trailing newline. */
export function reportJson(report: Report): string {
  // zod rebuilds objects in the schema's declared order, whatever order the report was built in.
  // A report that does not parse (a bug upstream) is still written, in sorted order, rather than
  // lost: the crash matters more than the shape.
  const parsed = reportSchema.safeParse(report);
  return `${JSON.stringify(parsed.success ? parsed.data : sortKeys(report), null, 2)}\n`;
}
