/**
 * A Delve session: `dlv core BIN CORE` (a post-mortem) or `dlv attach PID` (a live process, for a
 * snapshot), headless in its own process group, one JSON-RPC connection to it, typed calls, and a
 * close() that detaches without killing, then ends dlv.
 */
import { connect } from "node:net";

import { type HotdumpError, isHotdumpError } from "../../errors.js";
import { type Child, startChild, withParentDeathSignal } from "../../util/child.js";
import { findOnPath } from "../../util/which.js";
import type { GetVersionOut, RpcMethod, RpcMethods } from "./delveProtocol.js";
import { dlvAttachFailed, dlvNotFound, dlvOpenFailed, dlvTimeout } from "./errors.js";
import { installedDelve } from "./install.js";
import { type CallOptions, createRpcConnection, type RpcConnection } from "./rpc.js";

/** What Delve opens: a core with the binary that produced it, or a running process. */
type DelveTarget = { binary: string; core: string } | { pid: number };

export type DelveSessionOptions = DelveTarget & {
  /** Default: $HOTDUMP_DLV, then `dlv` on PATH, then the Go bin directory (`go env GOBIN GOPATH`). */
  dlvPath?: string;
  /** Per-call timeout and the start timeout (ms, default 30 s). */
  timeoutMs?: number;
};

export interface DelveSession {
  readonly version: GetVersionOut;
  /** Version mismatches and Delve's own warnings, one line each, for Report.warnings. */
  readonly warnings: string[];
  readonly pid: number | undefined;
  call<M extends RpcMethod>(
    method: M,
    params: RpcMethods[M][0],
    opts?: CallOptions,
  ): Promise<RpcMethods[M][1]>;
  /** Delve's recent stderr. */
  stderrTail(): string;
  /** Detach, then kill the group if it has not exited; idempotent. */
  close(): Promise<void>;
}

const LISTENING = /API server listening at: (\S+):(\d+)/;

/** Where dlv is: an explicit path wins, then $HOTDUMP_DLV, PATH, the Go bin directory. */
export function resolveDlvPath(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.HOTDUMP_DLV) return process.env.HOTDUMP_DLV;
  return findOnPath("dlv") ?? installedDelve() ?? "dlv";
}

export async function createDelveSession(opts: DelveSessionOptions): Promise<DelveSession> {
  const dlv = resolveDlvPath(opts.dlvPath);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const site = new Error("createDelveSession");
  // --check-go-version=false: Delve would refuse a Go outside its supported range; a partial
  // analysis with a clear warning (added below from GetVersion) is worth more than none.
  const dlvArgv = [
    dlv,
    ...("pid" in opts ? ["attach", String(opts.pid)] : ["core", opts.binary, opts.core]),
    "--headless",
    "--api-version=2",
    "--listen=127.0.0.1:0",
    "--check-go-version=false",
  ];
  // A hotdump SIGKILLed mid-analysis left dlv listening on loopback forever (test/faults.test.ts),
  // and an attached one would keep the service stopped under ptrace: PR_SET_PDEATHSIG through
  // setpriv ends it with us (the kernel then detaches its tracee, which runs on). Only for a dlv known to exist, so a missing
  // one still fails with ENOENT from spawn (dlvNotFound), not with setpriv's exit status.
  const argv = withParentDeathSignal(dlvArgv);
  const child = startChild(argv[0]!, argv.slice(1), {
    detached: true,
    tailBytes: 32 * 1024,
    env: { ...process.env, TERM: "dumb" },
  });
  const stderrTail = () => child.stderrTail.toString().trim();
  let rpc: RpcConnection | undefined;
  try {
    const port = await waitForListening(child, opts, timeoutMs, site);
    if (port === "not-found") throw dlvNotFound(dlv, (await child.stopped).error);
    rpc = await connectTo(port, timeoutMs, stderrTail);
    const conn = rpc;
    // dlv prints the listening line before it opens the core (service/rpccommon Run: the
    // listener exists first, debugger.New runs after), so a core it cannot open shows up
    // here as the process exiting while the first call waits.
    const version = await raceExit(child, conn.call("GetVersion", {}, { timeoutMs }), opts, stderrTail, true);
    const warnings = versionWarnings(version);
    warnings.push(...delveWarnings(stderrTail()));
    let closing: Promise<void> | undefined;
    return {
      version,
      warnings,
      pid: child.pid,
      stderrTail,
      call: (method, params, callOpts) =>
        raceExit(child, conn.call(method, params, callOpts), opts, stderrTail, false),
      close() {
        closing ??= shutdown(child, conn, "pid" in opts ? 10_000 : 2000);
        return closing;
      },
    };
  } catch (e) {
    rpc?.destroy("session failed to start");
    // dlv may exit between printing its port and our connect (ECONNREFUSED): that is a core
    // it could not open, and its stderr says why.
    if (!isHotdumpError(e)) {
      const end = await Promise.race([
        child.stopped,
        new Promise<null>((r) => setTimeout(() => r(null), 500)),
      ]);
      if (end && !end.killed) {
        await child.stop({ signal: "SIGKILL" });
        throw openFailed(opts, firstErrorLine(stderrTail()), stderrTail(), e);
      }
    }
    await child.stop({ signal: "SIGKILL" });
    throw e;
  }
}

