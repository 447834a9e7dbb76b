import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ensureStore, openJournal } from "../store/index.js";
import { issueStatus } from "./catalog.js";
import { MANIFEST_RE, parseManifest } from "./manifest.js";
import { RETRY_BASE_MS, RETRY_CAP_MS, retryDelay } from "./outbox.js";
import { loadFleetSettings, resolveFleetSettings } from "./settings.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("fleet settings", () => {
  it("reads s3://bucket/prefix, the endpoint and the host from the environment", () => {
    const s = resolveFleetSettings({
      HOTDUMP_FLEET_S3: "s3://crashes/team/api/",
      HOTDUMP_FLEET_S3_ENDPOINT: "http://127.0.0.1:9000",
      HOTDUMP_FLEET_PG: "postgres://u:p@db/hotdump",
      HOTDUMP_HOST: "web-1",
    });
    expect(s).toEqual({
      bucket: "crashes",
      prefix: "team/api/",
      endpoint: "http://127.0.0.1:9000",
      region: "us-east-1",
      pg: "postgres://u:p@db/hotdump",
      host: "web-1",
    });
  });

  it("is off without settings, and a half-configured fleet is a typed error", () => {
    expect(resolveFleetSettings({})).toBeNull();
    expect(() => resolveFleetSettings({ HOTDUMP_FLEET_S3: "s3://b" })).toThrow(
      expect.objectContaining({ code: "E_FLEET_SETTING" }),
    );
    expect(() =>
      resolveFleetSettings({ HOTDUMP_FLEET_S3: "http://b", HOTDUMP_FLEET_PG: "postgres://x" }),
    ).toThrow(/not s3:\/\/bucket/);
    expect(() =>
      resolveFleetSettings({
        HOTDUMP_FLEET_S3: "s3://bb",
        HOTDUMP_FLEET_PG: "postgres://x",
        HOTDUMP_HOST: "a/b",
      }),
    ).toThrow(expect.objectContaining({ code: "E_FLEET_SETTING" }));
  });

  it("takes [fleet] from the config when the environment has none", () => {
    const s = resolveFleetSettings(
      { HOTDUMP_HOST: "h" },
      { s3: "s3://bucket", pg: "postgres://x/y", region: "eu-west-1" },
    );
    expect(s).toMatchObject({ bucket: "bucket", prefix: "", region: "eu-west-1", host: "h", endpoint: null });
  });
});

describe("[fleet] in hotdump.toml", () => {
  it("is read where the environment has no fleet, and a typo is a config error", () => {
    const d = mkdtempSync(join(tmpdir(), "hotdump-fleetcfg-"));
    dirs.push(d);
    writeFileSync(
      join(d, "hotdump.toml"),
      '[fleet]\ns3 = "s3://crashes/api"\nendpoint = "http://127.0.0.1:9000"\npg = "postgres://h@db/hotdump"\nhost = "web-2"\n',
    );
    expect(loadFleetSettings(d, {})).toMatchObject({ bucket: "crashes", prefix: "api/", host: "web-2" });
    expect(
      loadFleetSettings(d, { HOTDUMP_FLEET_S3: "s3://other", HOTDUMP_FLEET_PG: "postgres://x" }),
    ).toMatchObject({
      bucket: "other",
    });
    writeFileSync(
      join(d, "hotdump.toml"),
      '[fleet]\ns3 = "s3://crashes"\npg = "postgres://x"\nendpiont = "x"\n',
    );
    expect(() => loadFleetSettings(d, {})).toThrow(/endpiont/);
  });
});

describe("retry schedule", () => {
  it("doubles from the base, is capped, and jitters between half and all of it", () => {
    expect(retryDelay(1, () => 1)).toBe(RETRY_BASE_MS);
    expect(retryDelay(1, () => 0)).toBe(RETRY_BASE_MS / 2);
    expect(retryDelay(3, () => 1)).toBe(RETRY_BASE_MS * 4);
    expect(retryDelay(50, () => 1)).toBe(RETRY_CAP_MS);
    expect(retryDelay(10_000, () => 0.5)).toBe(RETRY_CAP_MS * 0.75);
  });
});

