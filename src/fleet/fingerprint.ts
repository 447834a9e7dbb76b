/**
 * The fleet groups crashes by the fingerprint a host uses for its own crash signatures
 * (src/analyze/signature.ts), so "the crash on host A is the one on host B" is decided by one
 * function. Fingerprints carry their version (`v1-…`): a fleet whose hosts run different hotdump
 * versions groups each version's crashes apart rather than wrongly together.
 */
import { signatureOf } from "../analyze/signature.js";
import type { Report } from "../contracts/index.js";

export function fingerprintOf(report: Report): string {
  return signatureOf({ ...report, races: report.races ?? [] }).fingerprint;
}