/** Delve could not open what it was given; `reason` is its own last words. */
const openFailed = (opts: DelveTarget, reason: string, stderrTail: string, cause?: unknown) =>
  "pid" in opts
    ? dlvAttachFailed(opts.pid, reason, stderrTail, cause)
    : dlvOpenFailed(opts.binary, opts.core, reason, stderrTail, cause);

async function shutdown(child: Child, conn: RpcConnection, detachMs: number): Promise<void> {
  if (!child.exited) {
    // Kill:false: behind a core there is no process and Detach just makes dlv exit; an attached
    // process is let go and runs on.
    await conn.call("Detach", { Kill: false }, { timeoutMs: detachMs }).catch(() => undefined);
  }
  conn.destroy("session closed");
  const timer = setTimeout(() => void child.stop({ signal: "SIGKILL" }), 2000);
  await child.stopped.finally(() => clearTimeout(timer));
}

/** The port from dlv's "API server listening at" line, raced against exit and a timeout. */
function waitForListening(
  child: Child,
  opts: DelveSessionOptions,
  timeoutMs: number,
  site: Error,
): Promise<number | "not-found"> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (c: Buffer) => {
      seen += c.toString("utf8");
      const m = LISTENING.exec(seen);
      if (m) done(() => resolve(Number(m[2])));
    };
    const timer = setTimeout(
      () =>
        done(() =>
          reject(dlvTimeout("the start of its API server", timeoutMs, site, child.stderrTail.toString())),
        ),
      timeoutMs,
    );
    const done = (f: () => void) => {
      clearTimeout(timer);
      child.proc.stdout?.off("data", onData);
      f();
    };
    child.proc.stdout?.on("data", onData);
    void child.stopped.then((end) => {
      if (end.error?.code === "ENOENT" || end.error?.code === "EACCES") done(() => resolve("not-found"));
      else {
        const tail = child.stderrTail.toString();
        done(() => reject(openFailed(opts, firstErrorLine(tail), tail, site)));
      }
    });
  });
}

function connectTo(port: number, timeoutMs: number, context: () => string): Promise<RpcConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(createRpcConnection(socket, { timeoutMs, context }));
    });
  });
}

/**
 * A call that also fails when dlv exits: then the error says why dlv ended, in Delve's words
 * (for example `unrecognized core format`, or a wrong binary's missing symbols).
 */
async function raceExit<T>(
  child: Child,
  call: Promise<T>,
  opts: DelveSessionOptions,
  stderrTail: () => string,
  opening: boolean,
): Promise<T> {
  try {
    return await call;
  } catch (e) {
    const err = e as HotdumpError;
    if (err.code === "E_DLV_CLOSED" || err.code === "E_DLV_TIMEOUT") {
      // Give a dying dlv a moment so its last stderr lines are in the tail.
      const end = await Promise.race([
        child.stopped,
        new Promise<null>((r) => setTimeout(() => r(null), 500)),
      ]);
      if (end && !end.killed && opening)
        throw openFailed(opts, firstErrorLine(stderrTail()), stderrTail(), err);
    }
    throw err;
  }
}

/** Delve's last non-warning stderr line: its reason for giving up. */
function firstErrorLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^(API server listening|Warning:|WARNING:)/.test(l));
  const last = lines.at(-1) ?? "dlv exited without saying why";
  // Delve prints a whole ELF header struct before "is not a core file" when given a binary.
  return last.length > 200 ? `…${last.slice(-160)}` : last;
}

function delveWarnings(stderr: string): string[] {
  return stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^(Warning:|WARNING:)/.test(l))
    .map((l) => `Delve: ${l}`);
}

/** "go1.26.8", "1.25.0" or Delve's "Go cmd/compile go1.26.8" → [1, 26, 8]; null when unparsable. */
function parseGoVersion(v: string): [number, number, number] | null {
  const m = /(?:^|go)(\d+)\.(\d+)(?:\.(\d+))?/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/**
 * Delve supports a window of Go versions (MinSupportedVersionOfGo..MaxSupportedVersionOfGo in
 * GetVersion); outside it, it refuses unless --check-go-version=false and then reads runtime
 * structures by guesswork, so say so in the report.
 */
export function versionWarnings(v: GetVersionOut): string[] {
  const target = parseGoVersion(v.TargetGoVersion);
  const min = parseGoVersion(v.MinSupportedVersionOfGo);
  const max = parseGoVersion(v.MaxSupportedVersionOfGo);
  if (!target) return v.TargetGoVersion ? [] : ["Delve could not tell the target's Go version"];
  const minor = (x: [number, number, number]) => x[0] * 1000 + x[1];
  if (min && minor(target) < minor(min))
    return [
      `the core's Go (${v.TargetGoVersion}) is older than Delve ${v.DelveVersion} supports (${v.MinSupportedVersionOfGo} to ${v.MaxSupportedVersionOfGo}): goroutines and values may be wrong; use an older Delve`,
    ];
  if (max && minor(target) > minor(max))
    return [
      `the core's Go (${v.TargetGoVersion}) is newer than Delve ${v.DelveVersion} supports (${v.MinSupportedVersionOfGo} to ${v.MaxSupportedVersionOfGo}): goroutines and values may be wrong; upgrade Delve`,
    ];
  return [];
}
