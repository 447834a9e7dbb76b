/**
 * A core of a live Go service, taken without ending it. hotdump's tracer writes it
 * (`hotdump-tracer snapshot PID PATH`: every thread seized and interrupted, /proc/PID/mem copied
 * into an ELF core laid out as the kernel's, with NT_FILE, every thread let go); where the tracer
 * cannot, `dlv attach PID --headless` with Delve's DumpStart/DumpWait RPCs, then Detach{Kill:false}.
 * Either way the process is stopped (ptrace) until the detach: that is the pause we measure and
 * report. Delve's pause also holds its start (it loads the binary's DWARF after attaching).
 *
 * Not gdb's gcore: measured here on a small HTTP service with 1,000 goroutines,
 * `gdb -p PID -batch -ex gcore` paused it 3.2 s and wrote 1.5 GB, because gdb also dumps the Go
 * runtime's PROT_NONE address-space reservations; Delve's dump took 1.1 s end to end and wrote
 * 118 MB (readable mappings only). Delve writes its notes after the segments and no NT_FILE note,
 * so such a core names no mapped files; the executable's first page is in it (readable mapping),
 * so the build-ID proof still works.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { createDelveSession, type DelveSession } from "../analyze/delve/index.js";
import {
  type Captured,
  captureCrash,
  dumpThroughTracer,
  snapshotThroughTracer,
  tracerControlOf,
} from "../capture/index.js";
import { readBinaryIdentity } from "../elf/index.js";
import { isHotdumpError } from "../errors.js";
import { archiveBinary, ensureStore, resolveRunningTarget, saveMeta } from "../store/index.js";
import { snapshotFailed, snapshotNotGo, snapshotTargetUnknown } from "./errors.js";

interface DumpLiveOptions {
  pid: number;
  /** Where the core goes. */
  dest: string;
  dlvPath?: string;
  timeoutMs?: number;
  /**
   * Who writes the core of a process no tracer holds: hotdump's tracer (the default, Delve's dump
   * when the tracer cannot: no Go to build it, ptrace refused), or Delve alone.
   */
  method?: "tracer" | "delve";
}

interface DumpedLive {
  core: string;
  /** Attach to detach: how long the service was stopped. */
  pauseMs: number;
  /** The dump alone (DumpStart to AllDone). */
  dumpMs: number;
  bytes: number;
  /** Who wrote the core. */
  writer: "tracer" | "delve";
  /** Why the tracer did not, when Delve's dump stood in. */
  tracerFailed?: string;
}

export async function dumpLiveProcess(o: DumpLiveOptions): Promise<DumpedLive> {
  const timeoutMs = o.timeoutMs ?? 120_000;
  const t0 = performance.now();
  // A service under hotdump's tracer (--capture tracer) cannot be attached by Delve (one tracer
  // per process): its tracer writes the core instead.
  const control = tracerControlOf(o.pid);
  if (control) {
    try {
      const d = await dumpThroughTracer(control, o.dest);
      return { core: o.dest, pauseMs: d.pauseMs, dumpMs: d.pauseMs, bytes: d.bytes, writer: "tracer" };
    } catch (e) {
      throw snapshotFailed(o.pid, isHotdumpError(e) ? e.shortMessage : String(e), detailsOf(e), e);
    }
  }
  // hotdump's tracer pauses the service for the copy alone (0.8 s per GB resident against Delve's
  // 1.3 s, bench/snapshot-pause.mjs): Delve loads the binary's DWARF while the service waits.
  let tracerFailed: string | undefined;
  if ((o.method ?? "tracer") === "tracer") {
    try {
      const d = await snapshotThroughTracer(o.pid, o.dest);
      return { core: o.dest, pauseMs: d.pauseMs, dumpMs: d.pauseMs, bytes: d.bytes, writer: "tracer" };
    } catch (e) {
      tracerFailed = isHotdumpError(e) ? e.shortMessage : String(e);
    }
  }
  let session: DelveSession;
  try {
    session = await createDelveSession({
      pid: o.pid,
      timeoutMs,
      ...(o.dlvPath ? { dlvPath: o.dlvPath } : {}),
    });
  } catch (e) {
    if (isHotdumpError(e) && e.code === "E_DLV_NOT_FOUND" && !tracerFailed) throw e;
    // Neither could: both reasons, the tracer's first (it was tried first).
    const why = isHotdumpError(e) ? e.shortMessage : String(e);
    throw snapshotFailed(o.pid, tracerFailed ? `${tracerFailed}; then Delve: ${why}` : why, detailsOf(e), e);
  }
  try {
    const d0 = performance.now();
    let state = (await session.call("DumpStart", { Destination: o.dest })).State;
    while (!state.AllDone) {
      if (state.Err) break;
      state = (await session.call("DumpWait", { Wait: 1000 }, { timeoutMs })).State;
    }
    const dumpMs = performance.now() - d0;
    // close() detaches with Kill:false: from here the service runs again.
    await session.close();
    const pauseMs = performance.now() - t0;
    if (state.Err) throw snapshotFailed(o.pid, `Delve's dump failed: ${state.Err}`, session.stderrTail());
    return {
      core: o.dest,
      pauseMs,
      dumpMs,
      bytes: state.MemTotal,
      writer: "delve",
      ...(tracerFailed ? { tracerFailed } : {}),
    };
  } catch (e) {
    if (isHotdumpError(e) && e.code === "E_SNAPSHOT_FAILED") throw e;
    throw snapshotFailed(o.pid, (e as Error).message, session.stderrTail(), e);
  } finally {
    // Never leave the service stopped under a tracer; idempotent after the close above.
    await session.close();
  }
}

