/**
 * The journal: every build, generation and crash event, in SQLite (better-sqlite3) with WAL so
 * `hotdump crashes`, `history` and the UI can read while a supervisor writes. A crash whose bundle
 * was evicted by the budget stays counted here.
 */
import { chmodSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { HotdumpError } from "../errors.js";
import { HeldWrites } from "./heldWrites.js";
import { FILE_MODE, type StoreLayout } from "./layout.js";

export type EventName =
  | "build-start"
  | "build-ok"
  | "unchanged"
  | "build-failed"
  | "started"
  | "ready"
  | "stopped"
  | "exited"
  | "crash"
  /** A crash's report from the traceback, written while the kernel still writes the core. */
  | "first-report"
  | "switch"
  | "drained"
  | "rollback"
  | "held"
  | "baked"
  | "hang"
  | "liveness-failed"
  | "notify"
  | "recovered-panic"
  | "race"
  | "evicted"
  | "program"
  | "listening";

export interface JournalEvent {
  event: EventName;
  ts: string;
  generation?: number | null;
  pid?: number | null;
  crashId?: string | null;
  [extra: string]: unknown;
}

export type EventInput = {
  event: EventName;
  ts?: string;
  generation?: number | null;
  pid?: number | null;
  crashId?: string | null;
  [extra: string]: unknown;
};

export interface GenerationRow {
  n: number;
  sha256: string;
  binary: string;
  goBuildId: string | null;
  gnuBuildId: string | null;
  changed: string[];
  buildMs: number | null;
  createdAt: string;
  source: string;
}

export interface CrashRow {
  id: string;
  ts: string;
  generation: number | null;
  outcome: string;
  signal: string | null;
  kind: string | null;
  message: string | null;
  culprit: string | null;
  binarySha256: string | null;
  evicted: boolean;
  /** The crash signature (absent for crashes journalled before signatures). */
  fingerprint?: string | null;
  /** A recovered panic's count and last time (a storm is one row). */
  count?: number;
  lastSeen?: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, ts TEXT NOT NULL, event TEXT NOT NULL,
  generation INTEGER, pid INTEGER, crash_id TEXT, data TEXT);
CREATE INDEX IF NOT EXISTS events_generation ON events(generation);
CREATE TABLE IF NOT EXISTS generations (
  n INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, binary TEXT NOT NULL,
  go_build_id TEXT, gnu_build_id TEXT, changed TEXT, build_ms REAL, created_at TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS crashes (
  id TEXT PRIMARY KEY, ts TEXT NOT NULL, generation INTEGER, outcome TEXT NOT NULL, signal TEXT,
  kind TEXT, message TEXT, culprit TEXT, binary_sha256 TEXT, evicted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  crash_id TEXT PRIMARY KEY, queued_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_try TEXT NOT NULL, delivered_at TEXT, last_error TEXT, upload TEXT);
`;

/**
 * A multipart upload under way (the fleet's big cores): which object, its upload id and the parts
 * the server has acknowledged, so the next attempt sends only the rest.
 */
export interface PendingUpload {
  key: string;
  uploadId: string;
  partSize: number;
  parts: { PartNumber: number; ETag: string }[];
}

/** A bundle queued for the fleet (the local store is the outbox). */
export interface OutboxRow {
  crashId: string;
  queuedAt: string;
  attempts: number;
  nextTry: string;
  deliveredAt: string | null;
  lastError: string | null;
  upload: PendingUpload | null;
}

/** Columns added after the first journals were written: added to an older journal when it is opened. */
const ADDED_COLUMNS: Record<string, [string, string][]> = {
  crashes: [
    ["fingerprint", "TEXT"],
    ["count", "INTEGER NOT NULL DEFAULT 1"],
    ["last_seen", "TEXT"],
  ],
};

function addMissingColumns(db: Database.Database): void {
  for (const [table, cols] of Object.entries(ADDED_COLUMNS)) {
    const have = new Set((db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
    for (const [name, type] of cols)
      if (!have.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }
}

export interface Journal {
  append(e: EventInput): JournalEvent;
  newGeneration(g: Omit<GenerationRow, "n" | "createdAt">): GenerationRow;
  /**
   * The generation's Go program, once known: a wrapper script's generation is started before
   * anyone knows which binary the script runs.
   */
  setGenerationBinary(
    n: number,
    b: Pick<GenerationRow, "sha256" | "binary" | "goBuildId" | "gnuBuildId">,
  ): void;
  recordCrash(c: Omit<CrashRow, "evicted">): void;
  /** A recovered panic seen again: its count and last time (one row for a storm). */
  countCrash(id: string, count: number, lastSeen: string): void;
  markEvicted(ids: string[]): void;
  events(opts?: { sinceId?: number; limit?: number }): (JournalEvent & { id: number })[];
  /** The newest event's id (0 when there is none): one index lookup, not a read of the table. */
  lastEventId(): number;
  generations(): GenerationRow[];
  crashes(): CrashRow[];
  integrityCheck(): string;
  /**
   * From now on every crash recorded is also queued for the fleet (set by any command that finds
   * fleet settings; kept in the journal so a capture that opens its own journal queues too).
   */
  enableOutbox(): void;
  outboxEnabled(): boolean;
  /** Queue a bundle (again harmless: a queued or delivered one is left as it is). */
  enqueue(crashId: string): void;
  /** Undelivered rows, oldest first; `due` only those whose next try has come. */
  outbox(opts?: { due?: Date }): OutboxRow[];
  outboxRow(crashId: string): OutboxRow | null;
  /** A failed attempt: counted, with the reason and when to try again. Never given up. */
  outboxFailed(crashId: string, error: string, nextTry: Date): void;
  outboxUpload(crashId: string, upload: PendingUpload | null): void;
  outboxDelivered(crashId: string): void;
  /** Ids retention must keep: queued and not yet delivered. */
  undelivered(): string[];
  /** Writes that failed and are held in memory until the disk takes them (holdOnFailure only). */
  held(): number;
  /** Why the last write failed, while writes are held; null when the journal is writing. */
  writeError(): Error | null;
  close(): void;
}

export interface JournalOptions {
  readonly?: boolean;
  /**
   * A supervisor's journal: a write that fails (SQLITE_FULL on a full disk, SQLITE_IOERR) is held
   * in memory, in order, and retried before the next write, instead of throwing into the code that
   * keeps the service running. Without it a failed write throws (a one-shot command reports it).
   */
  holdOnFailure?: boolean;
  /** Called when writes start failing (error) and when held writes reached the disk (null). */
  onWriteState?: (error: Error | null, held: number) => void;
}

/**
 * better-sqlite3 loads its native module at the first `new Database`; the module exists only when
 * npm ran its install script (prebuild-install, else node-gyp), which npm 11 skips for packages not
 * in allowScripts and `--ignore-scripts` skips always. Crashes are still captured then (bundles do
 * not need the journal): say so, and how to build it, instead of the binding loader's 13 paths.
 */
export function sqliteUnbuilt(cause: unknown): HotdumpError | null {
  const message = (cause as Error | undefined)?.message ?? "";
  if (!/Could not locate the bindings file|better_sqlite3\.node/.test(message)) return null;
  const dir = dirname(createRequire(import.meta.url).resolve("better-sqlite3/package.json"));
  return new HotdumpError(
    "store",
    "E_SQLITE_UNBUILT",
    `the journal needs better-sqlite3's native module, which npm did not build (install scripts blocked): run \`npm rebuild better-sqlite3\` in ${dirname(dirname(dir))} or reinstall with \`npm install -g --allow-scripts=better-sqlite3 hotdump\`; crashes are still captured as bundles`,
    { cause },
  );
}

