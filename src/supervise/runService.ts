/**
 * `hotdump run`'s orchestration, as devSession.ts is dev's: the socket handoff and the store, each
 * reload (preflight, store the binary, a generation on record, deploy), the control socket,
 * SIGHUP/SIGUSR2 and --watch-binary, and a graceful stop on SIGTERM/SIGINT. cli/run.ts parses
 * the flags, calls runService and prints what the callbacks hand it.
 */
import { existsSync, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { Captured } from "../capture/index.js";
import type { ResolvedSupervise } from "../config/index.js";
import { HotdumpError } from "../errors.js";
import { archiveBinary, type EventInput, type JournalEvent, sha256File } from "../store/index.js";
import type { Logger } from "../util/log.js";
import type { Redactor } from "../util/redactor.js";
import { serveControl } from "./control.js";
import { tellManager } from "./notify.js";
import {
  checksumMismatch,
  expectedSha256,
  preflightStart,
  type StartKind,
  strippedNote,
} from "./preflight.js";
import { resolveCommand } from "./resolveCommand.js";
import {
  announceListening,
  handOffIfListening,
  openSupervisorStore,
  supervisorFlagOptions,
} from "./start.js";
import { type Build, createSupervisor, type DeployResult, type Supervisor } from "./supervisor.js";

export interface RunServiceOptions {
  /** BINARY|SCRIPT as given, and the service's arguments. */
  binary: string;
  args: string[];
  sup: ResolvedSupervise;
  storeDir: string;
  logger: Logger;
  jsonEvents: boolean;
  sha256?: string;
  allowStripped: boolean;
  watchBinary: boolean;
  redact: boolean;
  /** --redact's policy for the events written to the journal (util/redactor.ts). */
  redactor?: Redactor;
  maxUse: number | null;
  captureDeadlineMs?: number;
  /** The dashboard, started once the store is open (its url is said). */
  ui?: (storeRoot: string) => Promise<RunUi>;
  /** Once the store is open, before anything starts (the CLI wires the fleet outbox and --metrics). */
  onStore?: (store: ReturnType<typeof openSupervisorStore>) => Promise<unknown>;
  /** Every event, before it is recorded (the CLI ends a crash's fold when the next process starts). */
  onEvent?: (e: EventInput) => void;
  onOutput: (generation: number, stream: "stdout" | "stderr", line: string) => void;
  onCrash: (generation: number, c: Captured) => void;
}

interface RunUi {
  url: string;
  appLine(generation: number, stream: "stdout" | "stderr", line: string): void;
  close(): Promise<void>;
}

type ReloadResult = DeployResult | { ok: false; reason: string; code: string };

/** Runs until SIGTERM/SIGINT; throws (a HotdumpError) when the first binary cannot start. */
export async function runService(o: RunServiceOptions): Promise<void> {
  const inherited = await handOffIfListening(o.sup.listen);
  if (!inherited) return;
  const { logger } = o;
  const store = openSupervisorStore(o.storeDir, logger, o.jsonEvents, o.redactor);
  await o.onStore?.(store);
  const { layout, journal, sink } = store;
  let ui: RunUi | undefined;
  announceListening(inherited, logger, (e) => sink.emit(e));
  const binaryPath = locate(o.binary);
  const supervisor = createSupervisor({
    ...supervisorFlagOptions("run", store, o.sup, inherited, o.redact),
    emit: (e): JournalEvent => {
      o.onEvent?.(e);
      return sink.emit(e);
    },
    cwd: process.cwd(),
    args: o.args,
    stopTimeoutMs: o.sup.drainMs,
    budget: { maxUse: o.maxUse },
    ...(o.captureDeadlineMs === undefined ? {} : { captureDeadlineMs: o.captureDeadlineMs }),
    onOutput: (g, stream, line) => {
      ui?.appLine(g, stream, line);
      o.onOutput(g, stream, line);
    },
    onCrash: o.onCrash,
    onProgram: (g, p) => {
      // The generation is this Go program from now on (history, crashes, the UI).
      journal.setGenerationBinary(g, {
        sha256: p.sha256,
        binary: p.archived ?? p.path,
        goBuildId: p.identity?.goBuildId ?? null,
        gnuBuildId: p.identity?.gnuBuildId ?? null,
      });
      sink.emit({
        event: "program",
        generation: g,
        pid: p.pid,
        binary: p.path,
        sha256: p.sha256,
        goBuildId: p.identity?.goBuildId ?? null,
      });
      logger.info(`generation ${g} runs ${p.path} (pid ${p.pid}, sha256 ${p.sha256.slice(0, 12)}…)`);
    },
  });
  const reload = createReload(o, binaryPath, supervisor, store);

  const control = await serveControl(layout, async (req) => {
    if (req.cmd === "reload") return { ...(await reload()) };
    return { ok: true, current: supervisor.current, phase: supervisor.phase };
  });
  ui = o.ui ? await o.ui(layout.root) : undefined;
  if (ui) logger.info(`dashboard: ${ui.url}`);
  // Listen for SIGTERM/SIGINT before the first generation starts: a signal that arrives while it is
  // still switching (the ready event is out, the drain wait is not over) must stop us gracefully,
  // not kill this process with the signal's default action.
  let stopSignal: NodeJS.Signals = "SIGTERM";
  const stopRequested = new Promise<void>((resolveStop) => {
    const stop = (sig: NodeJS.Signals) => {
      stopSignal = sig;
      resolveStop();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  // --watch-binary watches from before the first start: a deploy that lands while it starts (a
  // new file renamed over the path right after the first generation is ready) is not missed; it
  // reloads once the first start is decided.
  let started = false;
  let changedMeanwhile = false;
  let watcher: ReturnType<typeof watch> | undefined;
  if (o.watchBinary) {
    // The directory, not the file: a deploy renames a new file over the path, and a watch on the
    // file would stay on the old inode after the first one. 300 ms lets a copy finish.
    let t: NodeJS.Timeout | undefined;
    watcher = watch(dirname(binaryPath), (_event, name) => {
      if (name !== basename(binaryPath)) return;
      clearTimeout(t);
      t = setTimeout(() => {
        if (started) onReloadSignal();
        else changedMeanwhile = true;
      }, 300);
    });
  }
  const close = async () => {
    watcher?.close();
    await supervisor.stop();
    await ui?.close();
    control.close();
    journal.close();
  };
  try {
    const first = await reload(true);
    if (!first.ok && supervisor.current === null)
      logger.warn("no generation is serving; waiting for a reload (hotdump reload or SIGHUP)");
    if (first.ok) tellManager(`READY=1\nSTATUS=generation ${first.generation} serving`);
  } catch (e) {
    await close();
    if (e instanceof HotdumpError)
      throw new HotdumpError("supervise", e.code, `${e.shortMessage}; nothing to serve, not starting`, {
        cause: e,
      });
    throw e;
  }

  // systemd's reload protocol for hotdump's own unit: RELOADING=1, then READY=1 once decided.
  const onReloadSignal = () => {
    tellManager("RELOADING=1");
    void reload().then((r) => {
      const serving = supervisor.current?.generation;
      tellManager(`READY=1${serving === undefined ? "" : `\nSTATUS=generation ${serving} serving`}`);
      return r;
    });
  };
  process.on("SIGHUP", onReloadSignal);
  process.on("SIGUSR2", onReloadSignal);
  started = true;
  if (changedMeanwhile) onReloadSignal();
  await stopRequested;
  logger.info(`${stopSignal}: draining generation ${supervisor.current?.generation ?? "-"} and exiting`);
  tellManager("STOPPING=1");
  process.off("SIGHUP", onReloadSignal);
  process.off("SIGUSR2", onReloadSignal);
  await close();
  process.exitCode = 0;
}

/** A name without a slash is a file here first (`run -- svc`), else a command on PATH (`sh`). */
function locate(arg: string): string {
  const here = resolve(arg);
  if (arg.includes("/") || existsSync(here)) return here;
  try {
    return resolveCommand(arg, process.cwd(), process.env.PATH);
  } catch {
    return here; // said by the preflight: "does not exist"
  }
}

/** Copy, check and start the binary (or the script) as a new generation. */
function createReload(
  o: RunServiceOptions,
  binaryPath: string,
  supervisor: Supervisor,
  { layout, journal, sink, logger }: ReturnType<typeof openSupervisorStore>,
): (first?: boolean) => Promise<ReloadResult> {
  let told: StartKind["kind"] | null = null;
  const warnedStripped = new Set<string>();
  /** The Go binary deployed last that served: an identical one is no new generation. */
  let serving: { generation: number; sha256: string } | null = null;
  const said = (r: DeployResult): DeployResult => {
    if (r.ok)
      logger.info(
        `generation ${r.generation} is serving (pid ${r.pid}, ready in ${Math.round(r.readyMs)} ms)`,
      );
    else logger.warn(`generation ${r.generation} rolled back: ${r.reason}`);
    return r;
  };
  const deployScript = async (kind: "script" | "shell"): Promise<DeployResult> => {
    if (kind === "shell" && (o.sha256 || o.watchBinary))
      throw new HotdumpError(
        "supervise",
        "E_RUN_SHELL_FLAG",
        `${o.sha256 ? "--sha256" : "--watch-binary"} is about the file run starts, here the shell ${binaryPath}: name a script instead (its file is checked and watched), or run the Go binary directly`,
      );
    if (told !== kind)
      logger.info(
        `${o.binary} is ${kind === "script" ? "a script" : "a shell"}, not a Go binary: hotdump follows the Go programs it starts (their crashes, binaries and cores)`,
      );
    told = kind;
    // The script's own bytes are what --sha256 checks; its Go program is stored once found.
    const sha256 = await sha256File(binaryPath);
    const want = kind === "script" ? expectedSha256(binaryPath, o.sha256) : null;
    if (want && sha256 !== want) throw checksumMismatch(binaryPath, want, sha256);
    const g = journal.newGeneration({
      sha256,
      binary: binaryPath,
      goBuildId: null,
      gnuBuildId: null,
      changed: [],
      buildMs: null,
      source: "run",
    });
    const build: Build = { generation: g.n, binary: binaryPath, sha256, identity: null, launcher: kind };
    return said(await supervisor.deploy(build));
  };
  return async (first = false) => {
    try {
      const start = await preflightStart(binaryPath);
      if (start.kind !== "go") return await deployScript(start.kind);
      const identity = start.identity;
      const want = expectedSha256(binaryPath, o.sha256);
      // Hashed again from the stored copy's bytes: what was checked is exactly what will run.
      const stored = await archiveBinary(layout, binaryPath).catch(async (e) => {
        // A full store must not keep the service down: start it from its own path (its crashes
        // are analysed against that file, right while nobody replaces it).
        if (!(e instanceof HotdumpError) || e.code !== "E_STORE_WRITE") throw e;
        logger.warn(`${e.shortMessage}; starting ${binaryPath} from its own path`);
        return { sha256: await sha256File(binaryPath), path: binaryPath };
      });
      if (want && stored.sha256 !== want) throw checksumMismatch(binaryPath, want, stored.sha256);
      if (!identity.hasDwarf && !o.allowStripped && !warnedStripped.has(stored.sha256)) {
        warnedStripped.add(stored.sha256);
        logger.warn(strippedNote(binaryPath));
      }
      // The same bytes as the generation serving: nothing to deploy (a deploy tool that copies
      // the same release again, a SIGHUP for nothing).
      const cur = supervisor.current;
      if (
        serving?.sha256 === stored.sha256 &&
        cur?.generation === serving.generation &&
        cur.state === "ready" &&
        (supervisor.phase === "serving" || supervisor.phase === "baking")
      ) {
        logger.info(`binary unchanged: generation ${cur.generation} keeps serving`);
        sink.emit({ event: "unchanged", generation: cur.generation, sha256: stored.sha256 });
        return { ok: true, generation: cur.generation, pid: cur.pid ?? 0, readyMs: 0 };
      }
      const g = journal.newGeneration({
        sha256: stored.sha256,
        binary: stored.path,
        goBuildId: identity.goBuildId,
        gnuBuildId: identity.gnuBuildId,
        changed: [],
        buildMs: null,
        source: "run",
      });
      const build: Build = { generation: g.n, binary: stored.path, sha256: stored.sha256, identity };
      const r = said(await supervisor.deploy(build));
      if (r.ok) serving = { generation: r.generation, sha256: stored.sha256 };
      return r;
    } catch (e) {
      if (!(e instanceof HotdumpError)) throw e;
      // The first binary refused (missing, not Go, wrong checksum): nothing serves and
      // nothing would until someone reloads, so say it and exit non-zero rather than wait forever.
      if (first) throw e;
      logger.error(e.shortMessage);
      sink.emit({ event: "rollback", reason: e.shortMessage, code: e.code });
      return { ok: false, reason: e.shortMessage, code: e.code };
    }
  };
}
