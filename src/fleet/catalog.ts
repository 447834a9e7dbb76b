/**
 * The fleet's index in PostgreSQL: which crashes exist on which host, their fingerprints, and the
 * binaries the fleet has. It is derived from the manifests in the object store (`hotdump fleet
 * reindex` rebuilds it), so every write is an idempotent upsert, one transaction per bundle.
 */
import pg from "pg";
import { fleetUnreachable } from "./errors.js";
import type { Manifest } from "./manifest.js";

/** Each entry runs once, in order, under an advisory lock (two hosts may migrate at once). */
const MIGRATIONS: string[] = [
  `CREATE TABLE hotdump_binaries (
     sha256 text PRIMARY KEY, go_build_id text, gnu_build_id text, go_version text, vcs_revision text,
     key text NOT NULL, bytes bigint, first_host text NOT NULL, first_seen timestamptz NOT NULL DEFAULT now());
   CREATE INDEX hotdump_binaries_go_build_id ON hotdump_binaries (go_build_id);
   CREATE TABLE hotdump_crashes (
     host text NOT NULL, id text NOT NULL, fingerprint text NOT NULL, kind text, message text, culprit text,
     build_id text, binary_sha256 text, vcs_revision text, ts timestamptz NOT NULL,
     manifest_key text NOT NULL, core_key text, core_bytes bigint, indexed_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (host, id));
   CREATE INDEX hotdump_crashes_fingerprint ON hotdump_crashes (fingerprint, ts);
   CREATE TABLE hotdump_issues (
     fingerprint text PRIMARY KEY, resolved_at timestamptz, resolved_builds text[] NOT NULL DEFAULT '{}');`,
];
export const SCHEMA_VERSION = MIGRATIONS.length;
const LOCK_ID = 0x686f7464; // "hotd"

export type IssueStatus = "new" | "ongoing" | "regressed" | "resolved";

export interface FleetSeen {
  time: string;
  build: string | null;
  "vcs.revision": string | null;
}

export interface FleetIssue {
  fingerprint: string;
  count: number;
  hosts: string[];
  kind: string | null;
  message: string | null;
  culprit: string | null;
  firstSeen: FleetSeen;
  lastSeen: FleetSeen;
  builds: number;
  status: IssueStatus;
}

export interface FleetCrash {
  id: string;
  host: string;
  fingerprint: string;
  kind: string | null;
  message: string | null;
  culprit: string | null;
  buildId: string | null;
  binarySha256: string | null;
  time: string;
  manifestKey: string;
  coreKey: string | null;
  coreBytes: number | null;
}

export interface Catalog {
  /** Applies the migrations not yet applied; returns the version before and after. */
  migrate(): Promise<{ from: number; to: number }>;
  version(): Promise<number>;
  /** One transaction: the binary (once for the fleet) and the crash. Repeating it changes nothing. */
  index(m: Manifest, manifestKey: string): Promise<void>;
  issues(): Promise<FleetIssue[]>;
  crashes(opts?: { fingerprint?: string; host?: string; limit?: number }): Promise<FleetCrash[]>;
  /** Crashes with this id (one per host that has it). */
  find(id: string): Promise<FleetCrash[]>;
  resolve(fingerprint: string): Promise<boolean>;
  close(): Promise<void>;
}

export async function openCatalog(url: string): Promise<Catalog> {
  const where = redactUrl(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // An idle connection the server drops must not crash a supervisor: the next call reconnects.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (e) {
    throw fleetUnreachable("PostgreSQL", where, e);
  }
  const q = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
    try {
      return await client.query<R>(text, values);
    } catch (e) {
      throw fleetUnreachable("PostgreSQL", where, e);
    }
  };
  const tx = async <T>(fn: () => Promise<T>): Promise<T> => {
    await q("BEGIN");
    try {
      const r = await fn();
      await q("COMMIT");
      return r;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    }
  };
  const version = async (): Promise<number> => {
    const r = await q<{ v: number | null }>(
      "SELECT CASE WHEN to_regclass('hotdump_migrations') IS NULL THEN NULL ELSE (SELECT COALESCE(MAX(version), 0) FROM hotdump_migrations) END AS v",
    );
    return r.rows[0]?.v ?? 0;
  };
  return {
    version,
    async migrate() {
      return tx(async () => {
        await q("SELECT pg_advisory_xact_lock($1)", [LOCK_ID]);
        await q(
          "CREATE TABLE IF NOT EXISTS hotdump_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
        );
        const from = await version();
        for (let v = from + 1; v <= MIGRATIONS.length; v++) {
          await q(MIGRATIONS[v - 1]!);
          await q("INSERT INTO hotdump_migrations (version) VALUES ($1)", [v]);
        }
        return { from, to: MIGRATIONS.length };
      });
    },
    async index(m, manifestKey) {
      await tx(async () => {
        await indexManifest(q, m, manifestKey);
      });
    },
    async issues() {
      const r = await q(ISSUES_SQL);
      return r.rows.map(toIssue);
    },
    async crashes(opts = {}) {
      const r = await q(
        `SELECT * FROM hotdump_crashes WHERE ($1::text IS NULL OR fingerprint = $1) AND ($2::text IS NULL OR host = $2)
         ORDER BY ts DESC, host LIMIT $3`,
        [opts.fingerprint ?? null, opts.host ?? null, opts.limit ?? 1000],
      );
      return r.rows.map(toCrash);
    },
    async find(id) {
      const r = await q("SELECT * FROM hotdump_crashes WHERE id = $1 ORDER BY host", [id]);
      return r.rows.map(toCrash);
    },
    async resolve(fingerprint) {
      const r = await q(
        `INSERT INTO hotdump_issues (fingerprint, resolved_at, resolved_builds)
         SELECT $1, now(), COALESCE(array_agg(DISTINCT COALESCE(build_id, '')), '{}') FROM hotdump_crashes WHERE fingerprint = $1
         HAVING count(*) > 0
         ON CONFLICT (fingerprint) DO UPDATE SET resolved_at = excluded.resolved_at, resolved_builds = excluded.resolved_builds`,
        [fingerprint],
      );
      return (r.rowCount ?? 0) > 0;
    },
    close: () => client.end().catch(() => {}),
  };
}

