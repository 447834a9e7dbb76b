/**
 * One launch's capture, whatever the mode: what to put before the service's argv, and the core of a
 * crashed pid when the mode already holds it (the tracer wrote it; the handler filed it). The
 * kernel mode has neither: the finder looks where core_pattern says (locateCore.ts).
 */
import type { StoreLayout } from "../store/index.js";
import { handlerCoreOf, handlerCorePids, registerWithHandler } from "./handler.js";
import type { CoreSearch } from "./locateCore.js";
import { type CaptureModeRequest, type ResolvedCapture, resolveCaptureMode } from "./mode.js";
import { createTracerSession, type TracerSession } from "./tracer.js";

export interface CaptureLaunch {
  capture: ResolvedCapture;
  /** Words before the launch argv (the tracer's `run ... --`); empty for kernel and handler. */
  wrap: string[];
  /**
   * How a service started to die with hotdump is killed when hotdump dies. The handler's promise
   * (a supervisor killed mid-dump loses nothing) needs TERM: a SIGKILL stops the kernel's dump.
   */
  deathSignal: "KILL" | "TERM";
  /** The core of pid if this mode has it, else null (then the kernel's is looked for). */
  coreOf(pid: number): Promise<CoreSearch | null>;
  /** The pids this mode holds a core of so far (a descendant's, too). */
  pids(): number[];
  /** After capture: the tracer's directory goes (its cores are in the bundle by then). */
  dispose(): void;
}

export function prepareCapture(
  req: CaptureModeRequest,
  layout: StoreLayout | null,
  resolved?: ResolvedCapture,
): CaptureLaunch {
  const capture = resolved ?? resolveCaptureMode(req);
  if (capture.mode === "tracer") {
    const session: TracerSession = createTracerSession(layout?.tmp);
    return {
      capture,
      wrap: session.argv,
      deathSignal: "KILL",
      coreOf: async (pid) => session.coreOf(pid),
      pids: () => session.events().flatMap((e) => (e.event === "core" && e.path ? [e.pid] : [])),
      dispose: () => session.dispose(),
    };
  }
  if (capture.mode === "handler" && layout) {
    registerWithHandler(layout);
    return {
      capture,
      wrap: [],
      deathSignal: "TERM",
      coreOf: (pid) => handlerCoreOf(layout, pid),
      pids: () => handlerCorePids(layout),
      dispose: () => {},
    };
  }
  return {
    capture,
    wrap: [],
    deathSignal: "KILL",
    coreOf: async () => null,
    pids: () => [],
    dispose: () => {},
  };
}
