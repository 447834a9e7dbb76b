/**
 * Which way a crash's core reaches hotdump (`--capture kernel|handler|tracer|auto`):
 *   kernel  the kernel writes it where core_pattern says (a file, or systemd-coredump/apport whose
 *           copies hotdump retrieves), and hotdump finds it;
 *   handler core_pattern pipes to hotdump's own handler (`hotdump doctor --fix`), which files each
 *           core into the store of the supervisor that owns the process (handler.ts);
 *   tracer  the service runs under hotdump's ptrace tracer (tracer.ts), which writes the core itself:
 *           for where the kernel's core never arrives (a container whose pattern pipes to the
 *           host's handler, RLIMIT_CORE hard 0).
 * `auto` picks from the machine as it is; the choice and its reason are what `doctor` prints.
 */
import { existsSync } from "node:fs";
import { HotdumpError } from "../errors.js";
import { findOnPath } from "../util/which.js";
import { type CoreLimit, coreLimitOf, isZero } from "./coreLimit.js";
import { isHotdumpHandler, parseCorePattern } from "./corePattern.js";
import { type CoreSettings, readCoreSettings } from "./coreSettings.js";

const CAPTURE_MODES = ["kernel", "handler", "tracer", "auto"] as const;
export type CaptureModeRequest = (typeof CAPTURE_MODES)[number];
export type CaptureMode = Exclude<CaptureModeRequest, "auto">;

export interface ResolvedCapture {
  mode: CaptureMode;
  why: string;
}

export interface CaptureModeInput {
  settings?: CoreSettings;
  /** hotdump's own RLIMIT_CORE (children inherit it). */
  selfLimit?: CoreLimit;
  hasCoredumpctl?: boolean;
  /** Whether a path exists in this mount namespace (default: the file system's answer). */
  exists?: (path: string) => boolean;
}

const captureModeInvalid = (value: string) =>
  new HotdumpError(
    "usage",
    "E_CAPTURE_MODE",
    `--capture ${JSON.stringify(value)}: expected one of ${CAPTURE_MODES.join(", ")}`,
  );

const handlerNotInstalled = (pattern: string) =>
  new HotdumpError(
    "capture",
    "E_CAPTURE_NO_HANDLER",
    `--capture handler: core_pattern is ${JSON.stringify(pattern)}, not hotdump's handler: run \`sudo hotdump doctor --fix\` (or use --capture auto)`,
  );

export function parseCaptureMode(value: string | undefined): CaptureModeRequest {
  if (value === undefined) return "auto";
  if ((CAPTURE_MODES as readonly string[]).includes(value)) return value as CaptureModeRequest;
  throw captureModeInvalid(value);
}

/** Why the kernel's core cannot reach a process hotdump starts here, or null when it can. */
function kernelCoreUnreachable(i: CaptureModeInput = {}): string | null {
  const settings = i.settings ?? readCoreSettings();
  const limit = i.selfLimit ?? coreLimitOf("self");
  if (limit && isZero(limit.hard))
    return "RLIMIT_CORE's hard limit is 0 here (a container's or systemd's setting): the kernel writes no core";
  const p = parseCorePattern(settings.pattern, settings.usesPid);
  if (p.kind === "socket")
    return `core_pattern sends cores to the socket ${p.socket}, which hotdump cannot read from`;
  if (p.kind !== "pipe" || isHotdumpHandler(p)) return null;
  const helper = p.argv[0] ?? "";
  // The kernel runs the helper in the initial namespaces: a helper missing from this file system
  // means hotdump runs in another mount namespace (a container), where that handler's output never is.
  if (!(i.exists ?? existsSync)(helper))
    return `core_pattern pipes to ${helper}, which is not in this mount namespace (a container): the host's handler gets the core`;
  if (p.handler === "systemd-coredump")
    return (i.hasCoredumpctl ?? findOnPath("coredumpctl") !== null)
      ? null
      : "core_pattern pipes to systemd-coredump but coredumpctl is not installed here to retrieve the core";
  if (p.handler === "apport") return null;
  return `core_pattern pipes to ${helper}, a handler hotdump cannot retrieve cores from`;
}

export function resolveCaptureMode(req: CaptureModeRequest, i: CaptureModeInput = {}): ResolvedCapture {
  if (req === "tracer") return { mode: "tracer", why: "--capture tracer" };
  if (req === "kernel") return { mode: "kernel", why: "--capture kernel" };
  let settings: CoreSettings;
  try {
    settings = i.settings ?? readCoreSettings();
  } catch (e) {
    // Without /proc/sys the finder says what it can; the tracer would need /proc as well.
    if (req === "handler") throw e;
    return { mode: "kernel", why: (e as HotdumpError).shortMessage ?? String(e) };
  }
  const parsed = parseCorePattern(settings.pattern, settings.usesPid);
  switch (req) {
    case "handler":
      if (!isHotdumpHandler(parsed)) throw handlerNotInstalled(settings.pattern);
      return { mode: "handler", why: "--capture handler" };
    case "auto": {
      if (isHotdumpHandler(parsed))
        return { mode: "handler", why: "core_pattern pipes to hotdump's handler (doctor --fix)" };
      const unreachable = kernelCoreUnreachable({ ...i, settings });
      if (unreachable) return { mode: "tracer", why: unreachable };
      return {
        mode: "kernel",
        why: `the kernel's core reaches hotdump (core_pattern ${JSON.stringify(settings.pattern)})`,
      };
    }
  }
}
