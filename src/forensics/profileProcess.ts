/**
 * A CPU profile of a running generation as a flame graph, stored beside it:
 *   <store>/profiles/<gen3|pid123>-<utc time>-<rand>/{cpu.pprof | perf.data, folded.txt, flame.svg, meta.json}
 *
 * Two sources. The service's own pprof endpoint (`import _ "net/http/pprof"`) is preferred: Go's
 * profiler samples every thread at 100 Hz, symbolises in-process (inlined frames included) and
 * needs no privilege. Without one, `perf record -g` samples the process from outside; Go keeps
 * frame pointers on amd64 and arm64 (since Go 1.7), so perf's default frame-pointer unwinding
 * gives whole Go stacks without DWARF unwinding.
 */
import { chmodSync, existsSync, mkdirSync, readlinkSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { HotdumpError } from "../errors.js";
import { archiveBinary, DIR_MODE, ensureStore, FILE_MODE, resolveRunningTarget } from "../store/index.js";
import { runCapture } from "../util/child.js";
import { findOnPath } from "../util/which.js";
import { foldStacks, parsePerfScript, renderFlameGraph, type Stack, topSelf } from "./flame.js";
import { decodeProfile, sampleCountIndex } from "./pprof.js";

const profileTargetUnknown = (what: string) =>
  new HotdumpError("usage", "E_PROFILE_TARGET", `no running service to profile: ${what}`);

const noProfiler = (pid: number) =>
  new HotdumpError(
    "forensics",
    "E_NO_PROFILER",
    `cannot profile pid ${pid}: no --pprof endpoint was given and perf is not installed. ` +
      `Either add \`import _ "net/http/pprof"\` to the service, serve it on a loopback port and pass ` +
      `--pprof http://127.0.0.1:PORT/debug/pprof/profile, or install perf (apt-get install linux-perf)`,
    { exitCode: 1 },
  );

const profileFailed = (pid: number, why: string, details?: string, cause?: unknown) =>
  new HotdumpError("forensics", "E_PROFILE_FAILED", `could not profile pid ${pid}: ${why}`, {
    ...(details ? { details } : {}),
    ...(cause ? { cause } : {}),
  });

interface ProfileTarget {
  pid: number;
  generation: number | null;
}

/** --pid, or a generation from <store>/running.json (the newest by default). */
export const resolveProfileTarget = (
  storeDir: string,
  sel: { pid?: number; generation?: number },
): ProfileTarget => resolveRunningTarget(storeDir, sel, profileTargetUnknown);

/**
 * The profile endpoint with `seconds` set. A bare origin (http://127.0.0.1:6060) means Go's
 * usual path. Credentials in the URL are used but never stored.
 */
export function pprofUrl(text: string, seconds: number): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new HotdumpError(
      "usage",
      "E_USAGE",
      `--pprof must be a URL like http://127.0.0.1:6060/debug/pprof/profile, not ${JSON.stringify(text)}`,
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new HotdumpError(
      "usage",
      "E_USAGE",
      `--pprof must be an http:// or https:// URL, not ${u.protocol}`,
    );
  if (u.pathname === "/" || u.pathname === "") u.pathname = "/debug/pprof/profile";
  u.searchParams.set("seconds", String(seconds));
  return u;
}

const redact = (u: URL) => {
  const c = new URL(u);
  c.username = "";
  c.password = "";
  return c.toString();
};

/** Profiles are a few hundred KB; anything past this is not one. */
const MAX_PROFILE_BYTES = 64 * 1024 * 1024;

/** GET the profile. The server holds the request open for `seconds` while it samples. */
function fetchPprof(url: URL, pid: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_PROFILE_BYTES) {
          req.destroy();
          reject(profileFailed(pid, `${redact(url)} sent more than 64 MiB: not a CPU profile`));
          return;
        }
        chunks.push(c);
      });
      res.on("error", (e) =>
        reject(profileFailed(pid, `reading ${redact(url)}: ${e.message}`, undefined, e)),
      );
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode === 200) return resolve(body);
        const text = body.toString("utf8", 0, Math.min(body.length, 300)).trim();
        // net/http/pprof answers 404 when it is not imported, and 500 "cpu profiling already in
        // use" while another profile (say a second hotdump profile) is being taken.
        const hint =
          res.statusCode === 404
            ? ` (does the service import _ "net/http/pprof" and serve http.DefaultServeMux on that port?)`
            : "";
        reject(
          profileFailed(pid, `${redact(url)} answered ${res.statusCode}: ${text || "(no body)"}${hint}`),
        );
      });
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`no complete answer within ${Math.round(timeoutMs / 1000)} s`)),
    );
    req.on("error", (e: NodeJS.ErrnoException) =>
      reject(
        profileFailed(
          pid,
          `cannot fetch ${redact(url)}: ${e.code === "ECONNREFUSED" ? "connection refused (is the pprof server listening there?)" : e.message}`,
          undefined,
          e,
        ),
      ),
    );
    req.end();
  });
}

interface ProfileOptions {
  storeDir: string;
  pid: number;
  generation?: number | null;
  seconds: number;
  /** The service's pprof profile endpoint; without it, perf. */
  pprof?: string;
  /** perf's path (default: found on PATH). */
  perfPath?: string;
  now?: Date;
}

interface ProfileResult {
  dir: string;
  pid: number;
  generation: number | null;
  seconds: number;
  method: "pprof" | "perf";
  samples: number;
  svg: string;
  /** cpu.pprof or perf.data */
  profile: string;
  folded: string;
  binary: { sha256: string; path: string } | null;
  top: { name: string; value: number; share: number }[];
}

