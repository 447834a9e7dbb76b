/**
 * hotdump as the kernel's core handler (host mode), the Node side: installing it (`doctor --fix`),
 * restoring the previous handler (`doctor --unfix`), registering a supervisor's store so the
 * handler files its children's cores there, and picking those cores up. The handler itself is
 * `hotdump-tracer handle` (tracer/handle.go): it runs as root with no environment, so it is a
 * root-owned copy in HANDLER_DIR with its settings beside it in handler.json, never a binary in a
 * user's checkout.
 *
 * Each core arrives in <store>/incoming/ as core.PID.TIME.zst (compressed while the kernel
 * writes it) and then core.PID.TIME.json (the handler's facts; written last, so its presence says
 * the core is whole). A supervisor killed meanwhile loses nothing: the next one files what it
 * finds there (fileOrphanedCores).
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type BinaryIdentity, readBinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import type { StoreLayout } from "../store/index.js";
import { findZstd } from "../store/index.js";
import { signalName } from "../util/child.js";
import { type Captured, type CaptureOptions, captureCrash } from "./capture.js";
import { isHotdumpHandler, parseCorePattern } from "./corePattern.js";
import { type CoreSettings, readCoreSettings } from "./coreSettings.js";
import { coreFixFailed, coreFixNeedsRoot } from "./errors.js";
import type { CoreSearch } from "./locateCore.js";
import { tracerBinary } from "./tracer.js";

export const HANDLER_DIR = "/usr/local/lib/hotdump";
export const REGISTRY_DIR = "/run/hotdump/registry";
/** Concurrent handlers the kernel waits for: with it > 0 a crashed process stays unreaped (and its
 * /proc readable) until the handler is done, so its supervisor sees the exit with the core filed. */
const HANDLER_PIPE_LIMIT = 64;

/** handler.json beside the handler binary (tracer/handle.go handlerConfig). */
export interface HandlerConfig {
  registry: string;
  /** The core_pattern before the install: cores hotdump does not own go there unchanged. */
  previous: string;
  previousPipeLimit: number;
  fallbackDir: string;
  zstd: string;
  timeoutSeconds: number;
}

export const handlerPattern = (dir: string) =>
  `|${dir}/hotdump-tracer handle %P %i %I %s %t %e %c %u %g %d %h %F`;

const handlerNotInstalled = () =>
  new HotdumpError(
    "capture",
    "E_HANDLER_NOT_INSTALLED",
    "hotdump's core handler is not installed (core_pattern does not pipe to it): nothing to undo",
  );

