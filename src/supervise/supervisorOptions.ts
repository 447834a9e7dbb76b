/**
 * What a supervisor is given (SupervisorOptions) and what it makes of it once, before anything
 * starts (ResolvedSupervisor, Vite's resolveXOptions habit): the host, the steering of the
 * inherited sockets, the machine's configuration, the stop and capture limits. Every part of the
 * supervisor reads the resolved value; none recomputes a default.
 */

import { join } from "node:path";
import type { Captured, CrashFacts } from "../capture/index.js";
import { type CaptureModeRequest, type ResolvedCapture, resolveCaptureMode } from "../capture/mode.js";
import type { Report } from "../contracts/index.js";
import {
  defaultBudget,
  type EventInput,
  type Journal,
  type JournalEvent,
  type StoreLayout,
} from "../store/index.js";
import type { Logger } from "../util/log.js";
import type { BackoffOptions } from "./backoff.js";
import type { StartedProgram } from "./generation.js";
import { type ProcessHost, systemHost } from "./host.js";
import type { MachineConfig } from "./machine.js";
import type { ProbeSpec, ProbeTiming } from "./probe.js";
import { createSteering, type Steering } from "./steering.js";

export interface SupervisorOptions {
  mode: "dev" | "run";
  layout: StoreLayout;
  logger: Logger;
  /** Records an event (journal, --json-events, UI). */
  emit: (e: EventInput) => JournalEvent | undefined;
  cwd: string;
  args: string[];
  /**
   * Start each generation through this command instead (air's full_bin): "{bin}" in any word is
   * replaced by the generation's binary; `args` follow its words.
   */
  command?: readonly string[];
  /** The service's environment; values may hold {port}. */
  env: NodeJS.ProcessEnv;
  stopSignal?: NodeJS.Signals;
  /** How long a stopping generation may take before SIGKILL of its group. */
  stopTimeoutMs?: number;
  /** Inherited listening sockets (fds in this process) and their names. */
  listenFds?: number[];
  listenNames?: string[];
  /** One socket shared by every generation even where steering works (default: the environment's
   * HOTDUMP_LISTEN_MODE=shared). */
  sharedSocket?: boolean;
  probe: ProbeSpec;
  timing: ProbeTiming;
  readyTimeoutMs: number;
  /** Probation after a switch: a crash within it rolls back to the last good build (0: off). */
  bakeMs?: number;
  /** Keep the old generation up, receiving nothing, through the bake (needs kernel steering). */
  bakeHoldOld?: boolean;
  backoff?: BackoffOptions;
  /** The store's size budget for each capture (default: systemd-coredump's, from the file system). */
  budget?: { maxUse?: number | null; keepFree?: number | null };
  redact?: boolean;
  /** Each line of the service's output. */
  onOutput?: (generation: number, stream: "stdout" | "stderr", line: string) => void;
  /** After each crash is captured (dev prints its summary). */
  onCrash?: (generation: number, c: Captured) => void;
  /** The first Go program a launcher generation started (its binary already stored). */
  onProgram?: (generation: number, p: StartedProgram) => void;
  /** The supervisor's journal (holds what a full disk refuses); captures write through it. */
  journal?: Journal;
  /**
   * How long after a crash its capture (compression + Delve) may still run, queue wait included
   * (default 120 s). Past it the core is still stored and the report comes from the traceback.
   */
  captureDeadlineMs?: number;
  /** How crash cores reach hotdump (`--capture`, capture/mode.ts); default auto. */
  captureMode?: CaptureModeRequest;
  /** Processes, timers and /proc (default: this machine). */
  host?: ProcessHost;
  /** Which generation's socket takes new connections (default: kernel steering of listenFds). */
  steering?: Steering;
  /** Crash capture (default: capture/ with the options above); the unit tests record instead. */
  capture?: (facts: CrashFacts) => Promise<Captured>;
  /** Set a crash's core aside the moment it is seen (default: capture/'s claimCore). */
  claim?: (facts: CrashFacts) => Promise<CrashFacts["claimed"]>;
  /** systemd's watchdog: WATCHDOG_USEC for the service; a silence longer than this is a hang. */
  watchdogMs?: number;
  /** Liveness while a generation serves (http, tcp or exec; Kubernetes timing). */
  liveness?: { spec: ProbeSpec; timing: ProbeTiming };
}

export type DeployResult =
  | { ok: true; generation: number; pid: number; readyMs: number }
  | { ok: false; generation: number; reason: string; crashId?: string; report?: Report };

export interface ResolvedSupervisor {
  o: SupervisorOptions;
  host: ProcessHost;
  /** Inherited listening sockets (fds): with any, the old generation serves until the new is ready. */
  sockets: number[];
  steering: Steering;
  config: MachineConfig;
  stopSignal: NodeJS.Signals;
  stopTimeoutMs: number;
  /** A generation's own port costs a bind and a close: only when something asks for {port}. */
  needsPort: boolean;
  budget: { maxUse: number; keepFree: number } | undefined;
  /** Each generation gets its own NOTIFY_SOCKET when readiness or the watchdog listens to it. */
  notifyDir: string | undefined;
  captureDeadlineMs: number;
  captureMode: ResolvedCapture;
}

export function resolveSupervisorOptions(o: SupervisorOptions): ResolvedSupervisor {
  const sockets = o.listenFds ?? [];
  const handoff = sockets.length > 0;
  const steering: Steering =
    o.steering ??
    createSteering(sockets, o.logger, {
      forceShared: o.sharedSocket ?? process.env.HOTDUMP_LISTEN_MODE === "shared",
    });
  const config: MachineConfig = {
    handoff,
    restartExits: o.mode === "run",
    bakeMs: o.bakeMs ?? 0,
    holdOld: Boolean(o.bakeHoldOld) && canHold(steering),
  };
  if (o.bakeHoldOld && !config.holdOld && handoff)
    o.logger.warn(
      `--bake-hold-old needs kernel steering of TCP sockets (${steering.mode === "steered" ? "a UNIX socket's public name moves with rename(2), it cannot point back" : (steering.reason ?? "off")}): a rollback starts the last good build again instead`,
    );
  return {
    o,
    host: o.host ?? systemHost,
    sockets,
    steering,
    config,
    stopSignal: o.stopSignal ?? "SIGTERM",
    stopTimeoutMs: o.stopTimeoutMs ?? (o.mode === "run" ? 30_000 : 5_000),
    needsPort:
      o.probe.kind === "exec" ||
      JSON.stringify(o.probe).includes("{port}") ||
      Object.values(o.env).some((v) => v?.includes("{port}")),
    budget: resolveBudget(o),
    notifyDir: o.probe.kind === "notify" || o.watchdogMs ? join(o.layout.root, "notify") : undefined,
    captureDeadlineMs: o.captureDeadlineMs ?? 120_000,
    captureMode: resolveCaptureMode(o.captureMode ?? "auto"),
  };
}

/** A configured limit replaces its default; an unset one keeps systemd-coredump's default. */
function resolveBudget(o: SupervisorOptions): { maxUse: number; keepFree: number } | undefined {
  const maxUse = o.budget?.maxUse ?? null;
  const keepFree = o.budget?.keepFree ?? null;
  if (maxUse === null && keepFree === null) return undefined;
  const d = defaultBudget(o.layout.root);
  return { maxUse: maxUse ?? d.maxUse, keepFree: keepFree ?? d.keepFree };
}

/** Holding the old generation needs a steering change back: BPF on TCP sockets. */
const canHold = (s: Steering) => s.mode === "steered" && s.addresses().every((a) => a.family !== "unix");
