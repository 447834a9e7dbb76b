/**
 * Every process hotdump started, and every process those started: `go run .`, `sh -c ./server`, a
 * wrapper script or `make run` put the Go program one or more forks below the child hotdump
 * spawned, so its pid, its binary and its end are not the child's.
 *
 * Discovery polls /proc/PID/task/TID/children from the root down (Linux ≥ 3.5 with
 * CONFIG_PROC_CHILDREN, on in Debian's and Ubuntu's kernels), plus this process's own children,
 * where orphans land once hotdump is their subreaper. For each Go program seen (an ELF with Go
 * build info), an fd is opened on /proc/PID/exe: it keeps the inode readable after `go run`
 * deletes its /tmp/go-build… copy, which it does as soon as the program ends (Go 1.26: the path
 * no longer existed when exec finished, while the copy read through the fd had the build ID of
 * the core; test/exec-descendants.test.ts checks both on every run).
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { type ProcessSnapshot, snapshotProcess, TRACER_MAIN_PATH } from "../capture/index.js";
import { type BinaryIdentity, readBinaryIdentity } from "../elf/index.js";
import { signalName } from "../util/child.js";
import { becomeSubreaper, decodeWaitStatus, reapChild } from "../util/native.js";
import { readProcText } from "../util/procfs.js";

export interface ProcessEndSeen {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** "reaped": hotdump collected it as subreaper; "zombie": read from /proc/PID/stat before its parent did. */
  via: "reaped" | "zombie";
}

export interface Descendant {
  pid: number;
  ppid: number;
  /** Process group (/proc/PID/stat field 5). */
  pgrp: number;
  /** Clock ticks since boot (/proc/PID/stat field 22): tells a reused pid from the process seen before. */
  startTime: number;
  argv: string[];
  /** readlink /proc/PID/exe as last seen (" (deleted)" once `go run` removed it). */
  exe: string;
  /** An fd on the executable, for Go programs: readable after the file is deleted or replaced. */
  exeFd: number | null;
  /** For a program known only from its core: the tracker's fd on the linker output it ran (tracker-owned). */
  linkedFd?: number | null;
  identity: BinaryIdentity | null;
  isGo: boolean;
  snapshot: ProcessSnapshot | null;
  firstSeen: number;
  lastSeen: number;
  gone: boolean;
  end?: ProcessEndSeen;
  /** Known only from its core: it ended before a poll could see it. */
  unseen?: boolean;
}

export interface DescendantTracker {
  readonly rootPid: number;
  /** Every process seen, the root included, in order of discovery. */
  list(): Descendant[];
  /** One discovery pass now (also run every `intervalMs`); waits for pending identity reads. */
  poll(): Promise<void>;
  /** Stop polling; close every fd except those of `keep`. */
  stop(keep?: readonly Descendant[]): Promise<void>;
  /** Close the fds kept by stop(). */
  release(): void;
  /**
   * An fd on a program the Go linker wrote for this tree (`go run`'s `$WORK/b001/exe/NAME`), held
   * from while the linker ran: the program may crash before any pass sees it, and `go run` deletes
   * the file as soon as it ends. Open until release().
   */
  linkedOutput(path: string): number | null;
}

interface StatFields {
  ppid: number;
  pgrp: number;
  state: string;
  startTime: number;
  exitCode: number | null;
}

/** /proc/PID/stat: the comm field may hold spaces and parentheses, so fields are counted after the last ')'. */
function readStat(pid: number): StatFields | null {
  try {
    const s = readProcText(`/proc/${pid}/stat`);
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); field N is rest[N - 3]; exit_code is field 52 (since Linux 3.5).
    const exit = rest[49];
    return {
      state: rest[0] ?? "?",
      ppid: Number(rest[1]),
      pgrp: Number(rest[2]),
      startTime: Number(rest[19]),
      exitCode: exit === undefined ? null : Number(exit),
    };
  } catch {
    return null;
  }
}

/**
 * A process's children: each thread has its own list (a Go program forks from any of its threads).
 * Of this process only the main thread's: libuv spawns from it, and an orphan adopted by this
 * process as subreaper gets the thread that spawned its ancestor as parent (kernel/exit.c,
 * find_new_reaper), so the other threads (V8's, libuv's pool) never have children.
 */