describe("issue status by build", () => {
  it("new in one build, ongoing in several, resolved until another build has it", () => {
    expect(issueStatus({ resolved: false, regressions: 0, builds: 1 })).toBe("new");
    expect(issueStatus({ resolved: false, regressions: 0, builds: 2 })).toBe("ongoing");
    expect(issueStatus({ resolved: true, regressions: 0, builds: 2 })).toBe("resolved");
    expect(issueStatus({ resolved: true, regressions: 1, builds: 3 })).toBe("regressed");
  });
});

describe("manifests", () => {
  it("refuse file names that would leave the bundle directory", () => {
    const base = {
      schema: "hotdump-fleet-manifest/1",
      host: "h",
      id: "20261205-101010-abcd",
      files: [{ name: "core.zst" }],
      meta: { id: "20261205-101010-abcd" },
    };
    expect(typeof parseManifest(JSON.stringify(base))).toBe("object");
    expect(parseManifest(JSON.stringify({ ...base, files: [{ name: "../../x" }] }))).toMatch(/bad file name/);
    expect(parseManifest(JSON.stringify({ ...base, id: "../x" }))).toMatch(/bad crash id/);
    expect(parseManifest("{")).toBe("not JSON");
    expect(parseManifest(JSON.stringify({ ...base, meta: { id: "20261205-101010-ffff" } }))).toMatch(
      /meta\.id/,
    );
    expect(MANIFEST_RE.exec("p/hosts/web-1/crashes/20261205-101010-abcd/manifest.json")?.slice(1)).toEqual([
      "web-1",
      "20261205-101010-abcd",
    ]);
  });
});

describe("the journal as outbox", () => {
  const journalIn = () => {
    const d = mkdtempSync(join(tmpdir(), "hotdump-outbox-"));
    dirs.push(d);
    return openJournal(ensureStore(d));
  };
  const crash = (id: string) => ({
    id,
    ts: new Date().toISOString(),
    generation: null,
    outcome: "crash",
    signal: "SIGABRT",
    kind: "panic",
    message: "m",
    culprit: null,
    binarySha256: null,
  });

  it("queues recorded crashes only once the fleet is enabled, keeps the upload, and never drops a row", () => {
    const j = journalIn();
    try {
      j.recordCrash(crash("20261205-101010-0001"));
      expect(j.outbox()).toEqual([]);
      j.enableOutbox();
      j.recordCrash(crash("20261205-101011-0002"));
      j.recordCrash(crash("20261205-101011-0002")); // re-recorded (reanalysis): still one row
      expect(j.outbox().map((r) => r.crashId)).toEqual(["20261205-101011-0002"]);
      const later = new Date(Date.now() + 60_000);
      for (let i = 0; i < 20; i++) j.outboxFailed("20261205-101011-0002", "ECONNREFUSED", later);
      expect(j.outbox({ due: new Date() })).toEqual([]);
      expect(j.outboxRow("20261205-101011-0002")).toMatchObject({ attempts: 20, lastError: "ECONNREFUSED" });
      const upload = { key: "k", uploadId: "u", partSize: 1, parts: [{ PartNumber: 1, ETag: '"e"' }] };
      j.outboxUpload("20261205-101011-0002", upload);
      expect(j.outboxRow("20261205-101011-0002")!.upload).toEqual(upload);
      expect(j.undelivered()).toEqual(["20261205-101011-0002"]);
      j.outboxDelivered("20261205-101011-0002");
      expect(j.undelivered()).toEqual([]);
      expect(j.outboxRow("20261205-101011-0002")).toMatchObject({ upload: null });
    } finally {
      j.close();
    }
  });
});
