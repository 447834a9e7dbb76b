/**
 * Interim crash signature (replaced by the lead's src/analyze/signature.ts on merge): kind +
 * normalised message + the function names of the top user frames.
 */
import type { Report } from "../contracts/report.js";

export function fingerprint(r: Pick<Report, "kind" | "message" | "goroutine" | "culprit">): string {
  const message = r.message.replace(/0x[0-9a-f]+/gi, "0x?").replace(/\d+/g, "N");
  const fns = (r.goroutine?.frames ?? [])
    .filter((f) => f.class === "user")
    .slice(0, 3)
    .map((f) => f.function);
  return `v0:${r.kind}:${message}:${fns.join(",")}`;
}
