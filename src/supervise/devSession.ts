/**
 * `hotdump dev`: watch → build → supervise, generation after generation. Each successful build
 * is a generation in the journal, its binary stored by SHA-256 while it starts (a crash waits for
 * the hash), so a crash maps to the exact build that caused it even after later builds. A failed
 * build leaves the running generation alone.
 */
import { closeSync, openSync, readlinkSync, readSync, statSync } from "node:fs";
import { relative } from "node:path";
import type { BuildFailure, BuildResult, GoBuilder, StoredBinary } from "../build/index.js";
import { createBuildQueue } from "../build/index.js";
import type { ResolvedConfig } from "../config/index.js";
import type { HotdumpError } from "../errors.js";
import { type Journal, pruneBinaries, type StoreLayout } from "../store/index.js";
import type { Logger } from "../util/log.js";
import { createWatcher, type Watcher } from "../watch/index.js";
import type { EventSink } from "./events.js";
import type { Build, DeployResult, Supervisor } from "./supervisor.js";

export interface DevSessionOptions {
  config: ResolvedConfig;
  layout: StoreLayout;
  journal: Journal;
  sink: EventSink;
  builder: GoBuilder;
  supervisor: Supervisor;
  logger: Logger;
  /** Print build errors compactly (file:line first). */
  onBuildFailed?: (r: BuildResult) => void;
  /** A watch error after the first scan: dev can no longer see changes, so it stops. */
  onFatal?: (e: HotdumpError) => void;
}

export interface DevSession {
  /** Resolves when the watcher is ready and the first build has been queued. */
  start(): Promise<void>;
  /** Force a rebuild (`r` + Enter). */
  rebuild(): void;
  /** Resolves once nothing is building (tests, shutdown). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Resolves once process `pid` runs `path` (its /proc/PID/exe names it), has ended, or 5 s passed:
 * the service starts through setpriv and sh, which exec it a few milliseconds after the spawn,
 * and moving the file before that exec would fail the start.
 */
async function execd(pid: number | undefined, path: string): Promise<void> {
  if (pid === undefined) return;
  for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 1))) {
    try {
      if (readlinkSync(`/proc/${pid}/exe`) === path) return;
    } catch {
      return; // gone
    }
  }
}

/** The first 8 KiB of a file (fewer if it is shorter). */
function head(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(8192);
    return b.subarray(0, readSync(fd, b, 0, b.length, 0));
  } finally {
    closeSync(fd);
  }
}