const detailsOf = (e: unknown) => (isHotdumpError(e) ? e.details : undefined);

/** The service to snapshot: --pid, or a generation from <store>/running.json (newest by default). */
export const resolveSnapshotTarget = (storeDir: string, sel: { pid?: number; generation?: number }) =>
  resolveRunningTarget(storeDir, sel, snapshotTargetUnknown);

export interface SnapshotOptions {
  storeDir: string;
  pid: number;
  generation?: number | null;
  dlvPath?: string;
  /** Analyse the snapshot like a crash (default true). */
  analyze?: boolean;
  /** Who writes the core (DumpLiveOptions.method). */
  method?: DumpLiveOptions["method"];
}

export interface Snapshot extends Captured {
  pauseMs: number;
  dumpMs: number;
  /** Who wrote the core, and why not the tracer when Delve's dump stood in. */
  writer: DumpedLive["writer"];
  tracerFailed?: string;
}

/** Snapshot a live process into the store as a bundle of type "snapshot", analysed like a crash. */
export async function snapshotProcess(o: SnapshotOptions): Promise<Snapshot> {
  const layout = ensureStore(o.storeDir);
  const proc = `/proc/${o.pid}`;
  let exe: string;
  try {
    exe = readlinkSync(`${proc}/exe`);
  } catch (cause) {
    throw snapshotFailed(o.pid, "no such process (or not ours to read)", undefined, cause);
  }
  const startedAt = new Date();
  // Checked before anything is stored: a shell's pid given by mistake (`./svc &` in a subshell)
  // would otherwise become a bundle nobody can use.
  const running = await readBinaryIdentity(`${proc}/exe`).catch(() => null);
  if (!running?.goVersion) throw snapshotNotGo(o.pid, exe);
  // /proc/PID/exe opens the running file even after a rebuild replaced or deleted it.
  const archived = await archiveBinary(layout, `${proc}/exe`);
  const identity = await readBinaryIdentity(archived.path).catch(() => null);
  const cmdline = readProc(`${proc}/cmdline`).split("\0").filter(Boolean);
  const envNames = readProc(`${proc}/environ`)
    .split("\0")
    .filter(Boolean)
    .map((kv) => kv.slice(0, Math.max(0, kv.indexOf("="))));
  let cwd = "";
  try {
    cwd = readlinkSync(`${proc}/cwd`);
  } catch {
    // a process of another user: cwd unknown
  }
  const tmp = await mkdtemp(join(layout.cache, "snap-"));
  try {
    const dumped = await dumpLiveProcess({
      pid: o.pid,
      dest: join(tmp, "core"),
      ...(o.dlvPath ? { dlvPath: o.dlvPath } : {}),
      ...(o.method ? { method: o.method } : {}),
    });
    const captured = await captureCrash(
      {
        pid: o.pid,
        ended: {
          outcome: "crash",
          exitCode: null,
          signal: null,
          status: 0,
          note: "live snapshot: the process kept running",
        },
        startedAt,
        endedAt: new Date(),
        cmdline,
        cwd,
        envNames,
        binary: {
          path: exe.replace(/ \(deleted\)$/, ""),
          archived: archived.path,
          sha256: archived.sha256,
          identity,
        },
        stdoutTail: "",
        stderrTail: "",
        traceback: null,
        generation: o.generation ?? null,
        type: "snapshot",
        corePath: dumped.core,
        coreTemporary: true,
      },
      { layout, runAnalysis: o.analyze !== false },
    );
    // The dump was a temporary file, removed below: the bundle must not point at it.
    if (captured.bundle?.meta.core.originalPath) {
      delete captured.bundle.meta.core.originalPath;
      await saveMeta(captured.bundle.dir, captured.bundle.meta);
    }
    return {
      ...captured,
      pauseMs: dumped.pauseMs,
      dumpMs: dumped.dumpMs,
      writer: dumped.writer,
      ...(dumped.tracerFailed ? { tracerFailed: dumped.tracerFailed } : {}),
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function readProc(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
