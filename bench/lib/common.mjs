// Shared helpers for the bench scripts: statistics, the machine line, loopback HTTP, Go builds,
// process-tree accounting from /proc, installing air, and cleanup. Every process a bench starts
// goes through `track()`, and every temp dir through `tempDir()`, so that a normal end, an error
// and Ctrl-C all stop the processes (by pid and process group, never by name) and remove the dirs.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const HOTDUMP = join(ROOT, "bin/hotdump");
export const FIXTURES = join(ROOT, "bench/fixtures");
/** The Go programs the tests use; the reload benches drive the same service the run tests do. */
export const TEST_FIXTURES = join(ROOT, "test/fixtures/go");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function median(xs) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile, p in 0..100. */
export function percentile(xs, p) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export const fmtMs = (ms) => (Number.isFinite(ms) ? `${ms.toFixed(0)} ms` : "n/a");

function tryRun(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "?";
  }
}

/** One line naming the machine, for the README next to every figure. */
export function machine() {
  return [
    `${cpus().length} CPUs (nproc ${tryRun("nproc", [])})`,
    cpus()[0]?.model.trim(),
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
    `Linux ${tryRun("uname", ["-r"])}`,
    tryRun("go", ["env", "GOVERSION"]),
    `Node ${process.version}`,
  ].join(", ");
}

/** `uptime`'s load averages, printed with a shared machine's figures (the ratio holds, not the ms). */
export function loadLine() {
  return `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(", ")} (${new Date().toISOString().slice(0, 16)}Z)`;
}

// ---- cleanup ---------------------------------------------------------------------------------

const tracked = new Set();
const dirs = new Set();
let cleaning = false;

/** Register a spawned child (started with detached: true, so it leads its own process group). */
export function track(child) {
  tracked.add(child);
  child.on("exit", () => tracked.delete(child));
  return child;
}

export function spawnTracked(cmd, args, opts = {}) {
  return track(spawn(cmd, args, { ...opts, detached: true }));
}

export function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), `hotdump-bench-${prefix}-`));
  dirs.add(d);
  return d;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Pids whose executable lies under `dir` (services a tool started from our temp dirs). */
export function pidsWithExeUnder(dir) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const exe = readlinkSync(`/proc/${d}/exe`);
      if (exe.startsWith(`${dir}/`)) out.push(Number(d));
    } catch {}
  }
  return out;
}

function killGroup(pid, sig) {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {}
  }
}

/** Ask a tracked child to stop (its own signal handling first), then SIGKILL its process group. */
export async function stop(child, sig = "SIGTERM", graceMs = 5000) {
  if (!child?.pid) return;
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, sig);
    } catch {}
    const end = Date.now() + graceMs;
    while (alive(child.pid) && child.exitCode === null && child.signalCode === null && Date.now() < end)
      await sleep(20);
  }
  killGroup(child.pid, "SIGKILL");
}

/** Synchronous last resort: every tracked group and every process running from a temp dir. */
function killEverythingNow() {
  for (const c of tracked) if (c.pid) killGroup(c.pid, "SIGKILL");
  for (const d of dirs) for (const pid of pidsWithExeUnder(d)) killGroup(pid, "SIGKILL");
}

export async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  await Promise.all([...tracked].map((c) => stop(c, "SIGTERM", 3000)));
  killEverythingNow();
  await sleep(100);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

