/**
 * Sending one bundle to the fleet, in the order that makes a half-sent bundle invisible and a
 * re-sent one harmless: the blobs and the binary (content-addressed), the report, the manifest
 * (the commit mark), then one PostgreSQL transaction. Any step may fail; the next attempt repeats
 * the steps, each skipping what is already there.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Report } from "../contracts/index.js";
import { readBinaryIdentity } from "../elf/index.js";
import { binaryPath, type Journal, openBundle, type StoreLayout, sha256File } from "../store/index.js";
import type { Catalog } from "./catalog.js";
import { fingerprintOf } from "./fingerprint.js";
import {
  binaryKey,
  blobKey,
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestBinary,
  type ManifestFile,
  manifestKey,
  reportKey,
} from "./manifest.js";
import type { ObjectStore } from "./objects.js";

export interface FleetTarget {
  host: string;
  objects: ObjectStore;
  catalog: Catalog;
}

/** A bundle still being captured is sent once it is done, or once it is clearly abandoned. */
const ABANDONED_MS = 10 * 60_000;

export type Delivery = { delivered: true; manifestKey: string } | { delivered: false; why: string };

export async function deliverBundle(
  target: FleetTarget,
  layout: StoreLayout,
  journal: Journal,
  crashId: string,
): Promise<Delivery> {
  const bundle = openBundle(layout, crashId);
  const meta = bundle.meta;
  if (meta.state === "capturing" && Date.now() - Date.parse(meta.createdAt) < ABANDONED_MS)
    return { delivered: false, why: "still being captured" };
  const { objects } = target;
  const files: ManifestFile[] = [];
  let report: Report | null = null;
  for (const name of readdirSync(bundle.dir).sort()) {
    const path = join(bundle.dir, name);
    if (name === "meta.json" || name.endsWith(".tmp") || !statSync(path).isFile()) continue;
    if (name === "report.json") {
      const text = readFileSync(path);
      report = JSON.parse(text.toString("utf8")) as Report;
      const key = objects.key(reportKey(target.host, crashId));
      await objects.putIfAbsent(key, text, "application/json");
      files.push({ name, role: "report", key, sha256: await sha256File(path), bytes: text.length });
      continue;
    }
    const sha256 = await sha256File(path);
    const key = objects.key(blobKey(sha256));
    const isCore = name === meta.core.stored;
    await objects.putFileIfAbsent(key, path, {
      pending: isCore ? (journal.outboxRow(crashId)?.upload ?? null) : null,
      onPending: (u) => journal.outboxUpload(crashId, u),
    });
    files.push({ name, role: isCore ? "core" : "file", key, sha256, bytes: statSync(path).size });
  }
  const binary = await sendBinary(objects, layout, meta.binary?.sha256);
  const culprit = report?.culprit ?? meta.culprit ?? null;
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    host: target.host,
    id: crashId,
    time: meta.endedAt ?? meta.createdAt,
    fingerprint: report ? fingerprintOf(report) : `nokey:${crashId}`,
    kind: report?.kind ?? meta.kind ?? null,
    message: report?.message ?? meta.message ?? null,
    culprit: culprit ? `${culprit.function} ${culprit.file}:${culprit.line}` : null,
    meta,
    files,
    binary,
  };
  const mKey = objects.key(manifestKey(target.host, crashId));
  await objects.putIfAbsent(mKey, `${JSON.stringify(manifest, null, 2)}\n`, "application/json");
  // What the store holds wins over what we just built (a second attempt after the manifest was
  // written but before the index was): index the manifest that is there.
  const stored = JSON.parse((await objects.get(mKey)).toString("utf8")) as Manifest;
  await target.catalog.index(stored, mKey);
  return { delivered: true, manifestKey: mKey };
}

async function sendBinary(
  objects: ObjectStore,
  layout: StoreLayout,
  sha256: string | undefined,
): Promise<ManifestBinary | null> {
  if (!sha256) return null;
  let path: string;
  try {
    path = binaryPath(layout, sha256);
    if (!statSync(path).isFile()) return null;
  } catch {
    return null; // evicted from this store: the manifest says so by naming none
  }
  const key = objects.key(binaryKey(sha256));
  await objects.putFileIfAbsent(key, path);
  const id = await readBinaryIdentity(path).catch(() => null);
  return {
    key,
    sha256,
    bytes: statSync(path).size,
    goBuildId: id?.goBuildId ?? null,
    gnuBuildId: id?.gnuBuildId ?? null,
    goVersion: id?.goVersion ?? null,
    vcsRevision: id?.buildSettings["vcs.revision"] ?? null,
  };
}
