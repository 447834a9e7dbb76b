/**
 * The fleet groups crashes by the same fingerprint a host uses for its own crash signatures, so
 * "the crash on host A is the one on host B" is decided by one function.
 */
import { createHash } from "node:crypto";
import type { Report } from "../contracts/report.js";

// INTERIM until src/analyze/signature.ts lands on main: kind + the user frames of the crashing
// goroutine (function names only, no lines or addresses).
export function fingerprintOf(report: Report): string {
  const frames = (report.goroutine?.frames ?? [])
    .filter((f) => f.class === "user")
    .slice(0, 5)
    .map((f) => f.function);
  const basis = [report.kind, ...(frames.length ? frames : [report.culprit?.function ?? report.message])];
  return `v0:${createHash("sha256").update(basis.join("\n")).digest("hex").slice(0, 16)}`;
}