function childrenOf(pid: number | "self"): number[] {
  const out: number[] = [];
  let tasks: string[];
  if (pid === "self") tasks = [String(process.pid)];
  else
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      return out;
    }
  const proc = pid === "self" ? process.pid : pid;
  for (const t of tasks) {
    try {
      for (const c of readProcText(`/proc/${proc}/task/${t}/children`).split(" "))
        if (c.trim()) out.push(Number(c));
    } catch {
      // the task ended meanwhile
    }
  }
  return out;
}

function decodeStatus(status: number): { exitCode: number | null; signal: NodeJS.Signals | null } {
  const w = decodeWaitStatus(status);
  return { exitCode: w.exitCode, signal: signalName(w.signal) };
}

/**
 * Closing an fd hotdump holds on a program never ends hotdump: a crash being captured matters more
 * than a bookkeeping slip (a double close was once an EBADF that ended `exec` with status 70).
 */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** Ended Go programs whose fd is kept for a crash found late (a long-running script may start many). */
const MAX_GONE_GO = 16;
/** How long the tree must stay unchanged before passes slow to idleIntervalMs. */
const SETTLE_MS = 3000;
/** And before they slow to restIntervalMs. */
const REST_MS = 30_000;

interface TrackOptions {
  /** While the tree changes (and for SETTLE_MS after any change or the start). */
  intervalMs?: number;
  /** Once the tree has not changed for SETTLE_MS: a running service's tree mostly stays put. */
  idleIntervalMs?: number;
  /** Once it has not changed for REST_MS (default: idleIntervalMs). */
  restIntervalMs?: number;
  subreaper?: boolean;
  /** Each process found to be a Go program, called as soon as its fd is held (d.exeFd is open). */
  onGo?: (d: Descendant) => void;
}

export function trackDescendants(rootPid: number, opts: TrackOptions = {}): DescendantTracker {
  if (opts.subreaper !== false) becomeSubreaper();
  const tree = new ProcessTree(rootPid, opts);
  // 20 ms: a program must live that long to be seen while the tree is changing (`go run` building,
  // a script starting its server). Once nothing has changed for SETTLE_MS the passes slow down:
  // a pass costs 0.2-1 ms (bench/descendants.mjs), and every 50 ms that was 2% of a core for an
  // idle `hotdump dev` (22-26 clock ticks in 10 s against 5-7 without the tracker). A process that
  // appears later and dies before the next slow pass is still found by its core or its traceback.
  const fastMs = opts.intervalMs ?? 20;
  const idleMs = Math.max(fastMs, opts.idleIntervalMs ?? fastMs);
  const restMs = Math.max(idleMs, opts.restIntervalMs ?? idleMs);
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    tree.pass();
    if (tree.stopped) return;
    const still = Date.now() - tree.changedAt;
    timer = setTimeout(tick, still < SETTLE_MS ? fastMs : still < REST_MS ? idleMs : restMs);
    timer.unref();
  };
  tick();
  return {
    rootPid,
    list: () => tree.list(),
    async poll() {
      tree.pass();
      await tree.identified();
    },
    async stop(keep = []) {
      clearTimeout(timer);
      await tree.stop(keep);
    },
    linkedOutput: (path) => tree.linked.fdOf(path),
    release: () => tree.release(),
  };
}

/** The processes seen under the root, their Go identity, and what is kept of those that ended. */
class ProcessTree {
  private readonly seen = new Map<number, Descendant>();
  private readonly order: Descendant[] = [];
  /** Go-ness by executable inode: `go build` runs the same compile binary hundreds of times. */
  private readonly byInode = new Map<string, Promise<BinaryIdentity | null>>();
  private readonly pending = new Set<Promise<void>>();
  private readonly identifying = new Set<Descendant>();
  private kept: Descendant[] = [];
  readonly linked = new LinkerOutputs();
  stopped = false;
  changedAt = Date.now();

  constructor(
    private readonly rootPid: number,
    private readonly opts: TrackOptions,
  ) {}

  list(): Descendant[] {
    return [...this.order];
  }

