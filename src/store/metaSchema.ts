/**
 * meta.json's contract (src/contracts/crashMeta.ts) as a zod schema: what readMeta checks a bundle's
 * meta.json against. The type check below fails the build when CrashMeta and this schema drift
 * apart (a field added to one and not the other).
 */
import { z } from "zod";
import type { CrashMeta } from "../contracts/index.js";
import { reportSchema } from "../report/reportSchema.js";

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
 * never renamed: contracts/crashMeta.ts).
 */
export const crashMetaSchema = z.looseObject({
  schemaVersion: z.number().int(),
  id: z.string(),
  type: z.enum(["crash", "snapshot"]),
  state: z.enum(["capturing", "complete", "partial"]),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  outcome: z.enum(["crash", "exit", "killed", "recovered"]),
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
  culprit: reportSchema.shape.culprit.optional(),
  problems: z.array(z.object({ code: z.string(), message: z.string() })),
  fingerprint: z.string().optional(),
  recoveredBy: reportSchema.shape.recovered.unwrap().shape.by.optional(),
  count: z.number().int().optional(),
  lastSeen: z.string().optional(),
  firstReportAt: z.string().optional(),
});

// Both directions; the index signature of a loose object left out.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Known<T> = { [K in keyof T as string extends K ? never : K]: T[K] };
const metaMatchesSchema: Same<Known<z.infer<typeof crashMetaSchema>>, CrashMeta> = true;
void metaMatchesSchema;
