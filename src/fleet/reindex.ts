/** `hotdump fleet reindex`: the index rebuilt from the manifests, the store's source of truth. */
import type { Catalog } from "./catalog.js";
import { MANIFEST_RE, parseManifest } from "./manifest.js";
import type { ObjectStore } from "./objects.js";

export interface Reindexed {
  indexed: number;
  bad: { key: string; why: string }[];
}

export async function reindex(objects: ObjectStore, catalog: Catalog): Promise<Reindexed> {
  await catalog.migrate();
  const out: Reindexed = { indexed: 0, bad: [] };
  for await (const key of objects.list(objects.key("hosts/"))) {
    if (!MANIFEST_RE.test(key)) continue;
    const m = parseManifest((await objects.get(key)).toString("utf8"));
    if (typeof m === "string") {
      out.bad.push({ key, why: m });
      continue;
    }
    await catalog.index(m, key);
    out.indexed++;
  }
  return out;
}
