/**
 * After a child died: did the kernel dump a core, where is it, and if not, why not.
 * Every "no core" outcome is a value with a stable code, since it is an expected state of a
 * machine (limit 0, a pipe hotdump cannot read), not a failure of hotdump.
 *
 * File patterns need no waiting. The kernel writes the core from the dying task itself, in
 * do_coredump() before do_exit(), so the parent's wait() returns only after the file is complete.
 * Measured here (Linux 6.18, Go 1.26, pattern /tmp/.../core.%p): a program holding 400 MB crashed
 * with SIGABRT; at Node's 'exit' event its core was 462,123,008 bytes / 823,256 blocks and 1 s
 * later it was exactly the same (test/capture.pattern.test.ts repeats both checks on every run).
 * Pipe handlers finish asynchronously. The kernel starts the helper and writes the core into its
 * stdin; the dying task blocks on that 64 KiB pipe, so it cannot exit before the helper has read
 * nearly all of it, but whatever the helper does next (compress, store, index in the journal)
 * happens after the exit; with core_pipe_limit > 0 the task also waits for the helper to close
 * stdin, never for its work. Measured here with a fake helper `cat > F.part; sleep 0.5; mv F.part F`:
 * a helper that sleeps 0.3 s *before* reading delayed the exit and the copy was complete
 * (41,840,640 bytes) at exit; with the sleep after reading, F did not exist at exit and appeared
 * ~0.5 s later. So handler outcomes are polled, bounded by `waitMs`.
 */
