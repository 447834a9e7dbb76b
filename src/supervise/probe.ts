/**
 * Readiness probes: when a new generation may take traffic (and the old one may stop).
 *
 * Kinds: `http://HOST:PORT/PATH` (GET, status 200-399 passes; plain HTTP only: the probe talks to
 * the process hotdump just started, on loopback, and a TLS handshake would test certificates, not
 * readiness; use `exec:curl -fsk https://...` for that), `tcp:HOST:PORT` (a connect succeeds),
 * `exec:COMMAND` (`sh -c`, exit status 0 passes), `log:REGEX` (a line of the program's output
 * matches), `alive:DURATION` (still running after DURATION; the default, `alive:1s`).
 * `{port}` in a probe is the generation's PORT (expandPort).
 *
 * Semantics (Kubernetes names, Kubernetes meaning where it has one):
 *  - the first attempt starts after initialDelaySeconds; an attempt starts every periodSeconds and
 *    fails if it takes longer than timeoutSeconds;
 *  - successThreshold consecutive passes make the generation ready;
 *  - before the first pass, failures only count against readyTimeoutMs (a service may take a while
 *    to bind); after a pass, failureThreshold consecutive failures end the wait as "failed";
 *  - `log` and `alive` are events, not polls: the first matching line, or the duration elapsing,
 *    makes the generation ready, and the thresholds do not apply;
 *  - every wait is raced against the process exiting, readyTimeoutMs and the abort signal.
 */
import { spawn } from "node:child_process";
import { request } from "node:http";
import { createConnection, createServer } from "node:net";
import {
  type ProbeMode,
  type ProbeSpec,
  type ProbeTiming,
  parseProbeSpec,
  probeSpecError,
  probeTimingDefaults,
} from "../config/index.js";

export type { ProbeMode, ProbeSpec, ProbeTiming };
export { parseProbeSpec, probeSpecError, probeTimingDefaults };

/** Replace every `{port}` (probe URLs, exec commands, env values). */
export function expandPort(text: string, port: number): string {
  return text.replaceAll("{port}", String(port));
}

/** A port free right now on 127.0.0.1 (bind :0, read, close). Another process may take it before
 * the service binds it; the window is the service's start time. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error("no port from bind(:0)"))));
    });
  });
}

export interface WaitReadyOptions {
  spec: ProbeSpec;
  timing: ProbeTiming;
  /** The generation's PORT, for `{port}`. */
  port: number;
  /** Subscribe to the program's output lines (stdout and stderr); returns the unsubscribe. Lines
   * printed before waitReady is called are not seen: call it right after starting the process. */
  onOutputLine: (listener: (line: string) => void) => () => void;
  /** Settles when the process ends. */
  exited: Promise<unknown>;
  readyTimeoutMs: number;
  abort?: AbortSignal;
  /** Extra environment for exec probes (PORT is set). */
  env?: NodeJS.ProcessEnv;
  /** Resolves at the service's READY=1 (probe kind `notify`). */
  notified?: Promise<void>;
  /** The local port an http/tcp attempt to HOST:PORT connects from, when the caller steers
   * connections by source port (steering.ts), or undefined for any. */
  localPortFor?: (host: string, port: number) => Promise<number | undefined>;
  /** The clock and timers of the ready timeout and the probe period (the ProcessHost's; default
   * this machine's), so the supervisor's unit tests drive them with their fake clock. */
  clock?: ProbeClock;
}

/** host.ts's ProcessHost satisfies it. */
interface ProbeClock {
  now(): number;
  after(ms: number, fn: () => void): { cancel(): void };
}

