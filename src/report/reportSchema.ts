/**
 * The Report contract (src/contracts/reportModel.ts) as a zod schema. docs/report.schema.json is generated
 * from this (`UPDATE_GOLDEN=1 npx vitest run test/report.test.ts` rewrites it), and the type checks
 * below fail the build when the TypeScript types and this schema drift apart.
 */
import { z } from "zod";
import { REPORT_SCHEMA_VERSION, type Report } from "../contracts/index.js";

const variable = z.object({
  name: z.string(),
  type: z.string(),
  value: z.string().describe("In Go's notation (time.Time, Duration, %q strings...), or gdb's text"),
  raw: z.string().optional().describe("The fields Go's notation summarised, when they differ from value"),
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

const location = z.object({
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
  culprit: location.nullable().describe("The user's frame of the racing write"),
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
    kind: z.enum(["panic", "fatal", "signal", "race", "snapshot", "recovered", "hang", "unknown"]),
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
    nil: z
      .object({
        expression: z
          .string()
          .nullable()
          .describe("The nil expression of the crashing line; null when undecidable"),
        use: z.enum(["dereference", "map write", "method call", "call"]),
        addr: z.string().optional().describe("The fault address of a nil dereference"),
        candidates: z.array(z.string()).optional().describe("What remains when it cannot be decided"),
        note: z.string().optional().describe("Why it cannot be decided"),
      })
      .nullable()
      .optional()
      .describe("On a nil dereference or nil map write: the nil that crashed"),
    culprit: location.nullable(),
    site: location
      .extend({ class: frameClass })
      .nullable()
      .optional()
      .describe("Where it happened when that is not the culprit (C code, the standard library)"),
    goroutine: z
      .object({ id: z.number().int(), state: z.string().optional(), frames: z.array(frame) })
      .nullable(),
    goroutines: z.object({ total: z.number().int(), groups: z.array(goroutineGroup) }),
    hang: z
      .object({
        reason: z.string().describe("Why it was judged hung: liveness failures, a missed watchdog"),
        waits: z.array(
          z.object({
            state: z.string().describe("The runtime's wait reason (sync.Mutex.Lock, chan send)"),
            minutes: z.number().int().describe("The longest wait in the group, in whole minutes"),
            count: z.number().int(),
            function: z.string().describe("The user frame that waits"),
            file: z.string(),
            line: z.number().int(),
            ids: z.array(z.number().int()),
          }),
        ),
      })
      .optional()
      .describe("kind hang: goroutines grouped by wait reason and wait time"),
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
    fingerprint: z
      .string()
      .optional()
      .describe("The crash signature: the same bug gives the same fingerprint in every generation"),
    recovered: z
      .object({
        by: z.enum(["net/http", "chi", "gin", "echo", "grpc"]),
        remoteAddr: z.string().optional(),
      })
      .optional()
      .describe("kind recovered: who recovered the panic (the service kept running)"),
  })
  .describe("A hotdump crash report");

// Both directions, so a field added to one and not the other is a compile error.
type Parsed = z.infer<typeof reportSchema>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const reportMatchesSchema: Same<Omit<Parsed, "schemaVersion">, Omit<Report, "schemaVersion">> = true;
void reportMatchesSchema;

/** The JSON Schema (draft 2020-12) committed as docs/report.schema.json. */
export function reportJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(reportSchema, { target: "draft-2020-12" }) as Record<string, unknown>;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: `https://github.com/hotdump/hotdump/docs/report.schema.v${REPORT_SCHEMA_VERSION}.json`,
    title: "hotdump report",
    ...generated,
  };
}