import { accessSync, constants, existsSync, readdirSync, type Stats, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { signalNumber } from "../util/child.js";
import { findApportOutputs } from "./apport.js";
import { retrieveFromCoredumpctl } from "./coredumpctl.js";
import { isZero, type RlimitValue } from "./coreLimit.js";
import { type CoreLocation, type CorePathFacts, expectedCorePath, timesFit } from "./coreLocation.js";
import { type ParsedCorePattern, parseCorePattern } from "./corePattern.js";
import { type CoreSettings, readCoreSettings } from "./coreSettings.js";

/** Signals whose default action dumps core (signal(7), "Core"). */
export const CORE_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set<NodeJS.Signals>([
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGSEGV",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGSYS",
]);

/** The smallest core the ELF dumper writes: binfmt_elf's min_coredump is one page. */
const MIN_COREDUMP = 4096n;

type NoCoreCode =
  | "no-signal"
  | "sigkill"
  | "signal-no-core"
  | "limit-zero"
  | "limit-too-small"
  | "not-dumpable"
  | "dir-missing"
  | "dir-not-writable"
  | "needs-absolute-path"
  | "stale-file"
  | "file-never-appeared"
  | "pipe-unsupported"
  | "socket-unsupported"
  | "apport-no-core"
  | "coredumpctl-missing"
  | "coredumpctl-none"
  | "coredumpctl-timeout"
  | "coredumpctl-failed";

export interface CoreFound {
  found: true;
  path: string;
  /** Apparent size in bytes (holes included: see possiblyTruncated). */
  size: number;
  via: "file" | "systemd-coredump" | "apport";
  pattern: string;
  waitedMs: number;
  /** The child's RLIMIT_CORE soft limit when known: a core of exactly that size was cut short. */
  limit?: RlimitValue;
  /**
   * The core is larger than the child's finite RLIMIT_CORE, or systemd-coredump said truncated.
   * Measured (Linux 6.18, soft limit 1 MiB, a 41.5 MB Go core): the kernel stops writing data at
   * the limit but the file still gets its full apparent size (41,582,592 bytes, 628 KiB of blocks):
   * everything past the limit is holes reading as zeros. So a file size that matches the ELF
   * program headers does NOT prove a complete core; size > limit does prove a cut one.
   */
  possiblyTruncated: boolean;
}

export interface NoCore {
  found: false;
  code: NoCoreCode;
  /** One line for people, with the remedy. */
  reason: string;
  pattern: string;
  /** Where the core was expected, when the pattern is a file pattern. */
  expected?: string;
}

export type FindCoreResult = CoreFound | NoCore;

interface ChildExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface FindCoreOptions {
  facts: CorePathFacts;
  exit: ChildExit;
  /** Default: read now from /proc/sys/kernel. */
  settings?: CoreSettings;
  /** Where a core fetched from a handler is written. Default: a file in the OS temp dir. */
  retrieveTo?: string;
  /** Bound on waiting for an asynchronous handler (default 10 s). */
  waitMs?: number;
  coredumpctlBin?: string;
  apportDirs?: { crash: string; coredump: string };
}

export async function findCore(o: FindCoreOptions): Promise<FindCoreResult> {
  const settings = o.settings ?? readCoreSettings();
  const parsed = parseCorePattern(settings.pattern, settings.usesPid);
  const pattern = parsed.pattern;
  const no = (code: NoCoreCode, reason: string, expected?: string): NoCore => ({
    found: false,
    code,
    reason,
    pattern,
    ...(expected === undefined ? {} : { expected }),
  });
  const { exit, facts } = o;
  if (!exit.signal) {
    const hint =
      exit.exitCode === 2
        ? ": a Go panic exits 2 without a core unless GOTRACEBACK=crash is set"
        : "; only a fatal signal produces a core";
    return no("no-signal", `the process exited with status ${exit.exitCode}${hint}`);
  }
  if (exit.signal === "SIGKILL")
    return no(
      "sigkill",
      "the process was killed with SIGKILL (OOM killer, a timeout, kill -9): the kernel dumps no core for it",
    );
  if (!CORE_SIGNALS.has(exit.signal))
    return no("signal-no-core", `the process died of ${exit.signal}, whose default action dumps no core`);
  const f: CorePathFacts = { ...facts, signal: facts.signal ?? signalNumber(exit.signal) };

  switch (parsed.kind) {
    case "file":
      return findFileCore(parsed, f, settings, no);
    case "socket":
      return no(
        "socket-unsupported",
        `core sent to the socket ${parsed.socket}; hotdump cannot retrieve it: install hotdump's core handler (sudo hotdump doctor --fix) or run with --capture tracer`,
      );
    case "pipe":
      break;
  }
  const dest = o.retrieveTo ?? join(tmpdir(), `hotdump-core-${f.pid}-${Date.now()}`);
  const t0 = Date.now();
  if (parsed.handler === "systemd-coredump") {
    const r = await retrieveFromCoredumpctl({
      pid: f.nsPid ?? f.pid,
      since: f.startedAt,
      dest,
      timeoutMs: o.waitMs ?? 10_000,
      ...(o.coredumpctlBin ? { bin: o.coredumpctlBin } : {}),
    });
    if (!r.ok) return no(r.code, r.message);
    return {
      found: true,
      path: r.path,
      size: statSync(r.path).size,
      via: "systemd-coredump",
      pattern,
      waitedMs: r.waitedMs,
      possiblyTruncated: r.truncated,
    };
  }
  if (parsed.handler === "apport" && f.exe !== undefined && f.uid !== undefined) {
    const deadline = t0 + (o.waitMs ?? 10_000);
    let seen = findApportOutputs(f.exe, f.uid, f.pid, o.apportDirs);
    while (!seen.core && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      seen = findApportOutputs(f.exe, f.uid, f.pid, o.apportDirs);
    }
    if (seen.core) {
      const size = statSync(seen.core).size;
      return {
        found: true,
        path: seen.core,
        size,
        via: "apport",
        pattern,
        waitedMs: Date.now() - t0,
        possiblyTruncated: false,
      };
    }
    return no(
      "apport-no-core",
      seen.report
        ? `apport kept the core inside its report ${seen.report}: extract it with \`apport-unpack ${seen.report} DIR\` (DIR/CoreDump), or install hotdump's core handler (sudo hotdump doctor --fix) or run with --capture tracer`
        : "apport received the core and kept none (it ignores binaries that are not from a package): install hotdump's core handler (sudo hotdump doctor --fix) or run with --capture tracer",
    );
  }
  return no(
    "pipe-unsupported",
    `core piped to ${parsed.argv[0] ?? parsed.command}; hotdump cannot retrieve it: install hotdump's core handler (sudo hotdump doctor --fix) or run with --capture tracer`,
  );
}

function findFileCore(
  parsed: ParsedCorePattern & { kind: "file" },
  f: CorePathFacts,
  settings: CoreSettings,
  no: (code: NoCoreCode, reason: string, expected?: string) => NoCore,
): FindCoreResult {
  const loc = expectedCorePath(parsed, f);
  const shown = loc.kind === "exact" ? loc.path : loc.display;
  const hit = locate(loc, f);
  if (hit) {
    const limit = f.coreLimit;
    const possiblyTruncated = typeof limit === "bigint" && BigInt(hit.stat.size) > limit;
    return {
      found: true,
      path: hit.path,
      size: hit.stat.size,
      via: "file",
      pattern: settings.pattern,
      waitedMs: 0,
      ...(limit === undefined ? {} : { limit }),
      possiblyTruncated,
    };
  }
  return diagnoseMissing(loc, parsed, f, no, shown);
}

/** The file this crash produced: for a search, the match whose %t fits and whose mtime is closest to the end. */
function locate(loc: CoreLocation, f: CorePathFacts): { path: string; stat: Stats } | undefined {
  const fresh = (st: Stats) => st.isFile() && st.mtimeMs >= f.startedAt - 1000;
  if (loc.kind === "exact") {
    try {
      const st = statSync(loc.path);
      return fresh(st) ? { path: loc.path, stat: st } : undefined;
    } catch {
      return undefined;
    }
  }
  const found: { path: string; stat: Stats }[] = [];
  const walk = (dir: string, depth: number, times: number[]) => {
    const m = loc.components[depth];
    if (!m) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const r = m.regex.exec(name);
      if (!r) continue;
      const t = [...times];
      m.groups.forEach((spec, i) => {
        if (spec === "t") t.push(Number(r[i + 1]));
      });
      if (!timesFit(t, f)) continue;
      const path = join(dir, name);
      if (depth === loc.components.length - 1) {
        try {
          const st = statSync(path);
          if (fresh(st)) found.push({ path, stat: st });
        } catch {
          // raced with a removal
        }
      } else walk(path, depth + 1, t);
    }
  };
  walk(loc.root, 0, []);
  found.sort((a, b) => Math.abs(a.stat.mtimeMs - f.endedAt) - Math.abs(b.stat.mtimeMs - f.endedAt));
  return found[0];
}

