/**
 * The two-stage socket handoff for real: stage 1 is src/supervise/sockets.ts bundled by esbuild
 * from test/fixtures/handoff/stage1.ts and run by plain node (vite-node would not do: the Vite
 * server it runs exits with 143 on SIGTERM, hiding handoff's forwarding), stage 2 a plain-JS supervisor (stage2.mjs) starting
 * generations of a Go HTTP server (test/fixtures/go/sockserve) on the inherited fd 3.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { alive } from "../src/supervise/leftovers.js";
import { type Child, startChild } from "../src/util/child.js";
import { buildGoFixture } from "./helpers/go.js";
import { httpGet } from "./helpers/http.js";
import { withinTest } from "./helpers/testLimit.js";

const ROOT = resolve(import.meta.dirname, "..");
const ESBUILD = join(ROOT, "node_modules/.bin/esbuild");
const STAGE2 = join(ROOT, "test/fixtures/handoff/stage2.mjs");

let sockserve: string;
let stage1: string;
let bundleDir: string;
beforeAll(() => {
  sockserve = buildGoFixture("sockserve", { debug: false });
  bundleDir = mkdtempSync(join(tmpdir(), "hotdump-stage1-"));
  stage1 = join(bundleDir, "stage1.mjs");
  execFileSync(ESBUILD, [
    join(ROOT, "test/fixtures/handoff/stage1.ts"),
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--target=node20",
    `--outfile=${stage1}`,
    "--log-level=warning",
  ]);
});
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

/** A running stage 1 with its (and, through inherited stdio, stage 2's) output as lines. */
interface Stages {
  child: Child;
  lines: string[];
  pids: Set<number>;
  send(cmd: string): void;
  waitLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

const running: Stages[] = [];
const tmpDirs: string[] = [];

afterEach(async () => {
  for (const s of running.splice(0)) {
    await s.child.stop({ graceMs: 2000 });
    for (const pid of s.pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone: the normal case
      }
    }
  }
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function startStages(listen: string): Stages {
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  const pids = new Set<number>();
  let partial = "";
  const onData = (c: Buffer) => {
    partial += c.toString();
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const l of parts) {
      lines.push(l);
      for (const m of l.matchAll(/(?:pid|stage2|ready \d+) (\d+)/g)) pids.add(Number(m[1]));
    }
    for (const w of waiters.splice(0)) w();
  };
  const child = startChild(process.execPath, [stage1, STAGE2], {
    cwd: ROOT,
    env: { ...process.env, LISTEN_ADDRS: listen, SOCKSERVE: sockserve },
    stdio: ["pipe", "pipe", "pipe"],
    onStdout: onData,
    onStderr: onData,
  });
  const s: Stages = {
    child,
    lines,
    pids,
    send: (cmd) => child.proc.stdin?.write(`${cmd}\n`),
    waitLine(re, timeoutMs = 10_000) {
      let seen = 0;
      return new Promise((res, rej) => {
        const timer = setTimeout(
          () => rej(new Error(`no line ${re} in:\n${lines.join("\n")}`)),
          withinTest(timeoutMs),
        );
        const check = () => {
          for (; seen < lines.length; seen++) {
            const m = re.exec(lines[seen] as string);
            if (m) {
              clearTimeout(timer);
              res(m);
              return;
            }
          }
          waiters.push(check);
        };
        check();
      });
    },
  };
  running.push(s);
  return s;
}

const waitGone = async (pid: number, ms = 5000) => {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function boot(listen = "127.0.0.1:0") {
  const s = startStages(listen);
  const bound = await s.waitLine(/^bound \S+ (\S+) port (\S+)/);
  const st = await s.waitLine(/^stage1 pid (\d+) stage2 (\d+)/);
  await s.waitLine(/^stage2 pid \d+ ppid \d+ fds 3 /);
  return {
    s,
    display: bound[1] as string,
    port: Number(bound[2]),
    stage1: Number(st[1]),
    stage2: Number(st[2]),
  };
}

describe("socket handoff", () => {
  it("serves from a generation on the inherited socket, and stage 1 exits with stage 2's status", async () => {
    const { s, port, stage1, stage2 } = await boot();
    // setpriv exec'd node in place, so stage 2's parent is stage 1 itself.
    expect(stage1).toBe(s.child.pid);
    expect(s.lines.join("\n")).toContain(`stage2 pid ${stage2} ppid ${stage1} fds 3 names tcp-0`);
    s.send("start");
    const gen = Number((await s.waitLine(/^ready 1 (\d+)/))[1]);
    expect(await httpGet({ port })).toBe(`pid ${gen}\n`);
    s.send("quit 42");
    const end = await s.child.stopped;
    expect(end.exitCode).toBe(42);
    expect(s.lines).toContain("stage1 done status 42 accepted 0");
  });

  it("never accepts a connection in a hotdump process: it waits in the backlog for a generation", async () => {
    const { s, port, stage1, stage2 } = await boot();
    const client = connect({ host: "127.0.0.1", port });
    let reply = "";
    client.on("data", (c: Buffer) => {
      reply += c.toString();
    });
    // Registered now: on a busy machine the reply and the close can come before `ready` is read.
    const closed = new Promise((r) => client.once("close", r));
    await new Promise<void>((r, j) => client.once("connect", r).once("error", j));
    client.write("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    await sleep(300);
    try {
      // The connection is established by the kernel and queued; nobody has accept()ed it, so its
      // server side belongs to no process.
      const est = execFileSync("ss", ["-tnpH", "state", "established", `( sport = :${port} )`], {
        encoding: "utf8",
      });
      const rows = est.split("\n").filter(Boolean);
      expect(rows).toHaveLength(1);
      expect(rows[0]).not.toContain("users:");
      // The listener: one queued connection (Recv-Q), held by stage 2 only; stage 1 closed its copy.
      const lst = execFileSync("ss", ["-ltnpH", `( sport = :${port} )`], { encoding: "utf8" }).trim();
      expect(lst.split(/\s+/)[1]).toBe("1");
      expect(lst).toContain(`pid=${stage2},`);
      expect(lst).not.toContain(`pid=${stage1},`);
      expect(reply).toBe("");

      s.send("start");
      const gen = Number((await s.waitLine(/^ready 1 (\d+)/))[1]);
      await closed;
      expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(reply).toContain(`pid ${gen}\n`);
    } finally {
      client.destroy();
    }
  });

  it("switches generations with overlap without failing a request", async () => {
    const { s, port } = await boot();
    s.send("start");
    await s.waitLine(/^ready 1 \d+/);
    let switching = true;
    const results: string[] = [];
    const failures: string[] = [];
    const load = (async () => {
      for (let i = 0; i < 400 && (switching || results.length + failures.length < 100); i++) {
        try {
          results.push(await httpGet({ port }));
        } catch (e) {
          failures.push(String(e));
        }
        await sleep(10);
      }
    })();
    for (let g = 2; g <= 6; g++) {
      s.send("start");
      await s.waitLine(new RegExp(`^ready ${g} \\d+`));
      await sleep(150); // both generations accept on the same socket
      s.send(`stop ${g - 1}`);
      await s.waitLine(new RegExp(`^stopped ${g - 1} 0$`));
    }
    switching = false;
    await load;
    expect(failures).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(100);
    expect(new Set(results).size).toBeGreaterThanOrEqual(5);
  });

  it("SIGKILL of stage 1 sends stage 2 SIGTERM (pdeathsig), which stops its generations", async () => {
    const { s, stage1, stage2 } = await boot();
    s.send("start");
    const gen = Number((await s.waitLine(/^ready 1 (\d+)/))[1]);
    process.kill(stage1, "SIGKILL");
    await s.waitLine(/^stage2 got SIGTERM$/);
    expect(await waitGone(stage2)).toBe(true);
    expect(await waitGone(gen)).toBe(true);
  });

  it("forwards SIGTERM and SIGINT to stage 2, and reports a signal death as 128+N", async () => {
    const a = await boot();
    a.s.child.signal("SIGTERM");
    await a.s.waitLine(/^stage2 got SIGTERM$/);
    expect((await a.s.child.stopped).exitCode).toBe(0);

    // No controlling terminal here, so SIGINT cannot have reached stage 2 already: it is forwarded
    // (stage2.mjs has no SIGINT handler and dies of it).
    const c = await boot();
    c.s.child.signal("SIGINT");
    expect((await c.s.child.stopped).exitCode).toBe(130);

    const b = await boot();
    process.kill(b.stage2, "SIGKILL");
    expect((await b.s.child.stopped).exitCode).toBe(137);
    expect(b.s.lines).toContain("stage1 done status 137 accepted 0");
  });

  it("hands off a unix socket: replaces a stale file, keeps the path after stage 1 closes, mode 0660, removes it at the end", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-handoff-"));
    tmpDirs.push(dir);
    const path = join(dir, "app.sock");
    // A stale socket file: bound, renamed to `path`, then closed (libuv unlinks only the old name).
    const stale = createServer();
    await new Promise<void>((r) => stale.listen(`${path}.old`, r));
    execFileSync("mv", [`${path}.old`, path]);
    await new Promise((r) => stale.close(r));
    expect(statSync(path).isSocket()).toBe(true);

    const { s } = await boot(`unix://${path}`);
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    s.send("start");
    const gen = Number((await s.waitLine(/^ready 1 (\d+)/))[1]);
    expect(await httpGet({ socketPath: path })).toBe(`pid ${gen}\n`);
    s.send("quit 0");
    expect((await s.child.stopped).exitCode).toBe(0);
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });

  it("refuses a unix path that is a live socket or a regular file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-handoff-"));
    tmpDirs.push(dir);
    const live = join(dir, "live.sock");
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(live, r));
    try {
      const a = startStages(`unix://${live}`);
      await a.waitLine(/^stage1 error E_LISTEN_IN_USE .*live\.sock is in use/);
      expect((await a.child.stopped).exitCode).toBe(2);
    } finally {
      await new Promise((r) => srv.close(r));
    }
    const file = join(dir, "file.sock");
    writeFileSync(file, "keep me");
    const b = startStages(`unix://${file}`);
    await b.waitLine(/^stage1 error E_LISTEN_PATH_TAKEN /);
    expect((await b.child.stopped).exitCode).toBe(2);
  });
});
