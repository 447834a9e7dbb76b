/**
 * Issue 23: hotdump installed the way a user installs a Node CLI. The working tree is copied to a
 * temporary checkout and packed there (`npm pack` runs prepack, which builds dist/ and its bundle), the tarball's
 * file list is checked, and it is installed with `npm install -g --prefix` into temporary prefixes:
 * as root with install scripts, and as a second user (`nobody`) with install scripts blocked. Every
 * command then runs from a directory far from the checkout, on a real crashing Go program.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gather } from "./helpers/cli.js";
import { useScratch } from "./helpers/scratch.js";

const ROOT = resolve(import.meta.dirname, "..");
const scratch = useScratch("hotdump-package-");
const GO = execFileSync("go", ["env", "GOROOT"], { encoding: "utf8" }).trim();

interface Run {
  code: number | null;
  out: string;
}

/**
 * A command to completion, as `nobody` (setpriv) when `user`. Never spawnSync: a minutes-long
 * install would block the test worker's event loop, and vitest's own RPC with it.
 */
function run(
  cmd: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; user?: boolean; timeoutMs?: number },
): Promise<Run> {
  const argv = opts.user ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", ...cmd] : cmd;
  return new Promise((res, rej) => {
    const p = scratch.track(
      spawn(argv[0] as string, argv.slice(1), { cwd: opts.cwd, env: opts.env, stdio: "pipe" }),
    );
    const out = gather(p);
    const t = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    p.on("error", rej);
    p.on("close", (code) => {
      clearTimeout(t);
      res({ code, out: out.stdout + out.stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? res(a.port) : rej(new Error("no port"))));
    });
  });
}

/** Resolves with the first match of `re` in the child's output, or rejects after `ms`. */
function waitOutput(
  p: ChildProcess,
  out: { stdout: string; stderr: string },
  re: RegExp,
  ms: number,
): Promise<string> {
  return new Promise((res, rej) => {
    const check = () => {
      const m = (out.stdout + out.stderr).match(re);
      if (m) {
        clearInterval(t);
        clearTimeout(limit);
        res(m[1] ?? m[0]);
      }
    };
    const t = setInterval(check, 50);
    const limit = setTimeout(() => {
      clearInterval(t);
      rej(new Error(`no ${re} within ${ms} ms:\n${out.stdout}${out.stderr}`));
    }, ms);
    p.on("close", check);
  });
}

const CRASHER = `package main

type order struct {
	id    int
	owner *string
}

func main() {
	o := &order{id: 7}
	println(*o.owner)
}
`;

const SERVER = `package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello from gen")) })
	http.ListenAndServe(os.Getenv("ADDR"), nil)
}
`;

function goModule(dir: string, name: string, source: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "go.mod"), `module example.com/${name}\n\ngo 1.22\n`);
  writeFileSync(join(d, "main.go"), source);
  return d;
}

let tarball = "";
let files: string[] = [];
let work = "";

