/** What `dev` and `run` both do before supervising: the socket handoff and the store. */
import { parseCaptureMode } from "../capture/mode.js";
import type { ResolvedSupervise } from "../config/index.js";
import { HotdumpError } from "../errors.js";
import { type EventInput, ensureStore, type Journal, openJournal, type StoreLayout } from "../store/index.js";
import type { Logger } from "../util/log.js";
import type { Redactor } from "../util/redactor.js";
import { createEventSink, type EventSink } from "./events.js";
import { stopLeftovers } from "./leftovers.js";
import { bindListeners, handoff, inheritedListeners, parseListenAddr } from "./sockets.js";

export type Inherited = ReturnType<typeof inheritedListeners>;

/**
 * With --listen, this command runs twice: first as stage 1, which binds the sockets and starts the
 * second run with them as plain inherited fds (it never accepts on them), then waits for it and
 * exits with its status. Returns null in stage 1 (the caller returns at once), else the sockets
 * this process inherited (none without --listen).
 */
export async function handOffIfListening(listen: string[]): Promise<Inherited | null> {
  const inherited = inheritedListeners(process.env);
  if (listen.length > 0 && inherited.fds.length === 0) {
    const listeners = await bindListeners(listen.map(parseListenAddr));
    process.exitCode = await handoff({
      listeners,
      argv: [process.argv[1]!, ...process.argv.slice(2)],
      env: process.env,
    });
    return null;
  }
  // Stage 1 died between spawning us and our parent-death signal taking effect: nobody would
  // stop us, so do not start.
  if (inherited.stage1Pid && process.ppid !== inherited.stage1Pid)
    throw new HotdumpError(
      "supervise",
      "E_STAGE1_GONE",
      "the first hotdump stage exited before handing over: not starting",
    );
  return inherited;
}

/**
 * What `dev` and `run` alike pass the supervisor: their mode, store, logger and event sink, their
 * shared flags and the sockets this process inherited.
 */
export function supervisorFlagOptions(
  mode: "dev" | "run",
  store: SupervisorStore,
  sup: ResolvedSupervise,
  inherited: Inherited,
  redact: boolean,
) {
  return {
    mode,
    layout: store.layout,
    journal: store.journal,
    logger: store.logger,
    emit: (e: EventInput) => store.sink.emit(e),
    redact,
    env: { ...process.env, ...sup.env },
    listenFds: inherited.fds,
    listenNames: inherited.names,
    probe: sup.probe,
    timing: sup.timing,
    readyTimeoutMs: sup.readyTimeoutMs,
    bakeMs: sup.bakeMs,
    bakeHoldOld: sup.bakeHoldOld,
    ...(sup.liveness ? { liveness: sup.liveness } : {}),
    ...(sup.watchdogMs ? { watchdogMs: sup.watchdogMs } : {}),
    captureMode: parseCaptureMode(sup.capture),
  };
}

/**
 * Say once, at start, where the service is reachable: with `--listen 127.0.0.1:0` the port is
 * the kernel's choice and only the service's own log would show it otherwise.
 */
export function announceListening(
  inherited: Inherited,
  logger: Logger,
  emit: (e: { event: "listening"; addrs: string[] }) => void,
): void {
  if (inherited.addrs.length === 0) return;
  logger.info(`listening on ${inherited.addrs.join(", ")}`);
  emit({ event: "listening", addrs: inherited.addrs });
}

export interface SupervisorStore {
  layout: StoreLayout;
  journal: Journal;
  /** Every event: to the journal, and as NDJSON on stdout with --json-events. */
  sink: EventSink;
  logger: Logger;
}

/** The store, its journal and event sink, and no service left behind by an earlier hotdump. */
export function openSupervisorStore(
  dir: string,
  logger: Logger,
  jsonEvents: boolean,
  redactor?: Redactor,
): SupervisorStore {
  const layout = ensureStore(dir);
  // A supervisor never dies of a full disk: journal writes that fail are held and written when
  // space returns; say so once each way.
  const journal = openJournal(layout, {
    holdOnFailure: true,
    onWriteState: (error, n) => {
      if (error)
        logger.warn(
          `cannot write the journal (${describeWriteError(error)}); the service keeps running, events are held in memory until ${layout.root} has space`,
        );
      else logger.info(`journal writes resumed${n ? ` (${n} oldest held events were dropped)` : ""}`);
    },
  });
  // The last line of defence: a supervisor that dies takes its service with it (PDEATHSIG), so a
  // promise nobody awaited must not end the process (Node's default since v15).
  process.on("unhandledRejection", (reason) => {
    logger.error(
      `unexpected error (the supervisor keeps running): ${(reason as Error)?.message ?? String(reason)}`,
    );
  });
  const leftovers = stopLeftovers(layout);
  if (leftovers.length)
    logger.warn(
      `stopped ${leftovers.length} service process(es) left by an earlier hotdump: ${leftovers.join(", ")}`,
    );
  const sink = createEventSink({
    journal,
    ndjson: jsonEvents ? process.stdout : null,
    ...(redactor ? { redactor } : {}),
  });
  return { layout, journal, sink, logger };
}

/** "disk full (SQLITE_FULL)" rather than SQLite's "database or disk is full". */
function describeWriteError(e: Error): string {
  const code = (e as { code?: string }).code;
  if (code === "ENOSPC" || code === "SQLITE_FULL") return `disk full: ${code}`;
  return code ? `${code}: ${e.message}` : e.message;
}
