/**
 * `hotdump run` and `hotdump dev` when what they start is not the Go program: a `#!` wrapper script
 * (which starts the binary, or execs it), `sh -c`, and dev's [run] command wrapper. Each crashes a
 * real Go service under the wrapper and checks the crash is the generation's, with the Go
 * program's pid, its exact binary and its core proven by build ID.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture, GO_FIXTURES } from "./helpers/go.js";
import { httpGet } from "./helpers/http.js";
import { runArgs, useScratch } from "./helpers/scratch.js";
import type { Event } from "./helpers/supervised.js";

const scratch = useScratch("hotdump-script-");

/** A project with crashsvc as ./server and wrappers around it. */
function project(): string {
  const dir = scratch.dir();
  copyFileSync(buildGoFixture("crashsvc"), join(dir, "server"));
  chmodSync(join(dir, "server"), 0o755);
  // A wrapper that sets the environment and waits for the server (its shell outlives the crash).
  writeFileSync(
    join(dir, "start.sh"),
    "#!/bin/sh\nAPP_ENV=prod; export APP_ENV\n./server\necho server ended\n",
  );
  writeFileSync(join(dir, "start-exec.sh"), "#!/bin/sh\nexec ./server\n");
  chmodSync(join(dir, "start.sh"), 0o755);
  chmodSync(join(dir, "start-exec.sh"), 0o755);
  return dir;
}

interface Meta {
  pid: number;
  generation?: number | null;
  binary: { path: string; sha256?: string; goBuildId: string | null } | null;
  core: { stored?: string; buildIdMatch?: boolean | null } | null;
}

const sha256 = (file: string) => execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0];
const goBuildId = (file: string) =>
  execFileSync("go", ["tool", "buildid", file], { encoding: "utf8" }).trim();

/** Serve through the wrapper, crash the server, and check the crash is the Go program's. */
async function serveAndCrash(cwd: string, command: string[]) {
  const port = await freePort();
  const store = join(cwd, ".hotdump");
  const sup = scratch.start(runArgs(store, `127.0.0.1:${port}`, [], command), { cwd });
  const ready = await sup.waitFor((e) => e.event === "ready", 30_000, "generation ready");
  const program = await sup.waitFor((e) => e.event === "program", 10_000, "the Go program found");
  // The server answers with its own pid: the Go program, found under the wrapper.
  const served = await httpGet(port);
  expect(served).toBe(`up pid ${program.pid}\n`);
  expect(program.generation).toBe(ready.generation);
  expect(program.sha256).toBe(sha256(join(cwd, "server")));
  expect(program.goBuildId).toBe(goBuildId(join(cwd, "server")));
  // Said once, in one line, that this is not a Go binary.
  expect(sup.output().match(/not a Go binary: hotdump follows the Go programs it starts/g)).toHaveLength(1);

  expect(await httpGet(port, "/crash")).toMatch(/crashing/);
  const crash = await sup.waitFor(
    (e: Event) => e.event === "crash" && e.generation === ready.generation,
    60_000,
    "crash captured",
  );
  expect(crash.pid).toBe(program.pid);
  expect(crash.culprit).toMatchObject({ function: "main.settle" });
  const meta = JSON.parse(
    readFileSync(join(store, "crashes", crash.crashId as string, "meta.json"), "utf8"),
  ) as Meta;
  expect(meta.pid).toBe(program.pid);
  expect(meta.binary?.sha256).toBe(sha256(join(cwd, "server")));
  expect(readdirSync(join(store, "binaries"))).toContain(meta.binary?.sha256);
  expect(meta.core?.stored).toBe("core.zst");
  expect(meta.core?.buildIdMatch).toBe(true);
  // The kernel's core was taken out of the directory; `run` restarted the wrapper.
  expect(existsSync(join(cwd, "core"))).toBe(false);
  const next = await sup.waitFor(
    (e) => e.event === "program" && (e.generation as number) === ready.generation && e.pid !== program.pid,
    30_000,
    "restarted",
  );
  expect(await httpGet(port)).toBe(`up pid ${next.pid}\n`);
  // The generation on record is the Go program, not the script.
  const hist = await runCli(["history", "--json", "--store", store], { cwd });
  const gen = (JSON.parse(hist.stdout) as { generation: number; sha256: string }[]).find(
    (g) => g.generation === ready.generation,
  );
  expect(gen?.sha256).toBe(sha256(join(cwd, "server")));
  expect(await sup.stop("SIGTERM")).toBe(0);
  return { program, crash, meta };
}

