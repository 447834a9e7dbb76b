/**
 * Which process of the tree crashed, once the child hotdump started has ended. The child may be the
 * Go program itself (possibly after `exec` from a shell: same pid, new binary), or a shell, `make`
 * or `go run` that outlived it and ended with its own status: `go run` prints "exit status 2" or
 * "signal: aborted (core dumped)" and exits 1, dash exits 134, make exits 2. Evidence, best first:
 * the child's own fatal signal; a descendant's exit status (reaped by hotdump as subreaper, or read
 * from its zombie); a core whose NT_PRPSINFO pid is a Go descendant's; a Go traceback in the output.
 */
import { dirname } from "node:path";
import type { Traceback } from "../analyze/traceback/index.js";
import type { CrashFacts } from "../capture/index.js";
import { CORE_SIGNALS, type CoreSearch, locateCore } from "../capture/index.js";
import { openCore, readBinaryIdentity } from "../elf/index.js";
import type { HotdumpError } from "../errors.js";
import { archiveBinary, type StoreLayout } from "../store/index.js";
import type { ChildEnd } from "../util/child.js";
import { signalName } from "../util/child.js";
import type { Logger } from "../util/log.js";
import { classifyEnd, type Ended } from "./classifyEnd.js";
import { type Descendant, type DescendantTracker, isToolchain } from "./descendants.js";

/** Where capture should look for the crashed process's core: its cwd, or where it was found. */
export const crashedCwd = (c: CrashedProcess, fallback: string) =>
  c.process.snapshot?.cwd ?? (c.core?.path ? dirname(c.core.path) : fallback);

export interface CrashedProcess {
  process: Descendant;
  /** True when it is the child hotdump started (after any exec). */
  root: boolean;
  /** Its own end, as capture needs it (signal → a core to find). */
  ended: Ended;
  /** A core already found and proven to be this pid's. */
  core?: CoreSearch;
  evidence: "exit-status" | "core" | "traceback";
}

/** Cores the capture mode already holds (the tracer's, the handler's): capture/launchCapture.ts. */
export interface HeldCores {
  pids(): number[];
  coreOf(pid: number): Promise<CoreSearch | null>;
}