/** Copy the handler and write its settings into dir (root-owned: the kernel runs it as root). */
export function installHandlerFiles(dir: string, config: HandlerConfig): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.hotdump-tracer.${process.pid}`);
  copyFileSync(tracerBinary(), tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, join(dir, "hotdump-tracer"));
  writeFileSync(join(dir, "handler.json"), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  // Supervisors of every user write their entry; the sticky bit keeps each user's entries theirs,
  // and the handler believes an entry only if the crashed process's user (or root) owns it.
  mkdirSync(config.registry, { recursive: true, mode: 0o755 });
  chmodSync(config.registry, 0o1777);
}

/** The installed handler's settings, when core_pattern pipes to hotdump's handler. */
function currentHandler(settings: CoreSettings = readCoreSettings()): {
  dir: string;
  config: HandlerConfig;
} | null {
  const p = parseCorePattern(settings.pattern, settings.usesPid);
  if (p.kind !== "pipe" || !isHotdumpHandler(p)) return null;
  const dir = dirname(p.argv[0]!);
  try {
    return { dir, config: JSON.parse(readFileSync(join(dir, "handler.json"), "utf8")) as HandlerConfig };
  } catch {
    return null;
  }
}

export interface HandlerFixResult {
  changed: boolean;
  previous: string;
  current: string;
  why: string;
}

/** `hotdump doctor --fix`'s host mode: install the handler, keeping the previous pattern. */
export function installCoreHandler(
  o: { dir?: string; registry?: string; procSys?: string; isRoot?: boolean } = {},
): HandlerFixResult {
  const procSys = o.procSys ?? "/proc/sys/kernel";
  const settings = readCoreSettings(procSys);
  const dir = o.dir ?? HANDLER_DIR;
  if (currentHandler(settings))
    return {
      changed: false,
      previous: settings.pattern,
      current: settings.pattern,
      why: "hotdump's core handler is already installed",
    };
  if (!(o.isRoot ?? process.getuid?.() === 0)) throw coreFixNeedsRoot();
  const config: HandlerConfig = {
    registry: o.registry ?? REGISTRY_DIR,
    previous: settings.pattern,
    previousPipeLimit: settings.pipeLimit ?? 0,
    fallbackDir: "/var/lib/hotdump/cores",
    zstd: findZstd() ?? "/usr/bin/zstd",
    timeoutSeconds: 120,
  };
  try {
    installHandlerFiles(dir, config);
  } catch (e) {
    throw coreFixFailed(`install the core handler in ${dir}`, e);
  }
  const pattern = handlerPattern(dir);
  try {
    if ((settings.pipeLimit ?? 0) === 0)
      writeFileSync(join(procSys, "core_pipe_limit"), String(HANDLER_PIPE_LIMIT));
    writeFileSync(join(procSys, "core_pattern"), pattern);
  } catch (e) {
    throw coreFixFailed(`write ${join(procSys, "core_pattern")}`, e);
  }
  return {
    changed: true,
    previous: settings.pattern,
    current: pattern,
    why: "every core goes to hotdump's handler: into the store of the hotdump that started the process, compressed while it is written; all others to the previous handler",
  };
}

/** `hotdump doctor --unfix`: the pattern and pipe limit from before the install. */
export function uninstallCoreHandler(o: { procSys?: string; isRoot?: boolean } = {}): HandlerFixResult {
  const procSys = o.procSys ?? "/proc/sys/kernel";
  const settings = readCoreSettings(procSys);
  const h = currentHandler(settings);
  if (!h) throw handlerNotInstalled();
  if (!(o.isRoot ?? process.getuid?.() === 0)) throw coreFixNeedsRoot();
  try {
    writeFileSync(join(procSys, "core_pattern"), h.config.previous);
    writeFileSync(join(procSys, "core_pipe_limit"), String(h.config.previousPipeLimit));
  } catch (e) {
    throw coreFixFailed(`write ${join(procSys, "core_pattern")}`, e);
  }
  return {
    changed: true,
    previous: settings.pattern,
    current: h.config.previous,
    why: "the previous core handler is back",
  };
}

function startTimeOf(pid: number | "self"): string {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return s.slice(s.lastIndexOf(")") + 2).split(" ")[19] ?? "";
}

const registered = new Set<string>();

/**
 * Tell the handler that this process's children's cores go into layout's store. The entry names
 * this process with its start time (a later process with a reused pid is not believed) and goes
 * when this process exits; one left by a killed supervisor is ignored for the same reason.
 */
export function registerWithHandler(layout: StoreLayout, settings?: CoreSettings): boolean {
  const h = currentHandler(settings);
  if (!h) return false;
  const entry = join(h.config.registry, `${process.pid}.json`);
  if (registered.has(entry)) return true;
  const tmp = `${entry}.${Date.now()}.tmp`;
  try {
    mkdirSync(join(layout.root, "incoming"), { recursive: true, mode: 0o700 });
    writeFileSync(
      tmp,
      JSON.stringify({ pid: process.pid, startTime: startTimeOf("self"), store: layout.root }),
      {
        mode: 0o644,
      },
    );
    // In the sticky registry another user's file of this name cannot be replaced: then the handler
    // hands this process's children's cores on as it would anyone's, and the finder looks there.
    renameSync(tmp, entry);
  } catch {
    rmSync(tmp, { force: true });
    return false;
  }
  registered.add(entry);
  process.once("exit", () => rmSync(entry, { force: true }));
  return true;
}

/** The handler's facts about one core (tracer/handle.go fileIntoStore). */
interface HandlerMeta {
  pid: number;
  nsPid: string;
  tid: string;
  signal: number;
  time: number;
  comm: string;
  exe: string;
  cwd: string;
  cmdline: string[];
  uid: number;
  core: string;
  storedBytes: number;
  ms: number;
  /** The supervisor the handler filed it for, and its start time (pid reuse). */
  supervisor: number;
  supervisorStart: string;
}

const incomingOf = (layout: StoreLayout) => join(layout.root, "incoming");

function metaFiles(layout: StoreLayout): string[] {
  try {
    return readdirSync(incomingOf(layout)).filter((f) => /^core\.\d+\.\d+\.json$/.test(f));
  } catch {
    return [];
  }
}

function searchFor(
  layout: StoreLayout,
  file: string,
  take: (m: HandlerMeta) => boolean = () => true,
): { search: CoreSearch; meta: HandlerMeta } | null {
  const dir = incomingOf(layout);
  try {
    const meta = JSON.parse(readFileSync(join(dir, file), "utf8")) as HandlerMeta;
    if (!take(meta)) return null;
    const path = join(dir, meta.core);
    const stored = statSync(path).size;
    // The .json goes now: the core is the capture's, which moves it into the bundle.
    rmSync(join(dir, file), { force: true });
    return { search: { found: true, path, removable: true, compressed: "zstd", size: stored }, meta };
  } catch {
    return null;
  }
}

/** The pids whose cores the handler has filed (or is filing) into this store. */
export function handlerCorePids(layout: StoreLayout): number[] {
  try {
    return readdirSync(incomingOf(layout)).flatMap((f) => {
      const m = /^\.?core\.(\d+)\./.exec(f);
      return m ? [Number(m[1])] : [];
    });
  } catch {
    return [];
  }
}

/**
 * The core the handler filed for pid. With core_pipe_limit > 0 it is there when the exit is seen;
 * with 0 the handler may still be compressing: wait for its .json, raced against waitMs.
 */
export async function handlerCoreOf(
  layout: StoreLayout,
  pid: number,
  waitMs = 10_000,
): Promise<CoreSearch | null> {
  const deadline = Date.now() + waitMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    const file = metaFiles(layout).find((f) => f.startsWith(`core.${pid}.`));
    if (file) return searchFor(layout, file)?.search ?? null;
    const partial = existsSync(incomingOf(layout))
      ? readdirSync(incomingOf(layout)).some((f) => f.startsWith(`.core.${pid}.`))
      : false;
    // No partial core either: the handler did not take it (not ours, or no handler ran).
    if (Date.now() > deadline || (!partial && Date.now() > deadline - waitMs + 1000)) return null;
    await sleep(delay);
  }
}

const alive = (pid: number, start: string) => {
  try {
    return startTimeOf(pid) === start;
  } catch {
    return false;
  }
};

/**
 * Cores the handler filed for a supervisor that is gone (killed meanwhile), oldest first. One whose
 * supervisor lives is left to it: several hotdumps may share a store.
 */
function orphanedHandlerCores(layout: StoreLayout): { search: CoreSearch; meta: HandlerMeta }[] {
  return metaFiles(layout)
    .sort((a, b) => Number(a.split(".")[2]) - Number(b.split(".")[2]))
    .flatMap((f) => {
      const r = searchFor(layout, f, (m) => !alive(m.supervisor, m.supervisorStart));
      return r ? [r] : [];
    });
}

/**
 * File the cores a killed supervisor left in incoming/ as crash bundles (the next start does it).
 * The binary is read where the process ran it from; the build-ID proof says if it was replaced.
 */
export async function fileOrphanedCores(
  layout: StoreLayout,
  o: Omit<CaptureOptions, "layout"> = {},
): Promise<Captured[]> {
  const out: Captured[] = [];
  for (const { search, meta } of orphanedHandlerCores(layout)) {
    const exe = meta.exe.replace(/ \(deleted\)$/, "");
    let identity: BinaryIdentity | null = null;
    try {
      identity = await readBinaryIdentity(exe);
    } catch {
      identity = null;
    }
    const when = new Date(meta.time * 1000);
    out.push(
      await captureCrash(
        {
          pid: meta.pid,
          ended: {
            outcome: "crash",
            exitCode: null,
            signal: signalName(meta.signal),
            status: 128 + meta.signal,
            note: "filed from the core handler's copy after its supervisor ended",
          },
          startedAt: when,
          endedAt: when,
          cmdline: meta.cmdline.length ? meta.cmdline : [exe],
          cwd: meta.cwd || "/",
          envNames: [],
          binary: { path: exe, identity },
          stdoutTail: "",
          stderrTail: "",
          traceback: null,
          claimed: search,
        },
        { ...o, layout },
      ),
    );
  }
  return out;
}
