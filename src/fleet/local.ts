/**
 * `hotdump fleet up`: a local fleet for a trial and for the tests, from real parts: versitygw (an
 * S3 server, Apache-2.0, one binary) and PostgreSQL, both in DIR, on free loopback ports. Data
 * survives `fleet down` and the next `up` (which may pick other ports: print the settings again).
 *
 *   DIR/credentials.json  S3 keys and the database password, made once (0600)
 *   DIR/s3/               versitygw's posix back end: one directory per bucket
 *   DIR/pg/data           the PostgreSQL cluster (owned by the postgres user when run as root)
 *   DIR/state.json        pids and ports of the running servers
 */

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { chmod, chown, mkdir } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { join, resolve } from "node:path";
import { CreateBucketCommand, PutBucketLifecycleConfigurationCommand } from "@aws-sdk/client-s3";
import { runCapture, setprivPath } from "../util/child.js";
import type { Logger } from "../util/log.js";
import { findOnPath } from "../util/which.js";
import { openCatalog } from "./catalog.js";
import { fleetLocalFailed } from "./errors.js";
import { createObjectStore, statusOf } from "./objects.js";
import { fleetEnv } from "./settings.js";

const VERSITYGW_MODULE = "github.com/versity/versitygw/cmd/versitygw@v1.8.0";
export const DEFAULT_FLEET_DIR = ".hotdump-fleet";
const BUCKET = "hotdump";

interface Credentials {
  accessKey: string;
  secretKey: string;
  pgPassword: string;
}

interface State {
  s3: { pid: number; port: number };
  pg: { port: number };
}

export interface LocalFleet {
  dir: string;
  env: Record<string, string>;
  s3: { pid: number; port: number; endpoint: string };
  pg: { port: number; url: string };
  /** It was already running: nothing was started. */
  reused: boolean;
}

/** Where `go install` puts versitygw, or where it already is on PATH. */
async function findVersitygw(): Promise<{ path: string; installed: boolean }> {
  const onPath = findOnPath("versitygw");
  if (onPath) return { path: onPath, installed: true };
  const bin = await goBinDir();
  const p = join(bin, "versitygw");
  return { path: p, installed: existsSync(p) };
}

async function goBinDir(): Promise<string> {
  const r = await runCapture("go", ["env", "GOBIN", "GOPATH"], { timeoutMs: 30_000 }).catch((e) => {
    throw fleetLocalFailed("go is needed to install versitygw", e);
  });
  const [gobin = "", gopath = ""] = r.stdout.split("\n").map((s) => s.trim());
  return gobin || join(gopath.split(":")[0] || join(process.env.HOME ?? "/root", "go"), "bin");
}

async function installVersitygw(logger: Logger): Promise<string> {
  const found = await findVersitygw();
  if (found.installed) return found.path;
  logger.info(`installing versitygw: go install ${VERSITYGW_MODULE} (about 2 minutes, once)`);
  const r = await runCapture("go", ["install", VERSITYGW_MODULE], { timeoutMs: 20 * 60_000 });
  if (r.end.exitCode !== 0 || !existsSync(found.path))
    throw fleetLocalFailed(
      "go install of versitygw failed",
      new Error(`exit ${r.end.exitCode}`),
      r.stderr.slice(-4000),
    );
  return found.path;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? res(a.port) : rej(new Error("no port"))));
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const cmdlineOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
};

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => res(false));
  });
}

/**
 * initdb and pg_ctl: on PATH (this machine: /usr/local/bin), else Debian's versioned directory
 * (/usr/lib/postgresql/15/bin, which the postgresql package does not put on PATH).
 */
function pgBin(name: "initdb" | "pg_ctl"): string {
  const onPath = findOnPath(name);
  if (onPath) return onPath;
  const root = "/usr/lib/postgresql";
  let versions: string[] = [];
  try {
    versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  } catch {
    // not installed
  }
  for (const v of versions) if (existsSync(join(root, v, "bin", name))) return join(root, v, "bin", name);
  throw fleetLocalFailed(
    `PostgreSQL's ${name} is missing`,
    new Error(
      "install PostgreSQL 15+ (apt-get install postgresql), or point HOTDUMP_FLEET_PG at a running one",
    ),
  );
}