/** null when the journal's SQLite engine loads; else the error that says how to build it. */
export function journalEngineProblem(): HotdumpError | null {
  try {
    new Database(":memory:").close();
    return null;
  } catch (cause) {
    return sqliteUnbuilt(cause) ?? journalUnusable(":memory:", cause);
  }
}

/** A journal that cannot be opened or read: damaged (not a database, corrupt) or out of reach. */
function journalUnusable(file: string, cause: unknown): HotdumpError {
  const code = (cause as { code?: string }).code;
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT")
    return new HotdumpError(
      "store",
      "E_JOURNAL_CORRUPT",
      `${file} is damaged: ${(cause as Error).message} (move it aside: the bundles in crashes/ are kept, and a new journal is started)`,
      { cause },
    );
  return new HotdumpError(
    "store",
    "E_JOURNAL_OPEN",
    `cannot open the journal ${file}: ${(cause as Error).message}`,
    {
      cause,
    },
  );
}

export function openJournal(layout: StoreLayout, opts: JournalOptions = {}): Journal {
  const db = openDatabase(layout, opts);
  const insertEvent = db.prepare(
    "INSERT INTO events (ts, event, generation, pid, crash_id, data) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const nextGen = db.prepare("SELECT COALESCE(MAX(n), 0) + 1 AS n FROM generations");
  const insertGen = db.prepare(
    "INSERT INTO generations (n, sha256, binary, go_build_id, gnu_build_id, changed, build_ms, created_at, source) VALUES (?,?,?,?,?,?,?,?,?)",
  );
  const updateGen = db.prepare(
    "UPDATE generations SET sha256 = ?, binary = ?, go_build_id = ?, gnu_build_id = ? WHERE n = ?",
  );
  // Prepared on first use: a read-only journal written before the added columns has none of them.
  let upsertStmt: Database.Statement | undefined;
  const upsertCrash = () =>
    (upsertStmt ??= db.prepare(
      `INSERT INTO crashes (id, ts, generation, outcome, signal, kind, message, culprit, binary_sha256, fingerprint, count, last_seen)
     VALUES (@id, @ts, @generation, @outcome, @signal, @kind, @message, @culprit, @binarySha256, @fingerprint, @count, @lastSeen)
     ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, message=excluded.message, culprit=excluded.culprit,
       fingerprint=excluded.fingerprint`,
    ));
  let countStmt: Database.Statement | undefined;
  const countCrash = () =>
    (countStmt ??= db.prepare("UPDATE crashes SET count = ?, last_seen = ? WHERE id = ?"));
  // One statement, so the crash is queued with the same write that records it.
  let enqueueIfOnStmt: Database.Statement | undefined;
  const enqueueIfOn = () =>
    (enqueueIfOnStmt ??= db.prepare(
      `INSERT OR IGNORE INTO outbox (crash_id, queued_at, next_try)
       SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'outbox')`,
    ));
  const writes = new HeldWrites(opts);
  const write = (fn: () => void) => writes.write(fn);
  let lastGeneration = 0;
  return {
    held: () => writes.count,
    writeError: () => writes.error,
    append(e) {
      const {
        event,
        generation = null,
        pid = null,
        crashId = null,
        ts = new Date().toISOString(),
        ...rest
      } = e;
      const data = Object.keys(rest).length ? JSON.stringify(rest) : null;
      write(() => insertEvent.run(ts, event, generation, pid, crashId, data));
      return { ...rest, ts, event, generation, pid, crashId };
    },
    newGeneration(g) {
      const createdAt = new Date().toISOString();
      const insert = (n: number) =>
        insertGen.run(
          n,
          g.sha256,
          g.binary,
          g.goBuildId,
          g.gnuBuildId,
          JSON.stringify(g.changed),
          g.buildMs,
          createdAt,
          g.source,
        );
      const tx = db.transaction(() => {
        const { n } = nextGen.get() as { n: number };
        insert(n);
        return n;
      });
      let error: unknown;
      if (!opts.holdOnFailure || writes.flush()) {
        try {
          const n = tx.immediate();
          lastGeneration = n;
          return { ...g, n, createdAt };
        } catch (e) {
          if (!opts.holdOnFailure) throw e;
          error = e;
        }
      }
      // The disk refuses the row: number it from what the database (still readable) and this
      // process know, and write it when the disk takes it.
      let inDb = 0;
      try {
        inDb = (nextGen.get() as { n: number }).n - 1;
      } catch {
        // unreadable too: this process's own count
      }
      const n = Math.max(inDb, lastGeneration) + 1;
      lastGeneration = n;
      writes.hold(() => insert(n), error);
      return { ...g, n, createdAt };
    },
    setGenerationBinary(n, b) {
      write(() => updateGen.run(b.sha256, b.binary, b.goBuildId, b.gnuBuildId, n));
    },
    recordCrash(c) {
      const row = { fingerprint: null, count: 1, lastSeen: null, ...c };
      const now = new Date().toISOString();
      write(() =>
        db.transaction(() => {
          upsertCrash().run(row);
          enqueueIfOn().run(c.id, now, now);
        })(),
      );
    },
    countCrash(id, count, lastSeen) {
      write(() => countCrash().run(count, lastSeen, id));
    },
    ...outboxOf(db),
    markEvicted(ids) {
      const st = db.prepare("UPDATE crashes SET evicted = 1 WHERE id = ?");
      write(() =>
        db.transaction(() => {
          for (const id of ids) st.run(id);
        })(),
      );
    },
    ...readsOf(db),
    integrityCheck() {
      return String(db.pragma("integrity_check", { simple: true }));
    },
    close() {
      if (db.open) db.close();
    },
  };
}

/** Open (and, writable, create or upgrade) the SQLite file; a damaged one fails here, named. */
function openDatabase(layout: StoreLayout, opts: JournalOptions): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(layout.journal, {
      readonly: opts.readonly ?? false,
      fileMustExist: opts.readonly ?? false,
    });
    db.pragma("busy_timeout = 5000");
    if (!opts.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.exec(SCHEMA);
      addMissingColumns(db);
      // SQLite creates the file with the umask (0644) and gives -wal/-shm the main file's mode:
      // the journal names binaries and crash messages, so it is private like every bundle file.
      for (const f of [layout.journal, `${layout.journal}-wal`, `${layout.journal}-shm`])
        if (existsSync(f)) chmodSync(f, FILE_MODE);
    }
    // SQLite reads the file on first use: a damaged one fails here, named, not at a later query.
    db.pragma("schema_version");
  } catch (cause) {
    throw sqliteUnbuilt(cause) ?? journalUnusable(layout.journal, cause);
  }
  return db;
}

