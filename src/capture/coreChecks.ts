/**
 * `hotdump doctor` checks about core capture, and the opt-in `--fix`.
 *
 * `--fix` installs hotdump's own core handler (handler.ts). Where that cannot be built (no Go
 * toolchain), it falls back to applyCoreFix below. What applyCoreFix sets, and why: a working setup is left alone (an absolute file pattern, or
 * systemd-coredump with coredumpctl installed). Otherwise (the default relative `core`, which
 * drops cores into the project tree where two crashes overwrite each other; apport, which keeps no
 * core for binaries outside a package; or any other pipe helper) it sets
 * `/var/lib/hotdump/cores/core.%e.%p.%t`: absolute (works for suid_dumpable too), %p for hotdump to
 * match the pid it spawned, %t so pid reuse cannot overwrite an older core, %e for people reading
 * the directory. The directory is mode 1777 like /tmp: the kernel writes as the crashing user, the
 * core files themselves are 0600 (they hold secrets). Only /proc is written, so a reboot restores the
 * distribution's setting; the previous value is returned so the CLI prints the command to undo it.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findOnPath } from "../util/which.js";
import { type CoreLimit, coreLimitOf, isZero } from "./coreLimit.js";
import { expectedCorePath } from "./coreLocation.js";
import { isHotdumpHandler, parseCorePattern } from "./corePattern.js";
import { type CoreSettings, readCoreSettings } from "./coreSettings.js";
import { coreFixFailed, coreFixNeedsRoot } from "./errors.js";
import { resolveCaptureMode } from "./mode.js";

export interface DoctorCheck {
  id: string;
  status: "ok" | "warn" | "fail";
  message: string;
  remedy?: string;
}

const HOTDUMP_CORE_DIR = "/var/lib/hotdump/cores";

export interface DoctorInput {
  /** The directory programs are started in (relative patterns land there). */
  cwd: string;
  settings?: CoreSettings;
  /** RLIMIT_CORE of hotdump itself (children inherit it). */
  selfLimit?: CoreLimit;
  hasCoredumpctl?: boolean;
}

