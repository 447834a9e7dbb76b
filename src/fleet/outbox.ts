/**
 * The local store is the fleet's outbox: crashes are queued in the journal (src/store/journal.ts)
 * when recorded, delivered here in the background with capped exponential backoff and jitter, and
 * never given up (crashpad drops a report after 5 attempts; a crash here waits for the fleet).
 * Retention keeps every undelivered bundle.
 */
import { type Journal, listBundles, type OutboxRow, openJournal, type StoreLayout } from "../store/index.js";
import type { Logger } from "../util/log.js";
import { openCatalog } from "./catalog.js";
import { deliverBundle, type FleetTarget } from "./deliver.js";
import { describeCause } from "./errors.js";
import { createObjectStore } from "./objects.js";
import type { FleetSettings } from "./settings.js";

export const RETRY_BASE_MS = 2_000;
export const RETRY_CAP_MS = 10 * 60_000;

/** Attempt n's delay: base·2^(n-1), capped, then a random 50-100 % of it so hosts spread out. */
export function retryDelay(attempts: number, random = Math.random): number {
  const d = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return Math.round(d * (0.5 + random() / 2));
}

export interface FleetConnection extends FleetTarget {
  close(): Promise<void>;
}

/** The object store and the catalog (schema migrated), or a typed error saying which is down. */
export async function connectFleet(s: FleetSettings): Promise<FleetConnection> {
  const objects = createObjectStore(s);
  let catalog: Awaited<ReturnType<typeof openCatalog>>;
  try {
    catalog = await openCatalog(s.pg);
    await catalog.migrate();
  } catch (e) {
    objects.close();
    throw e;
  }
  return {
    host: s.host,
    objects,
    catalog,
    async close() {
      objects.close();
      await catalog.close();
    },
  };
}

/**
 * Queue what is not queued yet: every bundle of the store with a readable meta. A store that
 * crashed before the fleet was configured sends its history once.
 */
export function backfill(layout: StoreLayout, journal: Journal): number {
  journal.enableOutbox();
  let n = 0;
  for (const b of listBundles(layout))
    if (b.meta && journal.outboxRow(b.id) === null) {
      journal.enqueue(b.id);
      n++;
    }
  return n;
}

export interface PassResult {
  delivered: string[];
  failed: { id: string; error: string }[];
  /** Undelivered after the pass. */
  left: OutboxRow[];
}

/** One pass over the queue: `all` ignores each row's next try (push), else only due rows. */
export async function pushPass(o: {
  settings: FleetSettings;
  layout: StoreLayout;
  journal: Journal;
  all?: boolean;
  logger?: Logger;
}): Promise<PassResult> {
  const { journal } = o;
  const rows = o.all ? journal.outbox() : journal.outbox({ due: new Date() });
  const out: PassResult = { delivered: [], failed: [], left: [] };
  if (rows.length === 0) {
    out.left = journal.outbox();
    return out;
  }
  let conn: FleetConnection | null = null;
  let connectError: string | null = null;
  try {
    conn = await connectFleet(o.settings);
  } catch (e) {
    connectError = describeError(e);
  }
  try {
    for (const row of rows) {
      let error = connectError;
      if (conn) {
        try {
          const r = await deliverBundle(conn, o.layout, journal, row.crashId);
          if (r.delivered) {
            journal.outboxDelivered(row.crashId);
            out.delivered.push(row.crashId);
            o.logger?.debug(`fleet: delivered ${row.crashId}`);
            continue;
          }
          // Not ready (still capturing): not a failure, look again soon.
          journal.outboxFailed(row.crashId, r.why, new Date(Date.now() + RETRY_BASE_MS));
          continue;
        } catch (e) {
          if (
            (e as { code?: string }).code === "E_BUNDLE_MISSING" ||
            (e as { code?: string }).code === "E_CRASH_NOT_FOUND"
          ) {
            // Deleted by hand: nothing left to send, and nothing to keep retrying.
            journal.outboxDelivered(row.crashId);
            o.logger?.warn(`fleet: bundle ${row.crashId} is gone from the store; dropped from the queue`);
            continue;
          }
          error = describeError(e);
        }
      }
      const attempts = row.attempts + 1;
      journal.outboxFailed(row.crashId, error ?? "unknown", new Date(Date.now() + retryDelay(attempts)));
      out.failed.push({ id: row.crashId, error: error ?? "unknown" });
    }
  } finally {
    await conn?.close();
  }
  out.left = journal.outbox();
  return out;
}

const describeError = (e: unknown) => (e as { shortMessage?: string }).shortMessage ?? describeCause(e);

export interface Outbox {
  /** Bundles queued and not delivered. */
  backlog(): number;
  /** Look at the queue now (a crash was just recorded). */
  nudge(): void;
  /** Deliver what is due, for at most `ms` (exec, before it exits). */
  flush(ms: number): Promise<PassResult | null>;
  stop(): Promise<void>;
}

/**
 * The background sender of a supervisor (dev, run) or of exec. It polls the journal's queue (a
 * cheap indexed read) every few seconds; its timer never keeps the process alive, and a killed
 * process loses nothing: the queue, and a big core's acknowledged parts, are in the journal.
 */
export function startOutbox(o: {
  settings: FleetSettings;
  layout: StoreLayout;
  logger: Logger;
  pollMs?: number;
}): Outbox {
  const journal = openJournal(o.layout);
  backfill(o.layout, journal);
  let running: Promise<PassResult | null> | null = null;
  let stopped = false;
  let lastError: string | null = null;
  const pass = (): Promise<PassResult | null> => {
    if (stopped) return Promise.resolve(null);
    if (running) return running;
    running = pushPass({ settings: o.settings, layout: o.layout, journal, logger: o.logger })
      .then((r) => {
        const err = r.failed[0]?.error ?? null;
        if (err && err !== lastError)
          o.logger.warn(`fleet: ${r.left.length} crash(es) not delivered yet, will retry: ${err}`);
        else if (!err && lastError && r.delivered.length) o.logger.info("fleet: delivering again");
        lastError = err;
        return r;
      })
      .catch((e) => {
        o.logger.warn(`fleet: ${describeError(e)}`);
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => void pass(), o.pollMs ?? 3_000);
  timer.unref();
  void pass();
  return {
    backlog: () => journal.outbox().length,
    nudge: () => void pass(),
    async flush(ms) {
      let t: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((r) => {
        t = setTimeout(() => r(null), ms);
      });
      try {
        await running;
        return await Promise.race([pass(), timeout]);
      } finally {
        clearTimeout(t);
      }
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      journal.close();
    },
  };
}