/** The outbox (fleet/): crashes queued for delivery to a collector, their attempts and uploads. */
function outboxOf(
  db: Database.Database,
): Pick<
  Journal,
  | "enableOutbox"
  | "outboxEnabled"
  | "enqueue"
  | "outbox"
  | "outboxRow"
  | "outboxFailed"
  | "outboxUpload"
  | "outboxDelivered"
  | "undelivered"
> {
  // Prepared on first use too: a read-only journal of an older store has no outbox table.
  let outboxOnStmt: Database.Statement | undefined;
  const outboxOn = () => (outboxOnStmt ??= db.prepare("SELECT 1 FROM settings WHERE key = 'outbox'"));
  const toOutboxRow = (r: Record<string, unknown>): OutboxRow => ({
    crashId: r.crash_id as string,
    queuedAt: r.queued_at as string,
    attempts: r.attempts as number,
    nextTry: r.next_try as string,
    deliveredAt: r.delivered_at as string | null,
    lastError: r.last_error as string | null,
    upload: r.upload ? (JSON.parse(r.upload as string) as PendingUpload) : null,
  });
  return {
    enableOutbox() {
      db.prepare("INSERT OR IGNORE INTO settings (key, value) VALUES ('outbox', ?)").run(
        new Date().toISOString(),
      );
    },
    outboxEnabled: () => outboxOn().get() !== undefined,
    enqueue(crashId) {
      const now = new Date().toISOString();
      db.prepare("INSERT OR IGNORE INTO outbox (crash_id, queued_at, next_try) VALUES (?, ?, ?)").run(
        crashId,
        now,
        now,
      );
    },
    outbox({ due } = {}) {
      const rows = due
        ? db
            .prepare(
              "SELECT * FROM outbox WHERE delivered_at IS NULL AND next_try <= ? ORDER BY queued_at, crash_id",
            )
            .all(due.toISOString())
        : db.prepare("SELECT * FROM outbox WHERE delivered_at IS NULL ORDER BY queued_at, crash_id").all();
      return (rows as Record<string, unknown>[]).map(toOutboxRow);
    },
    outboxRow(crashId) {
      const r = db.prepare("SELECT * FROM outbox WHERE crash_id = ?").get(crashId) as
        | Record<string, unknown>
        | undefined;
      return r ? toOutboxRow(r) : null;
    },
    outboxFailed(crashId, error, nextTry) {
      db.prepare(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_try = ? WHERE crash_id = ?",
      ).run(error.slice(0, 2000), nextTry.toISOString(), crashId);
    },
    outboxUpload(crashId, upload) {
      db.prepare("UPDATE outbox SET upload = ? WHERE crash_id = ?").run(
        upload ? JSON.stringify(upload) : null,
        crashId,
      );
    },
    outboxDelivered(crashId) {
      db.prepare(
        "UPDATE outbox SET delivered_at = ?, upload = NULL, last_error = NULL WHERE crash_id = ?",
      ).run(new Date().toISOString(), crashId);
    },
    undelivered() {
      return (
        db.prepare("SELECT crash_id FROM outbox WHERE delivered_at IS NULL").all() as { crash_id: string }[]
      ).map((r) => r.crash_id);
    },
  };
}