export async function findCrashedProcess(
  tracker: DescendantTracker,
  rootEnd: ChildEnd,
  traceback: Traceback | null,
  window: { startedAt: Date; endedAt: Date },
  held?: HeldCores,
): Promise<CrashedProcess | null> {
  // One last pass: what ended since the previous one is marked gone (and orphans reaped).
  await tracker.poll();
  const all = tracker.list();
  const root = all.find((d) => d.pid === tracker.rootPid);
  const rootEnded = classifyEnd(rootEnd, { goTracebackSeen: traceback !== null });
  if (root && rootEnd.signal && CORE_SIGNALS.has(rootEnd.signal))
    return { process: root, root: true, ended: rootEnded, evidence: "exit-status" };

  const newestFirst = (a: Descendant, b: Descendant) => b.lastSeen - a.lastSeen || b.firstSeen - a.firstSeen;
  const goKids = all.filter((d) => d.pid !== tracker.rootPid && d.isGo && !isToolchain(d)).sort(newestFirst);

  const heldPids = held?.pids() ?? [];
  const bySignal = goKids.find((d) => d.end?.signal && CORE_SIGNALS.has(d.end.signal));
  if (bySignal?.end) {
    // Its end was seen (a busy machine's poll caught it): the core held for it is still the better
    // evidence, and the one the report is read from.
    if (heldPids.includes(bySignal.pid)) {
      const search = await held!.coreOf(bySignal.pid);
      if (search?.found && search.path) return byCore(bySignal, bySignal.end.signal!, search);
    }
    return {
      process: bySignal,
      root: false,
      ended: classifyEnd(
        { exitCode: null, signal: bySignal.end.signal, killed: false },
        { goTracebackSeen: false },
      ),
      evidence: "exit-status",
    };
  }

  // A core the tracer or the handler wrote for a descendant: the surest evidence after a signal.
  for (const d of goKids) {
    if (!heldPids.includes(d.pid)) continue;
    const search = await held!.coreOf(d.pid);
    if (!search?.found || !search.path) continue;
    const proven = search.compressed ? "SIGABRT" : await coreSignalIfPid(search.path, d.pid);
    if (!proven) continue;
    return byCore(d, proven, search);
  }
  // One no poll saw (it lived less than one): the tracer's core names it.
  for (const pid of heldPids.filter((p) => p !== tracker.rootPid && !all.some((d) => d.pid === p))) {
    const search = await held!.coreOf(pid);
    if (!search?.found || !search.path || search.compressed) continue;
    const unseen = await unseenFromCore(search.path, all, window);
    if (unseen) return byCore(unseen.process, unseen.signal, search);
  }

  // Its parent reaped it: look for its core. The pattern may hold %s, which is not known yet:
  // Go's crash with GOTRACEBACK=crash raises SIGABRT; a fault outside Go code is SIGSEGV.
  for (const d of goKids) {
    if (!d.gone || (d.end && !d.end.signal)) continue;
    for (const signal of ["SIGABRT", "SIGSEGV"] as const) {
      const search = await locateCore({
        pid: d.pid,
        cwd: d.snapshot?.cwd ?? "/",
        exe: d.exe.replace(/ \(deleted\)$/, ""),
        signal,
        startedAt: new Date(d.firstSeen - 1000),
        endedAt: window.endedAt,
        ...(d.snapshot ? { snapshot: d.snapshot } : {}),
        waitMs: 1000,
      }).catch(() => null);
      if (!search?.found || !search.path) continue;
      const proven = await coreSignalIfPid(search.path, d.pid);
      if (!proven) continue;
      return byCore(d, proven, search);
    }
  }

  // Not seen running: it lived less than one poll (a panic in init dies within milliseconds). A
  // fresh core in a directory the tree ran in, of a process whose parent was in the tree, is its.
  // Only core_pattern names without %p can be found this way (the default `core` is one).
  const dirs = new Set(all.map((d) => d.snapshot?.cwd).filter((d): d is string => Boolean(d)));
  for (const dir of dirs) {
    const search = await locateCore({
      pid: tracker.rootPid,
      cwd: dir,
      exe: root?.exe ?? "",
      signal: "SIGABRT",
      startedAt: window.startedAt,
      endedAt: window.endedAt,
      waitMs: 500,
    }).catch(() => null);
    if (!search?.found || !search.path) continue;
    const unseen = await unseenFromCore(search.path, all, window);
    // `go run`'s program: held since its linker wrote it, as the file is deleted when it ends.
    if (unseen) unseen.process.linkedFd = tracker.linkedOutput(unseen.process.exe);
    if (unseen) return byCore(unseen.process, unseen.signal, search);
  }

  if (traceback !== null) {
    // A panic under the user's own GOTRACEBACK exits 2 without a core: the Go program that ended
    // last with status 2 (or an unknown status) printed it.
    const d = goKids.find((k) => k.gone && (!k.end || k.end.exitCode === 2));
    if (d) {
      const code = d.end?.exitCode ?? 2;
      return {
        process: d,
        root: false,
        ended: classifyEnd({ exitCode: code, signal: null, killed: false }, { goTracebackSeen: true }),
        evidence: "traceback",
      };
    }
  }
  if (root && rootEnded.outcome === "crash")
    return { process: root, root: true, ended: rootEnded, evidence: "traceback" };
  return null;
}

/** A process that died of `signal`, proven by its core: the surest evidence after its exit status. */
const byCore = (process: Descendant, signal: NodeJS.Signals, core: CoreSearch): CrashedProcess => ({
  process,
  root: false,
  ended: classifyEnd({ exitCode: null, signal, killed: false }, { goTracebackSeen: false }),
  core,
  evidence: "core",
});