export function createDevSession(o: DevSessionOptions): DevSession {
  const { config, sink, logger } = o;
  let watcher: Watcher | null = null;
  let stopped = false;
  let seed: string | undefined;
  /** The build last deployed: an identical rebuild of it is no new generation. */
  let deployed: { generation: number; sha256: string; binary: string } | null = null;
  /** Deploys whose verdict has not come yet (the queue does not wait for it). */
  const verdicts = new Set<Promise<void>>();
  /**
   * The deployed generation is up, ready or still probed (not crashed, not stopped for a deploy):
   * an identical rebuild keeps it.
   */
  const serving = () =>
    deployed !== null &&
    o.supervisor.current?.generation === deployed.generation &&
    (o.supervisor.current.state === "ready" || o.supervisor.current.state === "starting");
  /**
   * Whether a freshly linked binary may be the one serving: same size and the same first 8 KiB,
   * which hold the ELF headers and the Go and GNU build IDs (.note.go.buildid at 0xf5c on
   * linux/amd64; the linker derives them from the content, so an edit changes them). Anything else
   * is a different binary: the serving generation may start stopping and the new one start before
   * the hash is known (supervisor.stopBeforeDeploy); a match waits for the hash. With size alone,
   * an edit that kept the size (a changed constant) waited 30-60 ms for the SHA-256 on its path.
   */
  const maybeUnchanged = (linked: string) => {
    if (!deployed || !serving()) return false;
    try {
      return (
        statSync(linked).size === statSync(deployed.binary).size && head(linked).equals(head(deployed.binary))
      );
    } catch {
      return false;
    }
  };

  const queue = createBuildQueue<void>({
    run: async (changed) => {
      if (stopped) return;
      sink.emit({ event: "build-start", changed });
      // The last stored binary (the previous session's at first): unchanged sources then cost
      // no link (goBuilder's seed).
      seed ??= o.journal.generations().at(-1)?.binary || undefined;
      let sameSize = false;
      const r = await o.builder.build(changed, {
        onLinked: (linked) => {
          sameSize = maybeUnchanged(linked);
          if (!sameSize) o.supervisor.stopBeforeDeploy();
        },
        ...(seed ? { seed } : {}),
      });
      if (!r.ok) return buildFailed(o, changed, r);
      // Same size as the serving binary: it may be the same one, so the hash decides before any
      // start. Go builds are reproducible: a save that changed nothing the compiler sees (a
      // comment's words, a touched file) links the same bytes, and restarting would only drop state.
      const early = sameSize || config.run.command ? await r.store() : null;
      if (early && deployed && early.sha256 === deployed.sha256 && serving())
        return keptServing(o, deployed.generation, early.sha256, r.durationMs, changed);
      // Otherwise the program starts as soon as it is linked; hashing, storing and reading its
      // build IDs run beside its start (bench/dev-latency.mjs). The generation's record gets the
      // SHA-256 when the hash is done, and a crash of the generation waits for it (Build.stored).
      // A [run] command gets {bin} and starts it when it likes: it gets the stored copy, as before.
      const program = early?.binaryPath ?? r.program;
      const g = o.journal.newGeneration({
        ...binaryRow(early, program),
        changed,
        buildMs: r.durationMs,
        source: "dev",
      });
      let spawned: (() => void) | undefined;
      const exec = early ? Promise.resolve() : new Promise<void>((resolve) => (spawned = resolve));
      let launched = () => {};
      const started = new Promise<void>((resolve) => (launched = resolve));
      const build: Build = {
        generation: g.n,
        binary: program,
        // Never equal to a real SHA-256 (the supervisor compares them) until the hash is done.
        sha256: early?.sha256 ?? `pending-${g.n}`,
        identity: early?.identity ?? null,
        // The first start only: a restart runs the stored copy.
        onSpawned: (pid) => {
          launched();
          const done = spawned;
          spawned = undefined;
          if (done) void execd(pid, r.program).then(done);
        },
      };
      deployed = { generation: g.n, sha256: build.sha256, binary: program };
      const current = deployed;
      build.stored = (early ? Promise.resolve(early) : r.store(exec)).then((s) => {
        Object.assign(build, { binary: s.binaryPath, sha256: s.sha256, identity: s.identity });
        Object.assign(current, { sha256: s.sha256, binary: s.binaryPath });
        if (!s.storeError) seed = s.binaryPath;
        recordStored(o, g.n, s, r.durationMs, changed);
      });
      o.supervisor.resetBackoff();
      const verdict = o.supervisor.deploy(build).then(async (d) => {
        spawned?.(); // a deploy that never spawned (stopped, failed before) still stores the binary
        await build.stored;
        pruneReplaced(o, g.n);
        // A generation replaced before its verdict (by a newer build) gets the newer one's: that
        // one's job tells it.
        if (!stopped && d.generation === g.n) sayDeployed(o, g.n, d);
      });
      // The next build need not wait out this generation's readiness (`alive:1s` by default): the
      // queue moves on once its process is spawned, and a newer build deployed while it is still
      // probed replaces it (machine.ts). Its verdict is told when it comes.
      verdicts.add(verdict);
      void verdict.finally(() => verdicts.delete(verdict));
      await Promise.race([started, verdict]);
    },
    onError: (e) => logger.error(`build failed to run: ${(e as Error).message}`),
  });

  return {
    async start() {
      watcher = createWatcher({
        root: config.root,
        config: config.watch,
        alwaysIgnore: [o.layout.root],
        onBatch: (files) => queue.push(files),
        onError: (e) => {
          logger.error(e.shortMessage);
          o.onFatal?.(e);
        },
      });
      // The first build does not wait for the watcher's initial scan (1.7 s on 20,000 files,
      // bench/dev-latency.mjs); a save during the scan still queues one more build. `hotdump dev`
      // started that build even earlier (build/buildAhead.ts, adopted here): a save between its
      // start and the watcher's first watches is not seen, as one before `hotdump dev` started.
      queue.push([]);
      await watcher.ready;
      if (watcher.backend === "poll" && !config.watch.poll)
        logger.warn("inotify is not available here (no koffi binary for this platform): polling for changes");
      logger.info(
        `watching ${relative(process.cwd(), config.root) || "."} (${config.watch.includeExt.map((e) => `*.${e}`).join(" ")})`,
      );
    },
    rebuild() {
      queue.push([]);
    },
    idle: () => queue.idle(),
    async stop() {
      stopped = true;
      queue.clear();
      await watcher?.close();
      // The supervisor first: it cuts short a generation's wait for readiness, which the build
      // job in the queue is waiting on.
      await o.supervisor.stop();
      await queue.idle();
      await Promise.all(verdicts);
    },
  };
}