/** The journal's rows as the commands and the UI read them. */
function readsOf(db: Database.Database): Pick<Journal, "events" | "lastEventId" | "generations" | "crashes"> {
  return {
    events({ sinceId = 0, limit = 10_000 } = {}) {
      const rows = db
        .prepare("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?")
        .all(sinceId, limit) as Record<string, unknown>[];
      return rows.map((r) => ({
        id: r.id as number,
        ts: r.ts as string,
        event: r.event as EventName,
        generation: r.generation as number | null,
        pid: r.pid as number | null,
        crashId: r.crash_id as string | null,
        ...(r.data ? (JSON.parse(r.data as string) as object) : {}),
      }));
    },
    lastEventId() {
      const row = db.prepare("SELECT MAX(id) AS id FROM events").get() as { id: number | null };
      return row.id ?? 0;
    },
    generations() {
      return (db.prepare("SELECT * FROM generations ORDER BY n").all() as Record<string, unknown>[]).map(
        (r) => ({
          n: r.n as number,
          sha256: r.sha256 as string,
          binary: r.binary as string,
          goBuildId: r.go_build_id as string | null,
          gnuBuildId: r.gnu_build_id as string | null,
          changed: JSON.parse((r.changed as string) ?? "[]") as string[],
          buildMs: r.build_ms as number | null,
          createdAt: r.created_at as string,
          source: r.source as string,
        }),
      );
    },
    crashes() {
      return (db.prepare("SELECT * FROM crashes ORDER BY ts DESC").all() as Record<string, unknown>[]).map(
        (r) => ({
          id: r.id as string,
          ts: r.ts as string,
          generation: r.generation as number | null,
          outcome: r.outcome as string,
          signal: r.signal as string | null,
          kind: r.kind as string | null,
          message: r.message as string | null,
          culprit: r.culprit as string | null,
          binarySha256: r.binary_sha256 as string | null,
          evicted: Boolean(r.evicted),
          // Older journals opened read-only have none of these columns.
          fingerprint: (r.fingerprint as string | null | undefined) ?? null,
          count: (r.count as number | null | undefined) ?? 1,
          lastSeen: (r.last_seen as string | null | undefined) ?? null,
        }),
      );
    },
  };
}