process.on("exit", () => {
  killEverythingNow();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping everything this bench started`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Run main(), always cleaning up; a failure prints and exits 1. */
export async function runBench(main) {
  try {
    await main();
  } catch (e) {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exitCode = 1;
  } finally {
    await cleanup();
    // A load worker or a stray timer must not keep a finished (or failed) bench alive.
    process.exit();
  }
}

// ---- HTTP on loopback --------------------------------------------------------------------------

/** GET http://127.0.0.1:port/path without keep-alive; resolves { status, body }. */
export function get(port, path = "/", timeoutMs = 2000) {
  // `port` may also be { socketPath } (a UNIX socket).
  const where = typeof port === "number" ? { host: "127.0.0.1", port } : { socketPath: port.socketPath };
  return new Promise((resolve, reject) => {
    const req = request({ ...where, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

/** Poll every `everyMs` until `ok(body)`; bounded by `timeoutMs`. Resolves the ms it took from t0. */
export async function pollUntil(port, ok, { t0 = performance.now(), everyMs = 5, timeoutMs = 60_000 } = {}) {
  const end = t0 + timeoutMs;
  let last = "";
  while (performance.now() < end) {
    try {
      const r = await get(port, "/", 1000);
      last = r.body;
      if (r.status === 200 && ok(r.body)) return performance.now() - t0;
    } catch (e) {
      last = e.message;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `${JSON.stringify(port)}: not served within ${timeoutMs} ms (last: ${String(last).slice(0, 80)})`,
  );
}

export { freePort } from "../../dist/supervise/probe.js";

// ---- Go and air -------------------------------------------------------------------------------

export function goEnv(name) {
  return execFileSync("go", ["env", name], { encoding: "utf8" }).trim();
}

/**
 * go build in bench/fixtures (or `cwd`); returns `out`. Fixtures build with cgo off; `asTools`
 * keeps the environment exactly as hotdump and air get it (cgo as `go env` says), so a hand
 * baseline builds the same way the tools it is compared with do.
 */
export function goBuild(pkg, out, flags = [], cwd = FIXTURES, { asTools = false, cgo = false } = {}) {
  execFileSync("go", ["build", ...flags, "-o", out, pkg], {
    cwd,
    stdio: ["ignore", "ignore", "inherit"],
    // -race links ThreadSanitizer's C runtime: it needs cgo.
    env: asTools
      ? process.env
      : {
          ...process.env,
          CGO_ENABLED: cgo || flags.includes("-race") ? "1" : "0",
          GOFLAGS: "-buildvcs=false",
        },
  });
  return out;
}

export const AIR_VERSION = "v1.67.4";

/** air's path, installed with `go install` into $(go env GOPATH)/bin when missing. */
export function ensureAir() {
  const air = join(goEnv("GOPATH"), "bin", "air");
  if (!existsSync(air)) {
    console.error(`installing air ${AIR_VERSION} (go install github.com/air-verse/air@${AIR_VERSION})`);
    execFileSync("go", ["install", `github.com/air-verse/air@${AIR_VERSION}`], { stdio: "inherit" });
  }
  return air;
}

// ---- /proc accounting --------------------------------------------------------------------------

const statFields = (pid) => {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const after = s.slice(s.lastIndexOf(")") + 2).split(" ");
  // after[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(after[1]), utime: Number(after[11]), stime: Number(after[12]) };
};

/** `root` and all its descendants, minus those `exclude(pid)` rejects (and their descendants). */
export function processTree(root, exclude = () => false) {
  const children = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const { ppid } = statFields(d);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {}
  }
  const out = [];
  const walk = (pid) => {
    if (exclude(pid)) return;
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

export const CLK_TCK = Number(tryRun("getconf", ["CLK_TCK"])) || 100;

export function cpuTicks(pids) {
  let t = 0;
  for (const p of pids) {
    try {
      const f = statFields(p);
      t += f.utime + f.stime;
    } catch {}
  }
  return t;
}

export function rssKiB(pids) {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      if (m) kb += Number(m[1]);
    } catch {}
  }
  return kb;
}

export const comm = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
};

/** Hands each JSON line hotdump writes with --json-events to `onEvent`; other lines are skipped. */
export function onJsonEvents(child, onEvent) {
  let rest = "";
  child.stdout.on("data", (c) => {
    const lines = (rest + c).split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) {
      let e;
      try {
        e = JSON.parse(l);
      } catch {
        continue;
      }
      onEvent(e);
    }
  });
}

/**
 * `hotdump exec --json [flags] --store DIR/store -- bin args` on a crasher that prints
 * "died-at <CLOCK_REALTIME ns>" on stderr as it dies (bench/fixtures/crasher): the parsed --json
 * result, when it died, when exec ended, and `msAfterDeath(file)` (mtime of a file of the bundle).
 */
export function execCrash(bin, args, { flags = [], env = {}, prefix = "crash" } = {}) {
  const dir = tempDir(prefix);
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawnTracked(
      process.execPath,
      [HOTDUMP, "exec", "--json", ...flags, "--store", join(dir, "store"), "--", bin, ...args],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", ...env } },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      err += c;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(timer);
      const exitedAt = Date.now();
      try {
        const died = /died-at (\d+)/.exec(err);
        if (!died) throw new Error(`no died-at line in:\n${err.slice(-2000)}`);
        const diedNs = BigInt(died[1]);
        const r = JSON.parse(out);
        const msAfterDeath = (file) =>
          Number(statSync(join(r.crash.dir, file), { bigint: true }).mtimeNs - diedNs) / 1e6;
        resolve({ r, t0, exitedAt, diedMs: Number(diedNs / 1_000_000n), msAfterDeath });
      } catch (e) {
        reject(e);
      }
    });
  });
}