/**
 * Keep the binaries of the serving generation, the one before it and every generation with a
 * crash (and of generations `run` or `exec` recorded in this store); the rest go once replaced.
 * 12 builds of a real service kept 226 MB before (issue 20); bench/dev-store.mjs measures it.
 */
function pruneReplaced(o: DevSessionOptions, built: number): void {
  try {
    const gens = o.journal.generations();
    const serving = o.supervisor.current?.generation ?? built;
    const crashed = new Set(o.journal.crashes().map((c) => c.generation));
    const keep = new Set<string>();
    const before = gens.filter((x) => x.n < serving && x.source === "dev").at(-1);
    for (const x of gens)
      if (x.n === serving || x === before || x.n >= built || crashed.has(x.n) || x.source !== "dev")
        keep.add(x.sha256);
    for (const c of o.journal.crashes()) if (c.binarySha256) keep.add(c.binarySha256);
    const { removed, bytes } = pruneBinaries(o.layout, keep);
    if (removed.length > 0)
      o.logger.debug(`removed ${removed.length} replaced binaries (${Math.round(bytes / 1024)} KiB)`);
  } catch (e) {
    o.logger.warn(`could not remove replaced binaries: ${(e as Error).message}`);
  }
}

/** An identical rebuild of the serving binary: no new generation, nothing restarts. */
function keptServing(
  o: DevSessionOptions,
  generation: number,
  sha256: string,
  buildMs: number,
  changed: string[],
) {
  o.sink.emit({ event: "unchanged", generation, sha256, ms: Math.round(buildMs), changed });
  o.logger.info(`binary unchanged: generation ${generation} keeps serving`);
}

/** The generation's binary as known when it is recorded: stored already, or (hash pending) as linked. */
function binaryRow(early: StoredBinary | null, program: string) {
  return {
    sha256: early?.sha256 ?? "",
    binary: program,
    goBuildId: early?.goBuildId ?? null,
    gnuBuildId: early?.gnuBuildId ?? null,
  };
}

function sayDeployed(o: DevSessionOptions, n: number, d: DeployResult): void {
  if (d.ok)
    o.logger.info(
      `generation ${d.generation} is serving (pid ${d.pid}, ready in ${Math.round(d.readyMs)} ms)`,
    );
  // A crash or exit before ready was already told (summary + restart line); say the rest.
  else if (!d.crashId && !d.reason.startsWith("exited"))
    o.logger.warn(`generation ${n} did not become ready: ${d.reason}`);
}

function buildFailed(o: DevSessionOptions, changed: string[], r: BuildFailure): void {
  o.sink.emit({
    event: "build-failed",
    changed,
    ms: Math.round(r.durationMs),
    summary: r.summary,
    diagnostics: r.diagnostics.slice(0, 20),
  });
  o.onBuildFailed?.(r);
  if (o.supervisor.current) o.logger.info(`generation ${o.supervisor.current.generation} keeps running`);
}

/** The generation's binary is stored (or could not be): its record gets the hash and build IDs. */
function recordStored(
  o: DevSessionOptions,
  n: number,
  s: StoredBinary,
  buildMs: number,
  changed: string[],
): void {
  o.journal.setGenerationBinary(n, {
    sha256: s.sha256,
    binary: s.binaryPath,
    goBuildId: s.goBuildId,
    gnuBuildId: s.gnuBuildId,
  });
  if (s.storeError) o.logger.warn(`generation ${n}: cannot store its binary: ${s.storeError.message}`);
  o.sink.emit({ event: "build-ok", generation: n, sha256: s.sha256, ms: Math.round(buildMs), changed });
  const what = changed.length
    ? `${changed.slice(0, 3).join(", ")}${changed.length > 3 ? ` +${changed.length - 3}` : ""}`
    : "start";
  o.logger.info(`generation ${n} built in ${Math.round(buildMs)} ms (${what})`);
}
