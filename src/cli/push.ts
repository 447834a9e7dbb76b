import { existsSync } from "node:fs";
import type { Command } from "commander";
import { parseDuration } from "../config/index.js";
import { usageError } from "../errors.js";
import {
  backfill,
  fleetBacklog,
  fleetNotConfigured,
  loadFleetSettings,
  pushPass,
  retryDelay,
} from "../fleet/index.js";
import { assertStoreDir, ensureStore, openJournal } from "../store/index.js";
import { type CommonOptions, loggerFor, printJson, storeDirFrom, storeOption } from "./common.js";

interface PushOptions extends CommonOptions {
  wait?: boolean;
  timeout?: string;
}

export function registerPush(program: Command): void {
  storeOption(
    program
      .command("push")
      .description("deliver this store's queued crashes to the fleet now (exit 0 when nothing is left)")
      .option("--wait", "keep retrying (backoff with jitter) until everything is delivered")
      .option("--timeout <duration>", "with --wait: give up waiting after this long (the queue is kept)")
      .option("--json", "print what was delivered and what is left as JSON"),
  ).action(async (opts: PushOptions, cmd: Command) => {
    const settings = loadFleetSettings(process.cwd(), process.env);
    if (!settings) throw fleetNotConfigured();
    const logger = loggerFor(cmd);
    const timeoutMs = opts.timeout === undefined ? null : parseDuration(opts.timeout);
    if (timeoutMs instanceof Error) throw usageError(`--timeout: ${timeoutMs.message}`);
    const dir = storeDirFrom(opts);
    // A --store that names no store is a mistake to say; no store found by default: nothing yet.
    if (opts.store !== undefined) assertStoreDir(dir);
    else if (!existsSync(dir)) {
      if (opts.json) printJson({ host: settings.host, delivered: [], left: [] });
      else logger.info("nothing to deliver: no .hotdump store here or in a parent directory");
      return;
    }
    const layout = ensureStore(dir);
    const journal = openJournal(layout);
    const delivered: string[] = [];
    try {
      const queued = backfill(layout, journal);
      if (queued) logger.debug(`queued ${queued} bundle(s) not queued before`);
      const deadline = timeoutMs === null ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
      for (let pass = 1; ; pass++) {
        const r = await pushPass({ settings, layout, journal, all: true, logger });
        delivered.push(...r.delivered);
        for (const id of r.delivered) logger.info(`delivered ${id} (host ${settings.host})`);
        if (r.left.length === 0 || !opts.wait || Date.now() >= deadline) {
          if (opts.json)
            printJson({
              host: settings.host,
              delivered,
              left: r.left.map((x) => ({ id: x.crashId, attempts: x.attempts, lastError: x.lastError })),
            });
          else if (r.left.length === 0)
            logger.info(delivered.length ? "everything delivered" : "nothing to deliver");
          if (r.left.length > 0) {
            if (!opts.json)
              logger.warn(`not delivered: ${r.failed[0]?.error ?? r.left[0]?.lastError ?? "?"}`);
            throw fleetBacklog(r.left.length);
          }
          return;
        }
        const wait = Math.min(retryDelay(pass), 10_000, Math.max(0, deadline - Date.now()));
        logger.info(
          `${r.left.length} left (${r.failed[0]?.error ?? "not ready"}); trying again in ${Math.round(wait / 1000)} s`,
        );
        await new Promise((res) => setTimeout(res, wait));
      }
    } finally {
      journal.close();
    }
  });
}