  /** Settles once every identity read started so far is done. */
  async identified(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /** One discovery pass: the tree from the root down, then what ended since the last. */
  pass(): void {
    if (this.stopped) return;
    const now = Date.now();
    const queue: [number, number][] = [[this.rootPid, process.pid]];
    // Orphans adopted by this process as subreaper, once known as descendants.
    for (const c of childrenOf("self"))
      if (this.seen.has(c) && c !== this.rootPid) queue.push([c, process.pid]);
    const visited = new Set<number>();
    while (queue.length) {
      const [pid, ppid] = queue.shift()!;
      if (visited.has(pid) || !this.visit(pid, ppid, now)) continue;
      visited.add(pid);
      for (const c of childrenOf(pid)) queue.push([c, pid]);
    }
    this.linked.openAll();
    for (const d of this.seen.values())
      if (!visited.has(d.pid) && !d.gone) {
        this.changedAt = now;
        d.gone = true;
        this.seen.delete(d.pid);
      }
    this.forgetEnded();
  }

  /** Forget ended processes that are not Go, and all but the newest ended Go ones. */
  private forgetEnded(): void {
    let goneGo = 0;
    for (let i = this.order.length - 1; i >= 0; i--) {
      const d = this.order[i]!;
      if (!d.gone || d.pid === this.rootPid || this.identifying.has(d)) continue;
      if (d.isGo && ++goneGo <= MAX_GONE_GO) continue;
      if (d.exeFd !== null) closeQuietly(d.exeFd);
      d.exeFd = null;
      this.order.splice(i, 1);
    }
  }

  /** Records `pid`; false when it no longer exists. */
  private visit(pid: number, ppid: number, now: number): boolean {
    let d = this.seen.get(pid);
    const st = readStat(pid);
    if (d && st && st.startTime !== d.startTime) {
      d.gone = true; // the pid was reused
      this.seen.delete(pid);
      d = undefined;
    }
    if (!st) return false;
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      exe = "";
    }
    if (!d) d = this.discovered(pid, ppid, st, exe, now);
    else if (exe && exe !== d.exe && exe !== `${d.exe} (deleted)`) {
      // An exec (`exec ./server` in a script): a new program under the same pid.
      this.changedAt = now;
      d.exe = exe;
      d.isGo = false;
      d.identity = null;
      d.argv = readArgv(pid) ?? d.argv;
      this.identify(d);
    } else if (exe) d.exe = exe;
    d.lastSeen = now;
    if (st.state === "Z" && !d.end) this.takeEnd(d, st);
    return true;
  }

  private discovered(pid: number, ppid: number, st: StatFields, exe: string, now: number): Descendant {
    let snapshot: ProcessSnapshot | null = null;
    try {
      snapshot = snapshotProcess(pid);
    } catch {
      // gone
    }
    const d: Descendant = {
      pid,
      ppid,
      pgrp: st.pgrp,
      startTime: st.startTime,
      argv: readArgv(pid) ?? [],
      exe,
      exeFd: null,
      identity: null,
      isGo: false,
      snapshot,
      firstSeen: now,
      lastSeen: now,
      gone: false,
    };
    this.seen.set(pid, d);
    this.order.push(d);
    this.changedAt = now;
    this.linked.holdFor(d);
    if (exe) this.identify(d);
    return d;
  }

  /** A zombie's stat still holds its wait status (field 52); take it before its parent reaps it. */
  private takeEnd(d: Descendant, st: StatFields): void {
    if (st.exitCode !== null && !Number.isNaN(st.exitCode))
      d.end = { ...decodeStatus(st.exitCode), via: "zombie" };
    if (st.ppid === process.pid && d.pid !== this.rootPid) {
      const w = reapChild(d.pid);
      if (w) d.end = { exitCode: w.exitCode, signal: signalName(w.signal), via: "reaped" };
    }
  }