/** The fatal signal recorded in the core, if the core is the process `pid`'s (NT_PRPSINFO pr_pid). */
async function coreSignalIfPid(path: string, pid: number): Promise<NodeJS.Signals | null> {
  try {
    const c = await openCore(path);
    try {
      // Without NT_PRPSINFO, the main thread's tid is the pid.
      const owner = c.process?.pid ?? c.threads.find((t) => t.tid === pid)?.tid;
      if (owner !== pid) return null;
      return signalName(c.signal?.signo ?? c.threads[0]?.cursig ?? null) ?? "SIGABRT";
    } finally {
      await c.close();
    }
  } catch {
    return null;
  }
}

/** The binary facts capture needs for a crashed descendant: its own executable, through the kept fd. */
export async function descendantBinary(
  p: Descendant,
  layout: StoreLayout | null,
  logger?: Logger,
): Promise<NonNullable<CrashFacts["binary"]> | null> {
  const path = p.exe.replace(/ \(deleted\)$/, "");
  if (p.unseen) {
    // Known from its core only: its file, if it still exists (the build ID comparison says
    // whether it is still the same program); `go run`'s is already deleted.
    // With an fd held on it (the linker's output), its file need not exist any more.
    const source = p.linkedFd != null ? `/proc/self/fd/${p.linkedFd}` : path;
    try {
      const identity = { ...(await readBinaryIdentity(source)), path };
      if (!identity.isElf) return { path, identity: null };
      const a = layout ? await archiveBinary(layout, source) : null;
      return { path, identity, ...(a ? { archived: a.path, sha256: a.sha256 } : {}) };
    } catch {
      return { path, identity: null };
    }
  }
  if (!p.isGo || p.exeFd === null) return null;
  let binary: NonNullable<CrashFacts["binary"]> = { path, identity: p.identity };
  if (layout)
    try {
      // /proc/self/fd/N opens the inode itself, even once `go run` has unlinked the file.
      const a = await archiveBinary(layout, `/proc/self/fd/${p.exeFd}`);
      binary = { ...binary, archived: a.path, sha256: a.sha256 };
    } catch (e) {
      logger?.warn((e as HotdumpError).shortMessage ?? String(e));
    }
  return binary;
}

/** The process a core belongs to, when it was in `tree`'s process group and is not a known Go program. */
async function unseenFromCore(
  path: string,
  tree: Descendant[],
  window: { startedAt: Date; endedAt: Date },
): Promise<{ process: Descendant; signal: NodeJS.Signals } | null> {
  try {
    const c = await openCore(path);
    try {
      const info = c.process;
      if (!info) return null;
      // Seen only between fork and exec (still the `go` or `sh` that forked it), or not at all.
      // pr_ppid is the tid of the parent *thread* that forked (fill_psinfo uses task_pid_vnr of
      // real_parent: measured, a `go run` child's pr_ppid was a thread of go, not its pid), so
      // the tree is recognised by process group, which a fork inherits.
      const known = tree.find((d) => d.pid === info.pid);
      if (known ? known.isGo && !isToolchain(known) : !tree.some((d) => d.pgrp === info.pgrp)) return null;
      // The executable is the first file mapped (NT_FILE lists mappings by address; a Go binary's
      // text comes first); AT_EXECFN is the path it was exec'd as.
      const exe = c.files[0]?.path ?? c.execfn ?? info.fname;
      const at = window.endedAt.getTime();
      const process: Descendant = {
        pid: info.pid,
        ppid: info.ppid,
        pgrp: info.pgrp,
        startTime: 0,
        argv: info.psargs ? info.psargs.split(" ") : [info.fname],
        exe,
        exeFd: null,
        identity: null,
        isGo: false,
        snapshot: null,
        firstSeen: window.startedAt.getTime(),
        lastSeen: at,
        gone: true,
        unseen: true,
      };
      return { process, signal: signalName(c.signal?.signo ?? c.threads[0]?.cursig ?? null) ?? "SIGABRT" };
    } finally {
      await c.close();
    }
  } catch {
    return null;
  }
}