const systemClock: ProbeClock = {
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export type ReadyResult =
  | { ready: true; ms: number }
  | { ready: false; reason: "exited" | "timeout" | "failed" | "aborted"; detail: string };

type Stop = { stop: "exited" | "timeout" | "aborted" };

export async function waitReady(o: WaitReadyOptions): Promise<ReadyResult> {
  const clock = o.clock ?? systemClock;
  const t0 = clock.now();
  const elapsed = () => Math.round(clock.now() - t0);
  const cleanups: (() => void)[] = [];
  let lastWhy = "no probe attempt finished yet";

  // One promise that settles when waiting must end for a reason outside the probe.
  const stopped = new Promise<Stop>((resolve) => {
    o.exited.then(
      () => resolve({ stop: "exited" }),
      () => resolve({ stop: "exited" }),
    );
    const timer = clock.after(o.readyTimeoutMs, () => resolve({ stop: "timeout" }));
    cleanups.push(() => timer.cancel());
    if (o.abort) {
      if (o.abort.aborted) resolve({ stop: "aborted" });
      const onAbort = () => resolve({ stop: "aborted" });
      o.abort.addEventListener("abort", onAbort, { once: true });
      cleanups.push(() => o.abort?.removeEventListener("abort", onAbort));
    }
  });
  let timer: { cancel(): void } | undefined;
  cleanups.push(() => timer?.cancel());
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      timer = clock.after(ms, resolve);
    });
  const race = <T>(p: Promise<T>) => Promise.race([p, stopped]);
  const isStop = (v: unknown): v is Stop => typeof v === "object" && v !== null && "stop" in v;
  const notReady = (s: Stop): ReadyResult => ({
    ready: false,
    reason: s.stop,
    detail:
      s.stop === "exited"
        ? `the process exited before it was ready (last probe: ${lastWhy})`
        : s.stop === "timeout"
          ? `not ready after ${o.readyTimeoutMs} ms (last probe: ${lastWhy})`
          : "stopped waiting (aborted)",
  });

  try {
    const spec = o.spec;
    if (spec.kind === "log") {
      const matched = new Promise<"matched">((resolve) => {
        const off = o.onOutputLine((line) => {
          if (spec.pattern.test(line)) resolve("matched");
        });
        cleanups.push(off);
      });
      lastWhy = `no output line matched /${spec.pattern.source}/`;
      const r = await race(matched);
      return isStop(r) ? notReady(r) : { ready: true, ms: elapsed() };
    }
    if (spec.kind === "notify") {
      // The moment the service says so: no polling, no threshold.
      lastWhy = "no READY=1 on NOTIFY_SOCKET yet";
      const r = await race(o.notified ?? new Promise<never>(() => {}));
      return isStop(r) ? notReady(r) : { ready: true, ms: elapsed() };
    }
    if (spec.kind === "alive") {
      lastWhy = `alive for less than ${spec.ms} ms`;
      const r = await race(sleep(spec.ms));
      return isStop(r) ? notReady(r) : { ready: true, ms: elapsed() };
    }

    const t = o.timing;
    if (t.initialDelaySeconds > 0) {
      const r = await race(sleep(t.initialDelaySeconds * 1000));
      if (isStop(r)) return notReady(r);
    }
    let passes = 0;
    let failures = 0;
    let everPassed = false;
    for (;;) {
      const started = clock.now();
      const ctl = new AbortController();
      const r = await race(attempt(spec, o, t.timeoutSeconds * 1000, ctl.signal));
      ctl.abort(); // ends a hung exec/http/tcp attempt when the race was lost
      if (isStop(r)) return notReady(r);
      if (r.pass) {
        passes++;
        failures = 0;
        everPassed = true;
        lastWhy = "passed";
        if (passes >= t.successThreshold) return { ready: true, ms: elapsed() };
      } else {
        passes = 0;
        lastWhy = r.why;
        if (everPassed && ++failures >= t.failureThreshold)
          return {
            ready: false,
            reason: "failed",
            detail: `${failures} probe failures in a row after a pass (last: ${r.why})`,
          };
      }
      const wait = t.periodSeconds * 1000 - (clock.now() - started);
      if (wait > 0) {
        const s = await race(sleep(wait));
        if (isStop(s)) return notReady(s);
      }
    }
  } finally {
    for (const c of cleanups) c();
  }
}

export type Attempt = { pass: true } | { pass: false; why: string };

