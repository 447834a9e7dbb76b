/**
 * The fleet's layout in the object store (under the configured prefix):
 *
 *   blobs/sha256/<hex>                       every bundle file but meta and report, by content
 *                                            (core.zst, output tails, ...): sent once, ever
 *   binaries/<sha256>                        each binary once for the whole fleet (its build IDs
 *                                            are in the manifest and the binaries table)
 *   hosts/<host>/crashes/<id>/report.json    the report as the host made it
 *   hosts/<host>/crashes/<id>/manifest.json  written last: the bundle's commit mark
 *
 * A bundle exists in the fleet once its manifest does; everything it names was written before it.
 * Per-host credentials can be limited to writing hosts/<host>/*, blobs/* and binaries/*.
 */
import type { CrashMeta } from "../contracts/index.js";

export const MANIFEST_SCHEMA = "hotdump-fleet-manifest/1";

export interface ManifestFile {
  /** The file's name in the bundle directory. */
  name: string;
  role: "core" | "report" | "file";
  key: string;
  sha256: string;
  bytes: number;
}

export interface ManifestBinary {
  key: string;
  sha256: string;
  bytes: number;
  goBuildId: string | null;
  gnuBuildId: string | null;
  goVersion: string | null;
  vcsRevision: string | null;
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  host: string;
  id: string;
  /** When it crashed (the bundle's createdAt). */
  time: string;
  fingerprint: string;
  kind: string | null;
  message: string | null;
  /** "function file:line", as `hotdump crashes` shows it. */
  culprit: string | null;
  meta: CrashMeta;
  files: ManifestFile[];
  binary: ManifestBinary | null;
}

export const blobKey = (sha256: string) => `blobs/sha256/${sha256}`;
export const binaryKey = (sha256: string) => `binaries/${sha256}`;
const bundlePrefix = (host: string, id: string) => `hosts/${host}/crashes/${id}/`;
export const manifestKey = (host: string, id: string) => `${bundlePrefix(host, id)}manifest.json`;
export const reportKey = (host: string, id: string) => `${bundlePrefix(host, id)}report.json`;
export const MANIFEST_RE =
  /(?:^|\/)hosts\/([A-Za-z0-9][A-Za-z0-9._-]*)\/crashes\/(\d{8}-\d{6}-[0-9a-f]{4})\/manifest\.json$/;

/** A manifest read back from the store, checked enough to index and pull it safely. */
export function parseManifest(text: string): Manifest | string {
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    return "not JSON";
  }
  if (m?.schema !== MANIFEST_SCHEMA) return `schema ${JSON.stringify(m?.schema)} is not ${MANIFEST_SCHEMA}`;
  if (typeof m.host !== "string" || typeof m.id !== "string" || !Array.isArray(m.files)) return "incomplete";
  if (!/^\d{8}-\d{6}-[0-9a-f]{4}$/.test(m.id)) return `bad crash id ${JSON.stringify(m.id)}`;
  if (m.meta?.id !== m.id) return `meta.id ${JSON.stringify(m.meta?.id)} is not the manifest's id`;
  for (const f of m.files)
    if (!/^[A-Za-z0-9._-]+$/.test(f.name) || f.name.startsWith(".."))
      return `bad file name ${JSON.stringify(f.name)}`;
  return m;
}