// One install serves every test of the file: its own dir, removed after all of them.
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "hotdump-package-"));
  chmodSync(work, 0o755);
  // The checkout as a contributor has it (tracked and new files, nothing ignored), packed there.
  const copy = join(work, "checkout");
  const listed = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter(Boolean);
  for (const f of listed) {
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    try {
      copyFileSync(join(ROOT, f), join(copy, f));
    } catch {
      // a file deleted in the working tree but still tracked
    }
  }
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  // prepack's tsc takes minutes on a loaded machine: never block the worker (vitest's RPC) on it.
  const packed = await run(["npm", "pack", "--pack-destination", work], {
    cwd: copy,
    env: process.env,
    timeoutMs: 600_000,
  });
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.out}`);
  const name = readdirSync(work).find((f) => f.endsWith(".tgz"));
  if (!name) throw new Error("npm pack wrote no tarball");
  tarball = join(work, name);
  chmodSync(tarball, 0o644);
  files = execFileSync("tar", ["tzf", tarball], { encoding: "utf8" }).trim().split("\n");
}, 300_000);

describe("the npm package", () => {
  it("holds the built CLI, the dashboard, the schema, README and LICENSE, and no tests or build files", () => {
    for (const f of [
      "package/bin/hotdump",
      "package/dist/bundle/main.js",
      "package/src/ui/static/index.html",
      "package/docs/report.schema.json",
      "package/README.md",
      "package/LICENSE",
      "package/package.json",
      // The capture tracer's Go source: hotdump builds it on first use (src/capture/tracer.ts).
      "package/tracer/go.mod",
      "package/tracer/trace.go",
    ])
      expect(files).toContain(f);
    const unwanted = files.filter(
      (f) =>
        /^package\/(test|bench|scripts|\.ci|\.tools|node_modules)\//.test(f) ||
        /^package\/(Makefile|biome\.json|tsconfig[^/]*|vitest[^/]*)$/.test(f) ||
        /\.test\.js$|\.ts$|\.map$/.test(f) ||
        /fixtures/.test(f),
    );
    expect(unwanted).toEqual([]);
  });

  describe("installed globally as root, install scripts allowed", () => {
    const env: NodeJS.ProcessEnv = {};
    let app = "";
    let prefix = "";

    beforeAll(async () => {
      prefix = join(work, "root-prefix");
      // better-sqlite3's install script (prebuild-install) fetches a prebuilt binary from GitHub,
      // which this machine cannot reach, then builds from source (minutes on two loaded cores).
      // prebuild-install takes the same tarball from a local directory: made here from the
      // checkout's own build, so the install runs the script path a user with network gets.
      const prebuilds = join(work, "prebuilds");
      mkdirSync(join(prebuilds, "build/Release"), { recursive: true });
      const sqlite = join(ROOT, "node_modules/better-sqlite3");
      copyFileSync(
        join(sqlite, "build/Release/better_sqlite3.node"),
        join(prebuilds, "build/Release/better_sqlite3.node"),
      );
      const version = (JSON.parse(readFileSync(join(sqlite, "package.json"), "utf8")) as { version: string })
        .version;
      const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-linux-x64.tar.gz`;
      execFileSync("tar", ["czf", name, "build"], { cwd: prebuilds });
      const started = Date.now();
      const r = await run(
        ["npm", "install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", tarball],
        {
          cwd: work,
          env: { ...process.env, npm_config_better_sqlite3_local_prebuilds: prebuilds },
          timeoutMs: 600_000,
        },
      );
      expect(r.code, r.out).toBe(0);
      console.log(`npm install -g (root, scripts allowed): ${Date.now() - started} ms`);
      // Only the installed bin, Go and the system: nothing of the checkout on PATH.
      Object.assign(env, {
        PATH: `${join(prefix, "bin")}:${join(GO, "bin")}:/usr/local/bin:/usr/bin:/bin`,
        HOME: process.env.HOME,
        NO_COLOR: "1",
      });
      app = join(work, "far", "away");
      mkdirSync(app, { recursive: true });
    }, 620_000);

    it("runs doctor, captures a crash of `go run .` and reports it", async () => {
      const v = await run(["hotdump", "--version"], { cwd: app, env });
      expect(v.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);

      const doctor = await run(["hotdump", "doctor"], { cwd: app, env });
      expect(doctor.out).toContain("[ ok ] journal: better-sqlite3 loads");
      expect(doctor.out).toContain("[ ok ] koffi loads");
      expect(doctor.out).toMatch(/\[ ok \] \S*dlv \d/);

      const crasher = goModule(app, "crasher", CRASHER);
      const exec = await run(["hotdump", "exec", "--", "go", "run", "."], { cwd: crasher, env });
      expect(exec.out).toContain(
        "crash captured: panic: runtime error: invalid memory address or nil pointer dereference",
      );
      expect(exec.out).toMatch(/culprit\s+main\.main\s+main\.go:10/);
      expect(exec.out).not.toContain("problem");

      const report = await run(["hotdump", "report"], { cwd: crasher, env });
      expect(report.code, report.out).toBe(0);
      expect(report.out).toContain(`main.main at ${join(crasher, "main.go")}:10`);
      expect(report.out).toContain("println(*o.owner)");
    });

    it("runs dev and the dashboard", async () => {
      const server = goModule(app, "server", SERVER);
      const port = await freePort();
      const dev = scratch.track(
        spawn("hotdump", ["dev"], { cwd: server, env: { ...env, ADDR: `127.0.0.1:${port}` }, stdio: "pipe" }),
      );
      const devOut = gather(dev);
      await waitOutput(dev, devOut, /generation 1 built/, 120_000);
      const body = await until(async () => {
        try {
          return await (await fetch(`http://127.0.0.1:${port}/`)).text();
        } catch {
          return undefined;
        }
      }, 60_000);
      expect(body).toBe("hello from gen");
      dev.kill("SIGTERM");
      const devCode = await new Promise((r) => dev.on("close", r));
      expect(devCode, devOut.stdout + devOut.stderr).toBe(0);

      const ui = scratch.track(spawn("hotdump", ["ui", "--port", "0"], { cwd: server, env, stdio: "pipe" }));
      const uiOut = gather(ui);
      const url = await waitOutput(ui, uiOut, /(http:\/\/127\.0\.0\.1:\d+\/\S*)/, 30_000);
      // The dashboard asks its token on every route (the URL carries it; a script sends it as Bearer).
      const token = new URL(url).searchParams.get("token");
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect((await fetch(new URL("/", url))).status).toBe(401);
      const page = await fetch(new URL("/", url), { headers: { Authorization: `Bearer ${token}` } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("hotdump");
      ui.kill("SIGTERM");
    });
  });

  describe("installed as another user with a user prefix, install scripts blocked", () => {
    it("still captures and reports a crash, and says what the missing native module costs", async () => {
      const home = join(work, "nobody-home");
      mkdirSync(home);
      const crasher = goModule(home, "crasher", CRASHER);
      execFileSync("chown", ["-R", "nobody:nogroup", home]);
      // The machine's CA settings (a proxy's CA here) as root's npm config has them: nobody cannot
      // read /root/.npmrc.
      const cafile = execFileSync("npm", ["config", "get", "cafile"], { encoding: "utf8" }).trim();
      const env: NodeJS.ProcessEnv = {
        ...(cafile && cafile !== "null" && cafile !== "undefined" ? { npm_config_cafile: cafile } : {}),
        ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
        HOME: home,
        PATH: `${join(home, ".local/bin")}:${join(GO, "bin")}:/usr/local/bin:/usr/bin:/bin`,
        GOCACHE: join(home, ".cache/go-build"),
        GOPATH: join(home, "go"),
        npm_config_cache: join(home, ".npm"),
        NO_COLOR: "1",
      };
      const install = await run(
        [
          "npm",
          "install",
          "-g",
          "--prefix",
          join(home, ".local"),
          "--ignore-scripts",
          "--no-audit",
          "--no-fund",
          tarball,
        ],
        { cwd: home, env, user: true, timeoutMs: 600_000 },
      );
      expect(install.code, install.out).toBe(0);

      const doctor = await run(["hotdump", "doctor"], { cwd: crasher, env, user: true });
      expect(doctor.out).toContain("npm did not build (install scripts blocked)");
      // nobody cannot reach root's Go bin directory: the remedy is exact.
      expect(doctor.out).toContain("hotdump doctor --fix");

      const exec = await run(["hotdump", "exec", "--", "go", "run", "."], { cwd: crasher, env, user: true });
      expect(exec.out).toContain(
        "crash captured: panic: runtime error: invalid memory address or nil pointer dereference",
      );
      expect(exec.out).toMatch(/culprit\s+main\.main\s+main\.go:10/);
      expect(exec.out).toContain("E_SQLITE_UNBUILT");
      expect(exec.out).not.toContain("Could not locate the bindings file");

      const report = await run(["hotdump", "report"], { cwd: crasher, env, user: true });
      expect(report.code, report.out).toBe(0);
      expect(report.out).toContain("println(*o.owner)");
    }, 600_000);
  });
});

async function until<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
