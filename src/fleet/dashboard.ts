/**
 * The fleet as the dashboard reads it (`hotdump ui --fleet`): the index for lists, the manifests
 * and reports from the bucket for crash pages, presigned URLs for cores.
 */
import type { Report } from "../contracts/index.js";
import type { FleetView } from "../ui/index.js";
import { parseManifest } from "./manifest.js";
import type { FleetConnection } from "./outbox.js";

const TAIL_BYTES = 16 * 1024;

export function createFleetView(conn: FleetConnection, label: string): FleetView {
  const manifestOf = async (host: string, id: string) => {
    const crash = (await conn.catalog.find(id)).find((c) => c.host === host);
    if (!crash) return null;
    const m = parseManifest((await conn.objects.get(crash.manifestKey)).toString("utf8"));
    return typeof m === "string" ? null : m;
  };
  const text = async (key: string | undefined, tail = false) => {
    if (!key) return null;
    const b = await conn.objects.get(key);
    if (!tail || b.length <= TAIL_BYTES) return b.toString("utf8");
    const t = b.subarray(b.length - TAIL_BYTES).toString("utf8");
    return t.slice(t.indexOf("\n") + 1);
  };
  return {
    label,
    crashes: () => conn.catalog.crashes({ limit: 500 }),
    issues: () => conn.catalog.issues(),
    async bundle(host, id) {
      const m = await manifestOf(host, id);
      if (!m) return null;
      const key = (name: string) => m.files.find((f) => f.name === name)?.key;
      const report = await text(m.files.find((f) => f.role === "report")?.key);
      return {
        meta: m.meta,
        report: report ? (JSON.parse(report) as Report) : null,
        stdoutTail: await text(key("stdout.txt"), true),
        stderrTail: await text(key("stderr.txt"), true),
      };
    },
    async coreUrl(host, id, seconds) {
      const m = await manifestOf(host, id);
      const core = m?.files.find((f) => f.role === "core");
      return core ? conn.objects.presign(core.key, seconds) : null;
    },
  };
}
