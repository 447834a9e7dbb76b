/** report.json: the contract's key order (the schema's), 2-space indent, trailing newline. */
import type { Report } from "../contracts/index.js";
import { reportSchema } from "./reportSchema.js";

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

export function renderJson(report: Report): string {
  // zod rebuilds objects in the schema's declared order, whatever order the report was built in.
  // A report that does not parse (a bug upstream) is still written, in sorted order, rather than
  // lost: the crash matters more than the shape.
  const parsed = reportSchema.safeParse(report);
  return `${JSON.stringify(parsed.success ? parsed.data : sortKeys(report), null, 2)}\n`;
}