type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>;

/** The binary (once for the fleet) and the crash of one manifest; inside the caller's transaction. */
async function indexManifest(q: Query, m: Manifest, manifestKey: string): Promise<void> {
  if (m.binary)
    await q(
      `INSERT INTO hotdump_binaries (sha256, go_build_id, gnu_build_id, go_version, vcs_revision, key, bytes, first_host)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (sha256) DO NOTHING`,
      [
        m.binary.sha256,
        m.binary.goBuildId,
        m.binary.gnuBuildId,
        m.binary.goVersion,
        m.binary.vcsRevision,
        m.binary.key,
        m.binary.bytes,
        m.host,
      ],
    );
  const core = m.files.find((f) => f.role === "core");
  await q(
    `INSERT INTO hotdump_crashes (host, id, fingerprint, kind, message, culprit, build_id, binary_sha256,
       vcs_revision, ts, manifest_key, core_key, core_bytes)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
     ON CONFLICT (host, id) DO UPDATE SET fingerprint = excluded.fingerprint, kind = excluded.kind,
       message = excluded.message, culprit = excluded.culprit, manifest_key = excluded.manifest_key`,
    [
      m.host,
      m.id,
      m.fingerprint,
      m.kind,
      m.message,
      m.culprit,
      m.binary?.goBuildId ?? m.binary?.gnuBuildId ?? null,
      m.binary?.sha256 ?? null,
      m.binary?.vcsRevision ?? null,
      m.time,
      manifestKey,
      core?.key ?? null,
      core?.bytes ?? null,
    ],
  );
}

/** One row per fingerprint: counts, hosts, the first and last crash with their builds, the status's inputs. */
const ISSUES_SQL = `SELECT c.fingerprint, count(*)::int AS count, array_agg(DISTINCT c.host ORDER BY c.host) AS hosts,
    (array_agg(c.kind ORDER BY c.ts DESC))[1] AS kind,
    (array_agg(c.message ORDER BY c.ts DESC))[1] AS message,
    (array_agg(c.culprit ORDER BY c.ts DESC))[1] AS culprit,
    min(c.ts) AS first_ts, (array_agg(c.build_id ORDER BY c.ts))[1] AS first_build,
    (array_agg(c.vcs_revision ORDER BY c.ts))[1] AS first_rev,
    max(c.ts) AS last_ts, (array_agg(c.build_id ORDER BY c.ts DESC))[1] AS last_build,
    (array_agg(c.vcs_revision ORDER BY c.ts DESC))[1] AS last_rev,
    count(DISTINCT c.build_id)::int AS builds,
    i.resolved_at,
    count(*) FILTER (WHERE i.resolved_at IS NOT NULL AND c.ts > i.resolved_at
      AND NOT (COALESCE(c.build_id, '') = ANY (i.resolved_builds)))::int AS regressions
  FROM hotdump_crashes c LEFT JOIN hotdump_issues i USING (fingerprint)
  GROUP BY c.fingerprint, i.resolved_at, i.resolved_builds
  ORDER BY max(c.ts) DESC`;

function toIssue(x: Record<string, unknown>): FleetIssue {
  return {
    fingerprint: x.fingerprint as string,
    count: x.count as number,
    hosts: x.hosts as string[],
    kind: x.kind as string | null,
    message: x.message as string | null,
    culprit: x.culprit as string | null,
    firstSeen: {
      time: (x.first_ts as Date).toISOString(),
      build: x.first_build as string | null,
      "vcs.revision": x.first_rev as string | null,
    },
    lastSeen: {
      time: (x.last_ts as Date).toISOString(),
      build: x.last_build as string | null,
      "vcs.revision": x.last_rev as string | null,
    },
    builds: x.builds as number,
    status: issueStatus({
      resolved: x.resolved_at !== null,
      regressions: x.regressions as number,
      builds: x.builds as number,
    }),
  };
}

function toCrash(r: Record<string, unknown>): FleetCrash {
  return {
    id: r.id as string,
    host: r.host as string,
    fingerprint: r.fingerprint as string,
    kind: r.kind as string | null,
    message: r.message as string | null,
    culprit: r.culprit as string | null,
    buildId: r.build_id as string | null,
    binarySha256: r.binary_sha256 as string | null,
    time: (r.ts as Date).toISOString(),
    manifestKey: r.manifest_key as string,
    coreKey: r.core_key as string | null,
    coreBytes: r.core_bytes === null ? null : Number(r.core_bytes),
  };
}

/**
 * By build, not by date (what users of Sentry and Socorro ask for): a resolved issue is resolved
 * in the builds that had it; a later crash from one of those builds (a host not yet updated) does
 * not reopen it, a crash from any other build is a regression. Unresolved: "new" while one build
 * has it, "ongoing" once it survived into another.
 */
export function issueStatus(o: { resolved: boolean; regressions: number; builds: number }): IssueStatus {
  if (o.resolved) return o.regressions > 0 ? "regressed" : "resolved";
  return o.builds > 1 ? "ongoing" : "new";
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://…";
  }
}
