/**
 * `hotdump dev`: watch → build → supervise, generation after generation. Each successful build
 * is a generation in the journal, with its binary stored by SHA-256 before it starts, so a crash
 * maps to the exact build that caused it even after later builds. A failed build leaves the
 * running generation alone.
 */
import { statSync } from "node:fs";
import { relative } from "node:path";
import type { BuildResult, GoBuilder } from "../build/index.js";
import { createBuildQueue } from "../build/queue.js";
import type { ResolvedConfig } from "../config/types.js";
import type { HotdumpError } from "../errors.js";
import type { Journal, StoreLayout } from "../store/index.js";
import type { Logger } from "../util/log.js";
import { createWatcher, type Watcher } from "../watch/index.js";
import type { EventSink } from "./events.js";
import type { Supervisor } from "./supervisor.js";

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

export function createDevSession(o: DevSessionOptions): DevSession {
  const { config, sink, logger } = o;
  let watcher: Watcher | null = null;
  let stopped = false;
  /** The build last deployed: an identical rebuild of it is no new generation. */
  let deployed: { generation: number; sha256: string; binary: string } | null = null;
  /** The deployed generation is up (not crashed, not stopped for a deploy). */
  const serving = () =>
    deployed !== null &&
    o.supervisor.current?.generation === deployed.generation &&
    o.supervisor.current.state === "ready";
  /**
   * Whether a freshly linked binary may be the one serving: same size. A different size is a
   * different binary, so the serving generation may start stopping before the hash is known
   * (supervisor.stopBeforeDeploy); the same size waits for the hash.
   */
  const maybeUnchanged = (linked: string) => {
    if (!deployed || !serving()) return false;
    try {
      return statSync(linked).size === statSync(deployed.binary).size;
    } catch {
      return false;
    }
  };

  const queue = createBuildQueue<void>({
    run: async (changed) => {
      if (stopped) return;
      sink.emit({ event: "build-start", changed });
      const r = await o.builder.build(changed, {
        onLinked: (linked) => {
          if (!maybeUnchanged(linked)) o.supervisor.stopBeforeDeploy();
        },
      });
      if (!r.ok) {
        sink.emit({
          event: "build-failed",
          changed,
          ms: Math.round(r.durationMs),
          summary: r.summary,
          diagnostics: r.diagnostics.slice(0, 20),
        });
        o.onBuildFailed?.(r);
        if (o.supervisor.current) logger.info(`generation ${o.supervisor.current.generation} keeps running`);
        return;
      }
      // Go builds are reproducible: a save that changed nothing the compiler sees (a comment's
      // words, a touched file) links the same bytes. Restarting for it would only drop state.
      if (deployed && r.sha256 === deployed.sha256 && serving()) {
        sink.emit({
          event: "unchanged",
          generation: deployed.generation,
          sha256: r.sha256,
          ms: Math.round(r.durationMs),
          changed,
        });
        logger.info(`binary unchanged: generation ${deployed.generation} keeps serving`);
        return;
      }
      const g = o.journal.newGeneration({
        sha256: r.sha256,
        binary: r.binaryPath,
        goBuildId: r.goBuildId,
        gnuBuildId: r.gnuBuildId,
        changed,
        buildMs: r.durationMs,
        source: "dev",
      });
      sink.emit({
        event: "build-ok",
        generation: g.n,
        sha256: r.sha256,
        ms: Math.round(r.durationMs),
        changed,
      });
      o.supervisor.resetBackoff();
      const what = changed.length
        ? `${changed.slice(0, 3).join(", ")}${changed.length > 3 ? ` +${changed.length - 3}` : ""}`
        : "start";
      logger.info(`generation ${g.n} built in ${Math.round(r.durationMs)} ms (${what})`);
      deployed = { generation: g.n, sha256: r.sha256, binary: r.binaryPath };
      const d = await o.supervisor.deploy({
        generation: g.n,
        binary: r.binaryPath,
        sha256: r.sha256,
        identity: r.identity,
      });
      if (d.ok && !stopped)
        logger.info(
          `generation ${d.generation} is serving (pid ${d.pid}, ready in ${Math.round(d.readyMs)} ms)`,
        );
      // A crash or exit before ready was already told (summary + restart line); say the rest.
      if (!d.ok && !stopped && !d.crashId && !d.reason.startsWith("exited"))
        logger.warn(`generation ${g.n} did not become ready: ${d.reason}`);
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
      // bench/dev-latency.mjs); a save during the scan still queues one more build.
      queue.push([]);
      await watcher.ready;
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
    },
  };
}