describe("run -- a script or sh -c that starts the Go service", () => {
  it("./start.sh (the shell waits for the server): serves, and a crash is the server's", async () => {
    const cwd = project();
    await serveAndCrash(cwd, ["./start.sh"]);
  }, 120_000);

  it("./start-exec.sh (exec: the script's pid becomes the server's)", async () => {
    const cwd = project();
    await serveAndCrash(cwd, ["./start-exec.sh"]);
  }, 120_000);

  it("sh -c './server'", async () => {
    const cwd = project();
    await serveAndCrash(cwd, ["sh", "-c", "./server"]);
  }, 120_000);

  it("refuses --sha256 for sh -c, and a script that is not executable, each in one line", async () => {
    const cwd = project();
    const port = await freePort();
    const args = ["run", "--store", join(cwd, ".hotdump"), "--listen", `127.0.0.1:${port}`];
    const shell = await runCli([...args, "--sha256", "0".repeat(64), "--", "sh", "-c", "./server"], {
      cwd,
      timeoutMs: 30_000,
    });
    expect(shell.code).toBe(1);
    expect(shell.stderr).toMatch(
      /--sha256 is about the file run starts, here the shell .*\[E_RUN_SHELL_FLAG\]/,
    );
    chmodSync(join(cwd, "start.sh"), 0o644);
    const noexec = await runCli([...args, "--", "./start.sh"], { cwd, timeoutMs: 30_000 });
    expect(noexec.code).toBe(1);
    expect(noexec.stderr).toMatch(/is a script but not executable \(chmod \+x/);
    expect(`${shell.stderr}${noexec.stderr}`).not.toMatch(/at .*\.js:\d+/);
  }, 60_000);

  it("checks a script's own SHA-256 with --sha256", async () => {
    const cwd = project();
    const port = await freePort();
    const r = await runCli(
      [
        "run",
        "--store",
        join(cwd, ".hotdump"),
        "--listen",
        `127.0.0.1:${port}`,
        "--sha256",
        "a".repeat(64),
        "--",
        "./start.sh",
      ],
      { cwd, timeoutMs: 30_000 },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /start\.sh has SHA-256 [0-9a-f]{12}…, expected aaaaaaaaaaaa…: refusing to start it/,
    );
  }, 60_000);
});

describe("dev with [run] command: the built binary started through a wrapper", () => {
  it("a crash of the Go program under the wrapper is that generation's, with its pid, binary and core", async () => {
    const cwd = scratch.dir();
    copyFileSync(join(GO_FIXTURES, "descsvc", "main.go"), join(cwd, "main.go"));
    writeFileSync(join(cwd, "go.mod"), "module example.com/svc\n\ngo 1.24\n");
    mkdirSync(join(cwd, "scripts"));
    // Not `exec`: the wrapper's shell outlives the program and exits with its own status.
    writeFileSync(
      join(cwd, "scripts", "dev.sh"),
      '#!/bin/sh\necho "wrapper starts $1"\nAPP_ENV=dev "$@"\necho "wrapper: status $?"\n',
    );
    chmodSync(join(cwd, "scripts", "dev.sh"), 0o755);
    writeFileSync(
      join(cwd, "hotdump.toml"),
      '[run]\ncommand = ["./scripts/dev.sh", "{bin}"]\nargs = ["panic", "1500"]\n\n[supervise]\nprobe = "alive:300ms"\n',
    );
    const store = join(cwd, ".hotdump");
    const sup = scratch.start(["dev", "--json-events"], { cwd, env: { GOFLAGS: "-buildvcs=false" } });
    const built = await sup.waitFor((e) => e.event === "build-ok", 120_000, "first build");
    const crash = await sup.waitFor(
      (e) => e.event === "crash" && e.generation === built.generation,
      90_000,
      "crash captured",
    );
    const out = sup.output();
    // {bin} is the stored binary's pinned second name (src/supervise/pinnedProgram.ts).
    expect(out).toMatch(new RegExp(`wrapper starts ${store}/tmp/hotdump-start-\\d+-${built.sha256}-\\w+/`));
    expect(out).toMatch(/wrapper: status 134/);
    const goPid = Number(/descsvc panic pid (\d+)/.exec(out)?.[1]);
    const started = sup.events.find((e) => e.event === "started" && e.generation === built.generation);
    // The crash is the Go program's (a child of the wrapper), not the wrapper's.
    expect(goPid).toBeGreaterThan(0);
    expect(started?.pid).not.toBe(goPid);
    expect(crash.pid).toBe(goPid);
    expect(crash.culprit).toMatchObject({ function: "main.handle" });
    const meta = JSON.parse(
      readFileSync(join(store, "crashes", crash.crashId as string, "meta.json"), "utf8"),
    ) as Meta;
    expect(meta.pid).toBe(goPid);
    expect(meta.generation).toBe(built.generation);
    expect(meta.binary?.sha256).toBe(built.sha256);
    expect(meta.core?.stored).toBe("core.zst");
    expect(meta.core?.buildIdMatch).toBe(true);
    expect(existsSync(join(cwd, "core"))).toBe(false);
  }, 240_000);
});
