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
    const s = readFileSync(`/proc/${pid}/stat`, "latin1");
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

function childrenOf(pid: number | "self"): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, "latin1").split(" "))
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

export function trackDescendants(
  rootPid: number,
  opts: {
    /** While the tree changes (and for SETTLE_MS after any change or the start). */
    intervalMs?: number;
    /** Once the tree has not changed for SETTLE_MS: a running service's tree mostly stays put. */
    idleIntervalMs?: number;
    subreaper?: boolean;
    /** Each process found to be a Go program, called as soon as its fd is held (d.exeFd is open). */
    onGo?: (d: Descendant) => void;
  } = {},
): DescendantTracker {
  if (opts.subreaper !== false) becomeSubreaper();
  const seen = new Map<number, Descendant>();
  const order: Descendant[] = [];
  /** Go-ness by executable inode: `go build` runs the same compile binary hundreds of times. */
  const byInode = new Map<string, Promise<BinaryIdentity | null>>();
  const pending = new Set<Promise<void>>();
  const identifying = new Set<Descendant>();
  let stopped = false;
  let kept: Descendant[] = [];
  let changedAt = Date.now();
  /** The linker's `-o` outputs, by path: fd once the file exists (null until then). */
  const linked = new Map<string, number | null>();
  const MAX_LINKED = 8;
  const holdLinkerOutput = (d: Descendant) => {
    if (d.argv[0] === undefined || !/(^|\/)link$/.test(d.argv[0])) return;
    const i = d.argv.indexOf("-o");
    const out = i >= 0 ? d.argv[i + 1] : undefined;
    if (!out?.startsWith("/") || linked.has(out)) return;
    if (linked.size >= MAX_LINKED) {
      const [oldest, fd] = linked.entries().next().value as [string, number | null];
      if (fd !== null) closeQuietly(fd);
      linked.delete(oldest);
    }
    linked.set(out, null);
  };
  const openLinked = () => {
    // The linker writes its output in place, so an fd opened while it still runs ends up on the
    // finished program (the same inode); retried each pass until the file exists.
    for (const [path, fd] of linked)
      if (fd === null)
        try {
          linked.set(path, openSync(path, "r"));
        } catch {
          // not created yet
        }
  };
  const closeLinked = () => {
    for (const fd of linked.values()) if (fd !== null) closeQuietly(fd);
    linked.clear();
  };

  const identify = (d: Descendant) => {
    let fd: number;
    try {
      fd = openSync(`/proc/${d.pid}/exe`, "r");
    } catch {
      return; // gone, or a kernel thread
    }
    let key: string;
    try {
      const st = fstatSync(fd);
      key = `${st.dev}:${st.ino}:${st.mtimeMs}`;
    } catch {
      closeQuietly(fd);
      return;
    }
    let id = byInode.get(key);
    if (!id) {
      id = readBinaryIdentity(`/proc/self/fd/${fd}`).then(
        (i) => (i.isElf && (i.goBuildId !== null || i.goVersion !== null) ? i : null),
        () => null,
      );
      byInode.set(key, id);
    }
    const exeAtOpen = d.exe;
    const p = id.then((identity) => {
      // The process exec'd something else meanwhile: that exe has its own pass.
      if (identity && d.exe === exeAtOpen && !stopped) {
        if (d.exeFd !== null) closeQuietly(d.exeFd);
        d.exeFd = fd;
        d.isGo = true;
        d.identity = { ...identity, path: exeAtOpen.replace(/ \(deleted\)$/, "") };
        try {
          d.snapshot = snapshotProcess(d.pid);
        } catch {
          // it ended between the two reads; the first snapshot stays
        }
        try {
          opts.onGo?.(d);
        } catch {
          // a caller's bookkeeping never stops tracking
        }
      } else closeQuietly(fd);
    });
    pending.add(p);
    identifying.add(d);
    void p.finally(() => {
      pending.delete(p);
      identifying.delete(d);
    });
  };

  /** Records `pid`; false when it no longer exists. */
  const visit = (pid: number, ppid: number, now: number): boolean => {
    let d = seen.get(pid);
    const st = readStat(pid);
    if (d && st && st.startTime !== d.startTime) {
      d.gone = true; // the pid was reused
      seen.delete(pid);
      d = undefined;
    }
    if (!st) return false;
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      exe = "";
    }
    if (!d) {
      let argv: string[] = [];
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
      } catch {
        // gone
      }
      let snapshot: ProcessSnapshot | null = null;
      try {
        snapshot = snapshotProcess(pid);
      } catch {
        // gone
      }
      d = {
        pid,
        ppid,
        pgrp: st.pgrp,
        startTime: st.startTime,
        argv,
        exe,
        exeFd: null,
        identity: null,
        isGo: false,
        snapshot,
        firstSeen: now,
        lastSeen: now,
        gone: false,
      };
      seen.set(pid, d);
      order.push(d);
      changedAt = now;
      holdLinkerOutput(d);
      if (exe) identify(d);
    } else if (exe && exe !== d.exe && exe !== `${d.exe} (deleted)`) {
      // An exec (`exec ./server` in a script): a new program under the same pid.
      changedAt = now;
      d.exe = exe;
      d.isGo = false;
      d.identity = null;
      try {
        d.argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
      } catch {
        // gone
      }
      identify(d);
    } else if (exe) d.exe = exe;
    d.lastSeen = now;
    if (st.state === "Z" && !d.end) {
      // A zombie's stat still holds its wait status (field 52); take it before its parent reaps it.
      if (st.exitCode !== null && !Number.isNaN(st.exitCode))
        d.end = { ...decodeStatus(st.exitCode), via: "zombie" };
      if (st.ppid === process.pid && pid !== rootPid) {
        const w = reapChild(pid);
        if (w) d.end = { exitCode: w.exitCode, signal: signalName(w.signal), via: "reaped" };
      }
    }
    return true;
  };

  const poll = () => {
    if (stopped) return;
    const now = Date.now();
    const queue: [number, number][] = [[rootPid, process.pid]];
    // Orphans adopted by this process as subreaper, once known as descendants.
    for (const c of childrenOf("self")) if (seen.has(c) && c !== rootPid) queue.push([c, process.pid]);
    const visited = new Set<number>();
    while (queue.length) {
      const [pid, ppid] = queue.shift()!;
      if (visited.has(pid) || !visit(pid, ppid, now)) continue;
      visited.add(pid);
      for (const c of childrenOf(pid)) queue.push([c, pid]);
    }
    openLinked();
    for (const d of seen.values())
      if (!visited.has(d.pid) && !d.gone) {
        changedAt = now;
        d.gone = true;
        seen.delete(d.pid);
      }
    // Forget ended processes that are not Go, and all but the newest ended Go ones.
    let goneGo = 0;
    for (let i = order.length - 1; i >= 0; i--) {
      const d = order[i]!;
      if (!d.gone || d.pid === rootPid || identifying.has(d)) continue;
      if (d.isGo && ++goneGo <= MAX_GONE_GO) continue;
      if (d.exeFd !== null) closeQuietly(d.exeFd);
      d.exeFd = null;
      order.splice(i, 1);
    }
  };

  // 20 ms: a program must live that long to be seen while the tree is changing (`go run` building,
  // a script starting its server). Once nothing has changed for SETTLE_MS the passes slow down:
  // a pass costs 0.2-1 ms (bench/descendants.mjs), and every 50 ms that was 2% of a core for an
  // idle `hotdump dev` (22-26 clock ticks in 10 s against 5-7 without the tracker). A process that
  // appears later and dies before the next slow pass is still found by its core or its traceback.
  const fastMs = opts.intervalMs ?? 20;
  const idleMs = Math.max(fastMs, opts.idleIntervalMs ?? fastMs);
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    poll();
    if (stopped) return;
    timer = setTimeout(tick, Date.now() - changedAt < SETTLE_MS ? fastMs : idleMs);
    timer.unref();
  };
  tick();

  return {
    rootPid,
    list: () => [...order],
    async poll() {
      poll();
      while (pending.size) await Promise.all([...pending]);
    },
    async stop(keep = []) {
      clearTimeout(timer);
      while (pending.size) await Promise.all([...pending]);
      stopped = true;
      kept = [...keep];
      for (const d of order)
        if (d.exeFd !== null && !keep.includes(d)) {
          closeQuietly(d.exeFd);
          d.exeFd = null;
        }
    },
    linkedOutput(path) {
      return linked.get(path) ?? null;
    },
    release() {
      closeLinked();
      for (const d of kept)
        if (d.exeFd !== null) {
          closeQuietly(d.exeFd);
          d.exeFd = null;
        }
      kept = [];
    },
  };
}

/** The Go toolchain's own programs (go, compile, link, ...), which `go run` starts before the user's. */
/** Go's own tools, and hotdump's tracer (a Go child of a traced service): never the service. */
export const isToolchain = (d: Descendant) =>
  d.identity?.mainPath?.startsWith("cmd/") === true || d.identity?.mainPath === TRACER_MAIN_PATH;