/** Root runs PostgreSQL as the postgres user (it refuses root); anyone else as themselves. */
function pgUser(): { uid: number; gid: number; argv: string[] } | null {
  if (process.getuid?.() !== 0) return null;
  const sp = setprivPath();
  const pw = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((l) => l.split(":"))
    .find((f) => f[0] === "postgres" || f[0] === "nobody");
  if (!sp || !pw)
    throw fleetLocalFailed("PostgreSQL refuses root", new Error("no setpriv or no postgres/nobody user"));
  const uid = Number(pw[2]);
  const gid = Number(pw[3]);
  return { uid, gid, argv: [sp, `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"] };
}

function loadCredentials(dir: string): Credentials {
  const file = join(dir, "credentials.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Credentials;
  const c: Credentials = {
    accessKey: `hotdump${randomBytes(6).toString("hex")}`,
    secretKey: randomBytes(24).toString("base64url"),
    pgPassword: randomBytes(18).toString("base64url"),
  };
  writeFileSync(file, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  return c;
}

const readState = (dir: string): State | null => {
  try {
    return JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as State;
  } catch {
    return null;
  }
};

export async function fleetUp(dirArg: string, logger: Logger): Promise<LocalFleet> {
  const dir = resolve(dirArg);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const creds = loadCredentials(dir);
  const user = pgUser();
  const state = readState(dir);
  const pgData = join(dir, "pg", "data");
  const s3Up = state && alive(state.s3.pid) && cmdlineOf(state.s3.pid).some((a) => a.endsWith("versitygw"));
  const pgUp = state && existsSync(join(pgData, "postmaster.pid")) && (await tcpOpen(state.pg.port));
  let reused = Boolean(s3Up && pgUp);

  let s3: State["s3"];
  if (s3Up && state) s3 = state.s3;
  else {
    const bin = await installVersitygw(logger);
    // Only the root: versitygw makes the bucket's directory itself, with its metadata (a directory
    // made here answers "get bucket acl: no such key", HTTP 500).
    await mkdir(join(dir, "s3"), { recursive: true, mode: 0o700 });
    s3 = await startVersitygw(bin, dir, creds);
    reused = false;
  }
  let pgPort: number;
  if (pgUp && state) pgPort = state.pg.port;
  else {
    pgPort = await startPostgres(dir, creds, user);
    reused = false;
  }
  writeFileSync(join(dir, "state.json"), `${JSON.stringify({ s3, pg: { port: pgPort } }, null, 2)}\n`, {
    mode: 0o600,
  });
  const endpoint = `http://127.0.0.1:${s3.port}`;
  const url = `postgres://hotdump:${encodeURIComponent(creds.pgPassword)}@127.0.0.1:${pgPort}/hotdump`;
  await prepare({ endpoint, creds, url });
  return {
    dir,
    reused,
    s3: { ...s3, endpoint },
    pg: { port: pgPort, url },
    env: fleetEnv({
      bucket: BUCKET,
      prefix: "",
      endpoint,
      accessKey: creds.accessKey,
      secretKey: creds.secretKey,
      pg: url,
    }),
  };
}

async function startVersitygw(bin: string, dir: string, creds: Credentials): Promise<State["s3"]> {
  const log = openSync(join(dir, "versitygw.log"), "a", 0o600);
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      bin,
      [
        "--access",
        creds.accessKey,
        "--secret",
        creds.secretKey,
        "--port",
        `127.0.0.1:${port}`,
        "--quiet",
        "posix",
        join(dir, "s3"),
      ],
      { detached: true, stdio: ["ignore", log, log] },
    );
    const exited = new Promise<string>((res) => {
      child.once("exit", (code, sig) => res(`exited (${sig ?? code})`));
      child.once("error", (e) => res(e.message));
    });
    child.unref();
    const ready = await raceReady(() => tcpOpen(port), exited, 15_000);
    if (ready === true) {
      closeSync(log);
      return { pid: child.pid!, port };
    }
    if (child.exitCode === null) child.kill("SIGKILL");
    // Another process took the free port between our probe and versitygw's bind: try another.
    if (attempt < 2 && ready !== "timeout") continue;
    closeSync(log);
    throw fleetLocalFailed(
      "versitygw did not start",
      new Error(String(ready)),
      readFileSync(join(dir, "versitygw.log"), "utf8").slice(-4000),
    );
  }
}

/** Polls `check` until true, raced against the process's end and a deadline; never a fixed sleep. */
async function raceReady(
  check: () => Promise<boolean>,
  ended: Promise<string>,
  ms: number,
): Promise<true | string> {
  let done: string | null = null;
  void ended.then((why) => {
    done = why;
  });
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (done !== null) return done;
    if (await check()) return true;
    await Promise.race([new Promise((r) => setTimeout(r, 50)), ended]);
  }
  return "timeout";
}

