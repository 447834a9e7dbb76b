/**
 * A crash bundle: one directory per crash (or live snapshot) holding everything needed to debug it
 * later on another day: meta.json, the compressed core, the output tails, report.json. The binary
 * lives once in binaries/<sha256> and meta.json names it.
 *
 * meta.json is written first with state "capturing" and rewritten (temp file + rename, never torn)
 * as "complete" or "partial" at the end, so a hotdump killed mid-capture leaves a bundle that says
 * so, and `hotdump crashes` can finish or flag it.
 */
import { mkdirSync, readdirSync } from "node:fs";
import { chmod, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Bundle, type CrashMeta, type ListedBundle, META_SCHEMA_VERSION } from "../contracts/bundle.js";
import { HotdumpError } from "../errors.js";
import { crashDir, DIR_MODE, FILE_MODE, isCrashId, newCrashId, type StoreLayout } from "./layout.js";
import { readStoreFile } from "./storeFile.js";

export {
  type BinaryInfo,
  type Bundle,
  type BundleState,
  type CoreInfo,
  type CrashMeta,
  type ListedBundle,
  META_SCHEMA_VERSION,
  type Outcome,
} from "../contracts/bundle.js";

export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, data, { mode: FILE_MODE });
    await chmod(tmp, FILE_MODE);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function createBundle(
  layout: StoreLayout,
  init: Omit<CrashMeta, "schemaVersion" | "id" | "state" | "createdAt" | "problems"> & {
    problems?: CrashMeta["problems"];
  },
): Promise<Bundle> {
  let id = newCrashId();
  let dir = crashDir(layout, id);
  for (let i = 0; ; i++) {
    try {
      mkdirSync(dir, { mode: DIR_MODE });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || i > 20) throw e;
      id = newCrashId();
      dir = crashDir(layout, id);
    }
  }
  const meta: CrashMeta = {
    schemaVersion: META_SCHEMA_VERSION,
    id,
    state: "capturing",
    createdAt: new Date().toISOString(),
    problems: [],
    ...init,
  };
  await saveMeta(dir, meta);
  return { id, dir, meta };
}

export const saveMeta = (dir: string, meta: CrashMeta) =>
  writeFileAtomic(join(dir, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`);

export async function writeBundleFile(bundle: Bundle, name: string, data: string | Buffer): Promise<void> {
  await writeFileAtomic(join(bundle.dir, name), data);
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

/** The fields every reader of meta.json relies on; `{}` was an internal error in each of them. */
function isMetaShaped(m: unknown): m is CrashMeta {
  const o = m as Partial<CrashMeta> | null;
  return (
    typeof o === "object" &&
    o !== null &&
    typeof o.id === "string" &&
    typeof o.state === "string" &&
    typeof o.createdAt === "string" &&
    typeof o.core === "object" &&
    o.core !== null
  );
}

export function readMeta(dir: string): CrashMeta {
  let text: string;
  try {
    text = readStoreFile(join(dir, "meta.json"), "utf8");
  } catch (cause) {
    if (cause instanceof HotdumpError) throw cause;
    throw new HotdumpError("store", "E_BUNDLE_MISSING", `no crash bundle at ${dir}`, { cause });
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (cause) {
    throw new HotdumpError("store", "E_BUNDLE_CORRUPT", `meta.json of ${dir} is not valid JSON`, { cause });
  }
  if (!isMetaShaped(meta))
    throw new HotdumpError(
      "store",
      "E_BUNDLE_CORRUPT",
      `meta.json of ${dir} is not a crash bundle's (it lacks id, state, createdAt or core)`,
    );
  return meta;
}

export function openBundle(layout: StoreLayout, id: string): Bundle {
  const dir = crashDir(layout, id);
  try {
    return { id, dir, meta: readMeta(dir) };
  } catch (e) {
    if (e instanceof HotdumpError && e.code === "E_BUNDLE_MISSING")
      throw new HotdumpError(
        "usage",
        "E_CRASH_NOT_FOUND",
        `no crash ${id} in ${layout.root} (see hotdump crashes)`,
        {
          cause: e,
        },
      );
    throw e;
  }
}

/** Every bundle, newest first. Unreadable ones are listed with their error, not dropped. */
export function listBundles(layout: StoreLayout): ListedBundle[] {
  let names: string[];
  try {
    names = readdirSync(layout.crashes);
  } catch {
    return [];
  }
  return names
    .filter(isCrashId)
    .sort()
    .reverse()
    .map((id) => {
      const dir = join(layout.crashes, id);
      try {
        return { id, dir, meta: readMeta(dir) };
      } catch (e) {
        if (isEmptyDir(dir))
          return {
            id,
            dir,
            meta: null,
            error: "nothing was written: the capture could not even write meta.json (a full disk?)",
            empty: true as const,
          };
        return { id, dir, meta: null, error: (e as HotdumpError).shortMessage ?? String(e) };
      }
    });
}

export function bundleFile(bundle: Bundle, name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith(".."))
    throw new HotdumpError("store", "E_BAD_NAME", `bad bundle file name ${name}`);
  return join(bundle.dir, name);
}