/** One probe attempt, as readiness makes them (liveness.ts repeats it while a generation serves). */
export function probeOnce(
  spec: ProbeSpec,
  o: Pick<WaitReadyOptions, "port" | "env" | "localPortFor">,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Attempt> {
  return attempt(spec, o, timeoutMs, signal);
}

function attempt(
  spec: ProbeSpec,
  o: Pick<WaitReadyOptions, "port" | "env" | "localPortFor">,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Attempt> {
  switch (spec.kind) {
    case "http": {
      const url = expandPort(spec.url, o.port);
      return localPort(o, url).then((lp) => httpAttempt(url, timeoutMs, signal, lp));
    }
    case "tcp": {
      const port = Number(expandPort(spec.port, o.port));
      return (o.localPortFor?.(spec.host, port) ?? Promise.resolve(undefined))
        .catch(() => undefined)
        .then((lp) => tcpAttempt(spec.host, port, timeoutMs, signal, lp));
    }
    case "exec":
      return execAttempt(
        expandPort(spec.command, o.port),
        { ...(o.env ?? process.env), PORT: String(o.port) },
        timeoutMs,
        signal,
      );
    default:
      return Promise.resolve({ pass: true });
  }
}

function localPort(o: Pick<WaitReadyOptions, "localPortFor">, url: string): Promise<number | undefined> {
  if (!o.localPortFor) return Promise.resolve(undefined);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.resolve(undefined);
  }
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return o.localPortFor(host, Number(u.port || 80)).catch(() => undefined);
}

function httpAttempt(
  url: string,
  timeoutMs: number,
  signal: AbortSignal,
  localPort?: number,
): Promise<Attempt> {
  return new Promise((resolve) => {
    // agent: false: one fresh connection per attempt, so a kept-alive socket to a previous
    // generation can never answer for this one.
    const opts = {
      method: "GET",
      agent: false,
      timeout: timeoutMs,
      signal,
      ...(localPort ? { localPort } : {}),
    };
    const req = request(url, opts, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(
        code >= 200 && code < 400 ? { pass: true } : { pass: false, why: `GET ${url}: status ${code}` },
      );
    });
    req.once("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once("error", (e: NodeJS.ErrnoException) =>
      resolve({ pass: false, why: `GET ${url}: ${e.code ?? e.message}` }),
    );
    req.end();
  });
}

function tcpAttempt(
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
  localPort?: number,
): Promise<Attempt> {
  return new Promise((resolve) => {
    const c = createConnection({
      host,
      port,
      timeout: timeoutMs,
      signal,
      ...(localPort ? { localPort } : {}),
    });
    const done = (a: Attempt) => {
      c.destroy();
      resolve(a);
    };
    c.once("connect", () => done({ pass: true }));
    c.once("timeout", () =>
      done({ pass: false, why: `connect ${host}:${port}: no answer within ${timeoutMs} ms` }),
    );
    c.once("error", (e: NodeJS.ErrnoException) =>
      done({ pass: false, why: `connect ${host}:${port}: ${e.code ?? e.message}` }),
    );
  });
}

function execAttempt(
  command: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Attempt> {
  return new Promise((resolve) => {
    // Own process group, so a timeout kills what the command started too (curl under sh).
    const p = spawn("/bin/sh", ["-c", command], { stdio: "ignore", env, detached: true });
    let why: string | undefined;
    const kill = (reason: string) => {
      why ??= reason;
      if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
        try {
          process.kill(-p.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    };
    const timer = setTimeout(() => kill(`exec "${command}": no result within ${timeoutMs} ms`), timeoutMs);
    const onAbort = () => kill("aborted");
    signal.addEventListener("abort", onAbort, { once: true });
    p.once("error", (e) => {
      why ??= `exec "${command}": ${e.message}`;
    });
    p.once("close", (code) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(
        code === 0 && why === undefined
          ? { pass: true }
          : { pass: false, why: why ?? `exec "${command}": status ${code}` },
      );
    });
  });
}