function diagnoseMissing(
  loc: CoreLocation,
  parsed: ParsedCorePattern & { kind: "file" },
  f: CorePathFacts,
  no: (code: NoCoreCode, reason: string, expected?: string) => NoCore,
  shown: string,
): NoCore {
  const soft = f.coreLimit;
  if (isZero(soft))
    return no(
      "limit-zero",
      "no core: the process's RLIMIT_CORE was 0 (limit 0); start it with `ulimit -c unlimited` (hotdump exec does) or raise the hard limit",
      shown,
    );
  if (typeof soft === "bigint" && soft < MIN_COREDUMP)
    return no("limit-too-small", `no core: RLIMIT_CORE was ${soft} bytes, below one page`, shown);
  if (f.dumpable === 0)
    return no(
      "not-dumpable",
      "no core: the process was not dumpable (setuid/setgid/capabilities or prctl(PR_SET_DUMPABLE, 0))",
      shown,
    );
  const dir = loc.kind === "exact" ? dirname(loc.path) : loc.root;
  if (!existsSync(dir))
    return no(
      "dir-missing",
      `no core: the directory ${dir} from core_pattern does not exist; create it`,
      shown,
    );
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return no(
      "dir-not-writable",
      `no core: ${dir} is not writable (the kernel writes the core as the crashing user, uid ${f.uid ?? "?"})`,
      shown,
    );
  }
  if (parsed.relative && f.dumpable === 2)
    return no(
      "needs-absolute-path",
      "no core: a process dumped in suid_dumpable mode 2 only dumps to an absolute core_pattern",
      shown,
    );
  if (loc.kind === "exact" && existsSync(loc.path)) {
    const st = statSync(loc.path);
    const owned = f.uid === undefined || st.uid === f.uid;
    return no(
      "stale-file",
      `no new core: ${loc.path} is from an earlier crash (${new Date(st.mtimeMs).toISOString()})${
        owned ? "" : `, owned by uid ${st.uid}: the kernel will not overwrite another user's file`
      }; add %p to core_pattern so crashes do not share a name`,
      shown,
    );
  }
  return no(
    "file-never-appeared",
    `no core at ${shown}: the kernel wrote none (check \`dmesg\` for "coredump" lines, disk space, and the process's RLIMIT_CORE)`,
    shown,
  );
}