export function doctorCoreChecks(input: DoctorInput): DoctorCheck[] {
  const settings = input.settings ?? readCoreSettings();
  const parsed = parseCorePattern(settings.pattern, settings.usesPid);
  const checks: DoctorCheck[] = [];
  const fix = "run `sudo hotdump doctor --fix` (installs hotdump's core handler; `--unfix` undoes it)";
  if (parsed.kind === "file") {
    const loc = expectedCorePath(parsed, {
      pid: 1234,
      cwd: input.cwd,
      comm: "PROGRAM",
      startedAt: 0,
      endedAt: 0,
    });
    const where =
      loc.kind === "exact" ? loc.path.replace("1234", "<pid>") : loc.display.replace("1234", "<pid>");
    const hasPid = parsed.template.some((t) => t.kind === "spec" && (t.spec === "p" || t.spec === "t"));
    checks.push({
      id: "core-pattern",
      status: parsed.relative || !hasPid ? "warn" : "ok",
      message: `core_pattern is ${JSON.stringify(settings.pattern)}: a program started in ${input.cwd} dumps to ${where}${
        parsed.relative ? " (relative: the program's working directory)" : ""
      }`,
      ...(parsed.relative || !hasPid
        ? {
            remedy: `without %p two crashes overwrite one file, and relative cores land in the project tree; ${fix}`,
          }
        : {}),
    });
    // Under a pattern without %p, core_uses_pid 0 is half of the overwrite warned about above: an
    // "ok" beside that warning read as a contradiction.
    const pidMissing = !hasPid && !settings.usesPid;
    checks.push({
      id: "core-uses-pid",
      status: pidMissing ? "warn" : "ok",
      message: `core_uses_pid is ${settings.usesPid ? 1 : 0}${
        parsed.pidAppended
          ? ": the kernel appends .<pid> to the file name"
          : pidMissing
            ? ": nothing adds the pid to the core's file name"
            : ""
      }`,
      ...(pidMissing ? { remedy: `\`sudo sysctl -w kernel.core_uses_pid=1\`, or ${fix}` } : {}),
    });
    const dir = loc.kind === "exact" ? loc.path.slice(0, loc.path.lastIndexOf("/")) || "/" : loc.root;
    if (!parsed.relative && !existsSync(dir))
      checks.push({
        id: "core-dir",
        status: "fail",
        message: `the core directory ${dir} does not exist: the kernel will write no core`,
        remedy: `mkdir -p ${dir} && chmod 1777 ${dir}`,
      });
  } else if (parsed.kind === "pipe" && isHotdumpHandler(parsed)) {
    checks.push({
      id: "core-pattern",
      status: "ok",
      message: `core_pattern pipes cores to hotdump's handler ${parsed.argv[0]}: each goes to the store of the hotdump that started the process (others to the previous handler)`,
    });
  } else if (parsed.kind === "pipe") {
    const retrievable =
      parsed.handler === "systemd-coredump"
        ? (input.hasCoredumpctl ?? findOnPath("coredumpctl") !== null)
        : false;
    checks.push({
      id: "core-pattern",
      // Not a failure since the tracer: capture-mode below says it takes over.
      status: retrievable ? "ok" : "warn",
      message: `core_pattern pipes cores to ${parsed.argv[0] ?? "?"} (${parsed.handler})${
        retrievable
          ? ": hotdump retrieves them with coredumpctl"
          : parsed.handler === "systemd-coredump"
            ? " but coredumpctl is not installed"
            : ": hotdump cannot retrieve cores from it"
      }`,
      ...(retrievable
        ? {}
        : {
            remedy:
              parsed.handler === "systemd-coredump"
                ? `apt-get install systemd-coredump (for coredumpctl), or ${fix}`
                : fix,
          }),
    });
  } else {
    checks.push({
      id: "core-pattern",
      status: "warn",
      message: `core_pattern sends cores to the socket ${parsed.socket}: hotdump cannot retrieve them`,
      remedy: fix,
    });
  }
  const lim = input.selfLimit ?? coreLimitOf("self");
  if (lim) {
    const show = (v: CoreLimit["soft"]) => (v === "unlimited" ? "unlimited" : `${v} bytes`);
    const hardZero = isZero(lim.hard);
    checks.push({
      id: "core-rlimit",
      status: hardZero ? "warn" : "ok",
      message: `RLIMIT_CORE of hotdump: soft ${show(lim.soft)}, hard ${show(lim.hard)}${
        hardZero
          ? ": children inherit a hard limit of 0, so the kernel writes no core (the tracer writes it instead)"
          : isZero(lim.soft)
            ? " (hotdump raises the soft limit of each child to the hard limit)"
            : ""
      }`,
      ...(hardZero
        ? {
            remedy:
              "raise the hard limit before starting hotdump (`ulimit -H -c unlimited` as root, LimitCORE= in a unit, or limits.conf)",
          }
        : {}),
    });
  }
  const mode = resolveCaptureMode("auto", {
    settings,
    ...(input.selfLimit ? { selfLimit: input.selfLimit } : {}),
    ...(input.hasCoredumpctl !== undefined ? { hasCoredumpctl: input.hasCoredumpctl } : {}),
  });
  checks.push({
    id: "capture-mode",
    status: "ok",
    message: `capture mode (--capture auto): ${mode.mode}, because ${mode.why}`,
  });
  if (parsed.kind === "pipe" && settings.pipeLimit !== undefined)
    checks.push({
      id: "core-pipe-limit",
      status: "ok",
      message: `core_pipe_limit is ${settings.pipeLimit}${settings.pipeLimit === 0 ? " (the pipe helper runs after the process exits: hotdump waits for it)" : ""}`,
    });
  return checks;
}

export interface CoreFixResult {
  changed: boolean;
  previous: string;
  current: string;
  /** Shell command that restores the previous setting. */
  undo?: string;
  why: string;
}

/** Whether the current setting needs the fix (see the module comment). */
export function needsCoreFix(
  settings: CoreSettings,
  hasCoredumpctl = findOnPath("coredumpctl") !== null,
): boolean {
  const p = parseCorePattern(settings.pattern, settings.usesPid);
  if (p.kind === "file") return p.relative;
  if (p.kind === "pipe") return !(p.handler === "systemd-coredump" && hasCoredumpctl);
  return true;
}

export function applyCoreFix(
  opts: { procSys?: string; dir?: string; hasCoredumpctl?: boolean; isRoot?: boolean } = {},
): CoreFixResult {
  const procSys = opts.procSys ?? "/proc/sys/kernel";
  const dir = opts.dir ?? HOTDUMP_CORE_DIR;
  const settings = readCoreSettings(procSys);
  const previous = settings.pattern;
  if (!needsCoreFix(settings, opts.hasCoredumpctl ?? findOnPath("coredumpctl") !== null))
    return {
      changed: false,
      previous,
      current: previous,
      why: "core_pattern already lets hotdump find cores",
    };
  if (!(opts.isRoot ?? process.getuid?.() === 0)) throw coreFixNeedsRoot();
  const pattern = `${dir}/core.%e.%p.%t`;
  try {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o1777);
  } catch (e) {
    throw coreFixFailed(`create ${dir}`, e);
  }
  try {
    writeFileSync(join(procSys, "core_pattern"), pattern);
  } catch (e) {
    throw coreFixFailed(`write ${join(procSys, "core_pattern")}`, e);
  }
  const quoted = `'${previous.replaceAll("'", `'\\''`)}'`;
  return {
    changed: true,
    previous,
    current: pattern,
    undo: `sysctl -w kernel.core_pattern=${quoted}`,
    why: "cores now land in one absolute directory, named with the pid hotdump spawned",
  };
}
