/**
 * The JSON Schema of the Report contract: docs/report.schema.json is generated from the zod schema
 * in src/contracts/schemas.ts (`UPDATE_GOLDEN=1 npx vitest run test/report.test.ts` rewrites it).
 */
import { z } from "zod";
import { REPORT_SCHEMA_VERSION } from "../contracts/report.js";
import { reportSchema } from "../contracts/schemas.js";

export { reportSchema };

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