  /** Is it a Go program? An fd on its exe is opened now, kept if so (readable once deleted). */
  private identify(d: Descendant): void {
    let fd: number;
    try {
      fd = openSync(`/proc/${d.pid}/exe`, "r");
    } catch {
      return; // gone, or a kernel thread
    }
    const id = this.identityOf(fd);
    if (!id) return;
    const exeAtOpen = d.exe;
    const p = id.then((identity) => {
      // The process exec'd something else meanwhile: that exe has its own pass.
      if (identity && d.exe === exeAtOpen && !this.stopped)
        this.isGo(d, fd, { ...identity, path: exeAtOpen.replace(/ \(deleted\)$/, "") });
      else closeQuietly(fd);
    });
    this.pending.add(p);
    this.identifying.add(d);
    void p.finally(() => {
      this.pending.delete(p);
      this.identifying.delete(d);
    });
  }

  /** Its Go identity (null: not Go), read once per executable inode; null and fd closed if unreadable. */
  private identityOf(fd: number): Promise<BinaryIdentity | null> | null {
    let key: string;
    try {
      const st = fstatSync(fd);
      key = `${st.dev}:${st.ino}:${st.mtimeMs}`;
    } catch {
      closeQuietly(fd);
      return null;
    }
    let id = this.byInode.get(key);
    if (!id) {
      id = readBinaryIdentity(`/proc/self/fd/${fd}`).then(
        (i) => (i.isElf && (i.goBuildId !== null || i.goVersion !== null) ? i : null),
        () => null,
      );
      this.byInode.set(key, id);
    }
    return id;
  }

  private isGo(d: Descendant, fd: number, identity: BinaryIdentity): void {
    if (d.exeFd !== null) closeQuietly(d.exeFd);
    d.exeFd = fd;
    d.isGo = true;
    d.identity = identity;
    try {
      d.snapshot = snapshotProcess(d.pid);
    } catch {
      // it ended between the two reads; the first snapshot stays
    }
    try {
      this.opts.onGo?.(d);
    } catch {
      // a caller's bookkeeping never stops tracking
    }
  }

  /** Stop polling; close every fd except those of `keep`. */
  async stop(keep: readonly Descendant[]): Promise<void> {
    await this.identified();
    this.stopped = true;
    this.kept = [...keep];
    for (const d of this.order)
      if (d.exeFd !== null && !keep.includes(d)) {
        closeQuietly(d.exeFd);
        d.exeFd = null;
      }
  }

  release(): void {
    this.linked.closeAll();
    for (const d of this.kept)
      if (d.exeFd !== null) {
        closeQuietly(d.exeFd);
        d.exeFd = null;
      }
    this.kept = [];
  }
}

/** The linker's `-o` outputs seen in the tree, by path: an fd once the file exists (null until then). */
class LinkerOutputs {
  private readonly fds = new Map<string, number | null>();
  private static readonly MAX = 8;

  /** `d` is the Go linker: its output is held from now on. */
  holdFor(d: Descendant): void {
    if (d.argv[0] === undefined || !/(^|\/)link$/.test(d.argv[0])) return;
    const i = d.argv.indexOf("-o");
    const out = i >= 0 ? d.argv[i + 1] : undefined;
    if (!out?.startsWith("/") || this.fds.has(out)) return;
    if (this.fds.size >= LinkerOutputs.MAX) {
      const [oldest, fd] = this.fds.entries().next().value as [string, number | null];
      if (fd !== null) closeQuietly(fd);
      this.fds.delete(oldest);
    }
    this.fds.set(out, null);
  }

  openAll(): void {
    // The linker writes its output in place, so an fd opened while it still runs ends up on the
    // finished program (the same inode); retried each pass until the file exists.
    for (const [path, fd] of this.fds)
      if (fd === null)
        try {
          this.fds.set(path, openSync(path, "r"));
        } catch {
          // not created yet
        }
  }

  fdOf(path: string): number | null {
    return this.fds.get(path) ?? null;
  }

  closeAll(): void {
    for (const fd of this.fds.values()) if (fd !== null) closeQuietly(fd);
    this.fds.clear();
  }
}

function readArgv(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  } catch {
    return null; // gone
  }
}

/** The Go toolchain's own programs (go, compile, link, ...), which `go run` starts before the user's. */
/** Go's own tools, and hotdump's tracer (a Go child of a traced service): never the service. */
export const isToolchain = (d: Descendant) =>
  d.identity?.mainPath?.startsWith("cmd/") === true || d.identity?.mainPath === TRACER_MAIN_PATH;