function profileDir(root: string, target: ProfileTarget, now: Date): string {
  const dir = join(root, "profiles");
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  chmodSync(dir, DIR_MODE);
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  const who = target.generation !== null ? `gen${target.generation}` : `pid${target.pid}`;
  for (;;) {
    const rand = Math.floor(Math.random() * 0x10000)
      .toString(16)
      .padStart(4, "0");
    const d = join(dir, `${who}-${stamp}-${rand}`);
    try {
      // Not recursive: EEXIST tells two profiles in the same second apart.
      mkdirSync(d, { mode: DIR_MODE });
      chmodSync(d, DIR_MODE);
      return d;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
}

async function writePrivate(path: string, data: string | Buffer): Promise<void> {
  await writeFile(path, data, { mode: FILE_MODE });
  chmodSync(path, FILE_MODE);
}

async function recordPerf(
  o: ProfileOptions,
  perf: string,
  dir: string,
): Promise<{ data: string; stacks: Stack[] }> {
  const data = join(dir, "perf.data");
  // -F 99: off the 100 Hz beat of timers, so periodic work is not always or never sampled.
  const rec = await runCapture(
    perf,
    ["record", "-F", "99", "-g", "-p", String(o.pid), "-o", data, "--", "sleep", String(o.seconds)],
    {
      timeoutMs: o.seconds * 1000 + 30_000,
    },
  );
  if (rec.end.error) throw profileFailed(o.pid, `cannot run ${perf}: ${rec.end.error.message}`);
  if (rec.end.exitCode !== 0 || !existsSync(data))
    throw profileFailed(
      o.pid,
      `perf record failed (exit ${rec.end.exitCode ?? rec.end.signal}); as a non-root user it needs ` +
        "kernel.perf_event_paranoid <= 1 or CAP_PERFMON",
      rec.stderr.trim().slice(-2000),
    );
  // perf writes its file 0600 as root but honours the umask otherwise: the store's rule applies.
  chmodSync(data, FILE_MODE);
  const script = await runCapture(perf, ["script", "-i", data], { timeoutMs: 120_000 });
  if (script.end.exitCode !== 0)
    throw profileFailed(o.pid, "perf script could not read the recording", script.stderr.trim().slice(-2000));
  return { data, stacks: parsePerfScript(script.stdout) };
}

export async function profileProcess(o: ProfileOptions): Promise<ProfileResult> {
  const layout = ensureStore(o.storeDir);
  const generation = o.generation ?? null;
  try {
    readlinkSync(`/proc/${o.pid}/exe`);
  } catch (cause) {
    throw profileFailed(o.pid, "no such process (or not ours to read)", undefined, cause);
  }
  const url = o.pprof !== undefined ? pprofUrl(o.pprof, o.seconds) : null;
  const perf = url ? null : (o.perfPath ?? findOnPath("perf"));
  if (!url && !perf) throw noProfiler(o.pid);

  // The exact binary that is running, kept content-addressed (a generation's is already there):
  // what `go tool pprof BINARY cpu.pprof` and perf's symbols refer to after a rebuild replaces it.
  const binary = await archiveBinary(layout, `/proc/${o.pid}/exe`).catch(() => null);
  const started = o.now ?? new Date();
  const dir = profileDir(layout.root, { pid: o.pid, generation }, started);

  try {
    return await profileInto(o, dir, started, url, perf, binary);
  } catch (e) {
    // A failed profile leaves no half-written directory to be mistaken for a result.
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function profileInto(
  o: ProfileOptions,
  dir: string,
  started: Date,
  url: URL | null,
  perf: string | null,
  binary: { sha256: string; path: string } | null,
): Promise<ProfileResult> {
  const generation = o.generation ?? null;
  let stacks: Stack[];
  let profile: string;
  let extra: Record<string, unknown> = {};
  if (url) {
    const body = await fetchPprof(url, o.pid, o.seconds * 1000 + 15_000);
    profile = join(dir, "cpu.pprof");
    await writePrivate(profile, body);
    const decoded = decodeProfile(body);
    const idx = sampleCountIndex(decoded);
    stacks = decoded.samples.map((s) => ({ frames: s.stack, value: s.values[idx] ?? 0 }));
    extra = {
      source: redact(url),
      sampleTypes: decoded.sampleTypes,
      periodNanos: decoded.period,
      durationNanos: decoded.durationNanos,
    };
  } else {
    const rec = await recordPerf(o, perf!, dir);
    profile = rec.data;
    stacks = rec.stacks;
    extra = { source: "perf record -F 99 -g" };
  }
  const samples = stacks.reduce((n, s) => n + Math.max(0, s.value), 0);
  const folded = join(dir, "folded.txt");
  await writePrivate(folded, foldStacks(stacks));
  const who = generation !== null ? `generation ${generation} (pid ${o.pid})` : `pid ${o.pid}`;
  const svg = join(dir, "flame.svg");
  await writePrivate(
    svg,
    renderFlameGraph(stacks, {
      title: `CPU profile of ${who}, ${o.seconds} s, ${started.toISOString()}`,
      subtitle: `${samples} samples via ${url ? "pprof" : "perf"}; width is the share of samples, bottom to top is caller to callee`,
    }),
  );
  const top = topSelf(stacks, 10);
  const result: ProfileResult = {
    dir,
    pid: o.pid,
    generation,
    seconds: o.seconds,
    method: url ? "pprof" : "perf",
    samples,
    svg,
    profile,
    folded,
    binary: binary ? { sha256: binary.sha256, path: binary.path } : null,
    top,
  };
  await writePrivate(
    join(dir, "meta.json"),
    `${JSON.stringify({ schema: 1, ...result, startedAt: started.toISOString(), endedAt: new Date().toISOString(), ...extra }, null, 2)}\n`,
  );
  return result;
}
