/**
 * `hotdump fleet pull ID`: a fleet crash made a bundle of a local store again, byte for byte
 * (every blob checked against its SHA-256), so `report`, `debug`, `eval` and `scan` work on it as
 * on the host that captured it.
 */
import { existsSync, renameSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { HotdumpError } from "../errors.js";
import {
  archiveBinary,
  binaryPath,
  crashDir,
  DIR_MODE,
  ensureStore,
  isCrashId,
  openJournal,
  type StoreLayout,
  saveMeta,
} from "../store/index.js";
import type { FleetCrash } from "./catalog.js";
import { fleetAmbiguous, fleetCrashNotFound, fleetManifestBad } from "./errors.js";
import { parseManifest } from "./manifest.js";
import type { FleetConnection } from "./outbox.js";

export interface Pulled {
  id: string;
  host: string;
  dir: string;
  bytes: number;
  /** It was in the store already: nothing was downloaded. */
  present: boolean;
}

/** "ID" or "HOST/ID" to the one fleet crash it names. */
async function findFleetCrash(conn: FleetConnection, arg: string): Promise<FleetCrash> {
  const slash = arg.lastIndexOf("/");
  const host = slash >= 0 ? arg.slice(0, slash) : null;
  const id = slash >= 0 ? arg.slice(slash + 1) : arg;
  if (!isCrashId(id))
    throw new HotdumpError(
      "usage",
      "E_BAD_CRASH_ID",
      `not a crash id: ${JSON.stringify(arg.slice(0, 80))} (see hotdump fleet crashes)`,
    );
  const found = (await conn.catalog.find(id)).filter((c) => host === null || c.host === host);
  if (found.length === 0) throw fleetCrashNotFound(arg);
  if (found.length > 1)
    throw fleetAmbiguous(
      id,
      found.map((c) => c.host),
    );
  return found[0]!;
}

export async function pullCrash(conn: FleetConnection, storeRoot: string, arg: string): Promise<Pulled> {
  const crash = await findFleetCrash(conn, arg);
  const layout: StoreLayout = ensureStore(storeRoot);
  const dir = crashDir(layout, crash.id);
  if (existsSync(join(dir, "meta.json")))
    return { id: crash.id, host: crash.host, dir, bytes: 0, present: true };
  const text = (await conn.objects.get(crash.manifestKey)).toString("utf8");
  const m = parseManifest(text);
  if (typeof m === "string") throw fleetManifestBad(crash.manifestKey, m);
  // Downloaded beside the store's bundles, renamed into place once complete: a pull that is
  // killed leaves no half bundle under crashes/.
  const tmp = join(layout.tmp, `pull-${crash.id}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  await mkdir(tmp, { mode: DIR_MODE });
  let bytes = 0;
  try {
    for (const f of m.files) {
      const got = await conn.objects.download(f.key, join(tmp, f.name));
      if (got.sha256 !== f.sha256)
        throw fleetManifestBad(
          crash.manifestKey,
          `${f.name} has SHA-256 ${got.sha256}, the manifest says ${f.sha256}`,
        );
      bytes += got.bytes;
    }
    if (m.binary && !existsSync(binaryPath(layout, m.binary.sha256))) {
      // Stored as the host stored it: binaries/<sha256>/<program name>, 0500.
      const part = join(layout.tmp, `pull-${m.binary.sha256}-${process.pid}`);
      try {
        const got = await conn.objects.download(m.binary.key, part);
        if (got.sha256 !== m.binary.sha256)
          throw fleetManifestBad(
            m.binary.key,
            `binary has SHA-256 ${got.sha256}, expected ${m.binary.sha256}`,
          );
        await archiveBinary(layout, part, basename(m.meta.binary?.path ?? "program"));
        bytes += got.bytes;
      } finally {
        rmSync(part, { force: true });
      }
    }
    await saveMeta(tmp, m.meta);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const journal = openJournal(layout);
  try {
    journal.recordCrash({
      id: m.id,
      ts: m.meta.createdAt,
      generation: m.meta.generation,
      outcome: m.meta.outcome,
      signal: m.meta.signal,
      kind: m.kind,
      message: m.message,
      culprit: m.culprit,
      binarySha256: m.binary?.sha256 ?? null,
    });
    // It came from the fleet: never sent back under this host's name.
    journal.enqueue(m.id);
    journal.outboxDelivered(m.id);
  } finally {
    journal.close();
  }
  return { id: crash.id, host: crash.host, dir, bytes, present: false };
}