async function startPostgres(
  dir: string,
  creds: Credentials,
  user: ReturnType<typeof pgUser>,
): Promise<number> {
  const pgDir = join(dir, "pg");
  const data = join(pgDir, "data");
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  if (user) {
    await chown(pgDir, user.uid, user.gid);
    // The postgres user must reach DIR/pg: DIR itself gets o+x (traverse only, no listing).
    await chmod(dir, 0o711);
    const probe = await runCapture(user.argv[0]!, [...user.argv.slice(1), "test", "-x", pgDir], {
      timeoutMs: 10_000,
    });
    if (probe.end.exitCode !== 0)
      throw fleetLocalFailed(
        `the postgres user cannot reach ${pgDir}`,
        new Error(
          "a parent directory is not searchable by other users (chmod o+x it, or use --dir elsewhere, e.g. /var/tmp/hotdump-fleet)",
        ),
      );
  }
  const run = (cmd: string, args: string[], timeoutMs = 60_000) =>
    user
      ? runCapture(user.argv[0]!, [...user.argv.slice(1), cmd, ...args], { timeoutMs })
      : runCapture(cmd, args, { timeoutMs });
  if (!existsSync(join(data, "PG_VERSION"))) {
    rmSync(data, { recursive: true, force: true });
    const pwfile = join(pgDir, "pwfile");
    writeFileSync(pwfile, `${creds.pgPassword}\n`, { mode: 0o600 });
    if (user) await chown(pwfile, user.uid, user.gid);
    const r = await run(pgBin("initdb"), [
      "-D",
      data,
      "-U",
      "hotdump",
      `--pwfile=${pwfile}`,
      "-A",
      "scram-sha-256",
      "--auth-local=peer",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    rmSync(pwfile, { force: true });
    if (r.end.exitCode !== 0)
      throw fleetLocalFailed("initdb failed", new Error(`exit ${r.end.exitCode}`), r.stderr.slice(-4000));
  }
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const r = await run(
      pgBin("pg_ctl"),
      [
        "-D",
        data,
        "-l",
        join(pgDir, "postgres.log"),
        "-w",
        "-t",
        "60",
        "-o",
        `-p ${port} -k ${pgDir} -c listen_addresses=127.0.0.1`,
        "start",
      ],
      90_000,
    );
    if (r.end.exitCode === 0) {
      await ensureDatabase(port, creds);
      return port;
    }
    if (attempt >= 2) {
      let log = "";
      try {
        log = readFileSync(join(pgDir, "postgres.log"), "utf8").slice(-4000);
      } catch {}
      throw fleetLocalFailed(
        "PostgreSQL did not start",
        new Error(r.stderr.trim() || `exit ${r.end.exitCode}`),
        log,
      );
    }
  }
}

async function ensureDatabase(port: number, creds: Credentials): Promise<void> {
  const { default: pg } = await import("pg");
  const c = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "hotdump",
    password: creds.pgPassword,
    database: "postgres",
  });
  await c.connect();
  try {
    const r = await c.query("SELECT 1 FROM pg_database WHERE datname = 'hotdump'");
    if (r.rowCount === 0) await c.query("CREATE DATABASE hotdump");
  } finally {
    await c.end();
  }
}

/** The bucket (with its lifecycle rule) and the schema. */
async function prepare(o: { endpoint: string; creds: Credentials; url: string }): Promise<void> {
  const objects = createObjectStore({
    bucket: BUCKET,
    prefix: "",
    endpoint: o.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: o.creds.accessKey, secretAccessKey: o.creds.secretKey },
  });
  const client = objects.client;
  try {
    await client.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((e) => {
      if (statusOf(e) !== 409) throw e;
    });
    await client
      .send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: BUCKET,
          LifecycleConfiguration: {
            Rules: [
              {
                ID: "abort-incomplete-multipart",
                Status: "Enabled",
                Filter: { Prefix: "" },
                AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
              },
            ],
          },
        }),
      )
      .catch(() => {
        // versitygw's posix back end has no lifecycle support: a local trial lives without it.
      });
  } catch (e) {
    throw fleetLocalFailed("cannot create the bucket", e);
  } finally {
    objects.close();
  }
  const catalog = await openCatalog(o.url);
  try {
    await catalog.migrate();
  } finally {
    await catalog.close();
  }
}

export async function fleetDown(dirArg: string): Promise<{ stopped: string[] }> {
  const dir = resolve(dirArg);
  const stopped: string[] = [];
  const state = readState(dir);
  if (state && alive(state.s3.pid) && cmdlineOf(state.s3.pid).some((a) => a.endsWith("versitygw"))) {
    process.kill(state.s3.pid, "SIGTERM");
    const deadline = Date.now() + 10_000;
    while (alive(state.s3.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (alive(state.s3.pid)) process.kill(state.s3.pid, "SIGKILL");
    stopped.push("versitygw");
  }
  const data = join(dir, "pg", "data");
  if (existsSync(join(data, "postmaster.pid"))) {
    const user = pgUser();
    const args = ["-D", data, "-m", "fast", "-w", "stop"];
    const r = user
      ? await runCapture(user.argv[0]!, [...user.argv.slice(1), pgBin("pg_ctl"), ...args], {
          timeoutMs: 60_000,
        })
      : await runCapture(pgBin("pg_ctl"), args, { timeoutMs: 60_000 });
    if (r.end.exitCode === 0) stopped.push("postgresql");
    else throw fleetLocalFailed("pg_ctl stop failed", new Error(r.stderr.trim() || `exit ${r.end.exitCode}`));
  }
  return { stopped };
}
