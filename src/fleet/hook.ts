/**
 * What exec, dev and run call, one line each: with fleet settings, the store becomes an outbox
 * and a background sender starts; without, nothing happens. A fleet setting that is wrong is said
 * once and never stops a crash from being captured locally. The sender's modules (the S3 SDK, pg)
 * load only when settings exist: they were most of the ~1.4 s and 30 MiB that importing the fleet
 * cost every `hotdump dev` before its first build (bench/watch-idle.mjs).
 */
import type { ResolvedConfig } from "../config/index.js";
import { ensureStore } from "../store/index.js";
import type { Logger } from "../util/log.js";
import { describeCause } from "./errors.js";
import type { Outbox } from "./outbox.js";
import { resolveFleetSettings } from "./settings.js";

export async function startFleetOutbox(
  storeDir: string,
  logger: Logger,
  /** [fleet] of the config the command read, or a reader of it (exec reads hotdump.toml only here). */
  file: ResolvedConfig["fleet"] | undefined | (() => ResolvedConfig["fleet"]) = null,
): Promise<Outbox | null> {
  try {
    const settings = resolveFleetSettings(process.env, (typeof file === "function" ? file() : file) ?? null);
    if (!settings) return null;
    const { startOutbox } = await import("./outbox.js");
    const outbox = startOutbox({ settings, layout: ensureStore(storeDir), logger });
    logger.debug(`fleet: crashes go to s3://${settings.bucket}/${settings.prefix} as host ${settings.host}`);
    return outbox;
  } catch (e) {
    logger.warn(
      `fleet: ${(e as { shortMessage?: string }).shortMessage ?? describeCause(e)}; crashes stay in the local store only`,
    );
    return null;
  }
}

/** exec, before it exits: a short try to deliver, then the rest stays queued for push/dev/run. */
export async function finishFleetOutbox(outbox: Outbox | null, logger: Logger, ms = 20_000): Promise<void> {
  if (!outbox) return;
  try {
    const r = await outbox.flush(ms);
    const left = outbox.backlog();
    if (r?.delivered.length) logger.info(`fleet: delivered ${r.delivered.join(", ")}`);
    if (left > 0)
      logger.warn(
        `fleet: ${left} crash(es) queued, not delivered yet${r?.failed[0] ? ` (${r.failed[0].error})` : ""}: hotdump push delivers them`,
      );
  } finally {
    await outbox.stop();
  }
}
