/**
 * `hotdump exec` when the Go program is not the child hotdump starts: `go run .`, `sh -c`, a wrapper
 * script (with and without `exec`), `make run`; and a crash dump far larger than the output tail.
 * Every case crashes a real program, finds its real core and proves it against the binary.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture, GO_FIXTURES } from "./helpers/go.js";
import { type Supervised, startSupervised } from "./helpers/supervised.js";

interface ExecJson {
  outcome: string;
  exitCode: number | null;
  signal: string | null;
  crash: { id: string; dir: string } | null;
  process: { pid: number; argv: string[]; exe: string; root: boolean; evidence: string } | null;
  report: {
    kind: string;
    message: string;
    culprit: { function: string; file: string; line: number } | null;
    goroutines: { total: number };
  } | null;
  core: { found: boolean; reason?: string; buildIdMatch?: boolean | null; stored?: string } | null;
  problems: { code: string; message: string }[];
}

interface Meta {
  pid: number;
  binary: { path: string; sha256?: string; goBuildId: string | null } | null;
}

/** A project directory with the service's source, its binary `./server`, and wrappers around it. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), "hotdump-desc-"));
  copyFileSync(join(GO_FIXTURES, "descsvc", "main.go"), join(dir, "main.go"));
  writeFileSync(join(dir, "go.mod"), "module example.com/svc\n\ngo 1.24\n");
  copyFileSync(buildGoFixture("descsvc"), join(dir, "server"));
  chmodSync(join(dir, "server"), 0o755);
  writeFileSync(join(dir, "start.sh"), "#!/bin/sh\necho starting\n./server panic 400\necho after\n");
  writeFileSync(join(dir, "start-exec.sh"), "#!/bin/sh\necho starting\nexec ./server panic 400\n");
  chmodSync(join(dir, "start.sh"), 0o755);
  chmodSync(join(dir, "start-exec.sh"), 0o755);
  writeFileSync(join(dir, "Makefile"), "run:\n\t./server panic 400\n");
  // As `go run` without its cache does: the binary's file is deleted while it runs.
  writeFileSync(
    join(dir, "start-tmp.sh"),
    "#!/bin/sh\ncp server tmpsrv\n(sleep 0.3; rm tmpsrv) &\n./tmpsrv panic 700\n",
  );
  chmodSync(join(dir, "start-tmp.sh"), 0o755);
  return dir;
}

async function execJson(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const store = join(cwd, ".hotdump");
  const r = await runCli(["exec", "--json", "--store", store, "--", ...args], {
    cwd,
    env: { GOFLAGS: "-buildvcs=false", ...env },
    timeoutMs: 180_000,
  });
  let json: ExecJson;
  try {
    json = JSON.parse(r.stdout) as ExecJson;
  } catch {
    throw new Error(`no JSON on stdout (exit ${r.code}); stderr:\n${r.stderr.slice(-3000)}`);
  }
  const meta = json.crash
    ? (JSON.parse(readFileSync(join(json.crash.dir, "meta.json"), "utf8")) as Meta)
    : null;
  return { r, json, meta, store };
}

/** What every descendant crash must give: its pid, its binary, its core proven by build ID, a report. */
function expectDescendantCrash(
  x: Awaited<ReturnType<typeof execJson>>,
  cwd: string,
  want: { exitCode: number; root: boolean },
) {
  const { json, meta, store } = x;
  expect(json.outcome).toBe("crash");
  // hotdump exits with the status of what it started, as a shell reports it.
  expect(x.r.code).toBe(want.exitCode);
  expect(json.process?.root).toBe(want.root);
  expect(json.process?.evidence).toBeDefined();
  // The bundle names the Go program's pid, not the wrapper's.
  expect(meta?.pid).toBe(json.process?.pid);
  const printed = /descsvc panic pid (\d+)/.exec(x.r.stderr)?.[1];
  expect(Number(printed)).toBe(json.process?.pid);
  expect(json.core?.found).toBe(true);
  expect(json.core?.buildIdMatch).toBe(true);
  expect(json.core?.stored).toBe("core.zst");
  expect(json.report?.kind).toBe("panic");
  expect(json.report?.culprit?.function).toBe("main.handle");
  // The exact binary is in the store, and the kernel's core is not left behind in the directory.
  expect(meta?.binary?.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(readdirSync(join(store, "binaries"))).toContain(meta?.binary?.sha256);
  expect(existsSync(join(cwd, "core"))).toBe(false);
}

describe("hotdump exec: crashes of descendants", () => {
  it("go run . : the program go run built", async () => {
    const cwd = project();
    const x = await execJson(cwd, ["go", "run", ".", "panic", "400"]);
    expect(x.r.stderr).toContain("signal: aborted (core dumped)"); // go run's own verdict
    expectDescendantCrash(x, cwd, { exitCode: 1, root: false });
    // go run's own binary: a temporary /tmp/go-build…/exe/svc (deleted when it ends) or, since
    // Go 1.24, a copy in the build cache; the stored copy matched the core's build ID either way.
    expect(x.json.process?.exe).toMatch(/\/svc$/);
  });

  it("go run . of a program that panics at once (it may end before a poll sees it: found by its core)", async () => {
    const cwd = project();
    const x = await execJson(cwd, ["go", "run", ".", "panic", "0"]);
    expectDescendantCrash(x, cwd, { exitCode: 1, root: false });
  });

  it("a program whose file is deleted while it runs: the copy kept through its fd", async () => {
    const cwd = project();
    const x = await execJson(cwd, ["./start-tmp.sh"]);
    expectDescendantCrash(x, cwd, { exitCode: 134, root: false });
    expect(x.json.process?.exe).toBe(join(cwd, "tmpsrv"));
    expect(existsSync(join(cwd, "tmpsrv"))).toBe(false);
  });

  it("sh -c ./server", async () => {
    const cwd = project();
    const x = await execJson(cwd, ["sh", "-c", "./server"]);
    expectDescendantCrash(x, cwd, { exitCode: 134, root: false });
    expect(x.json.process?.argv).toEqual(["./server"]);
  });

  it("a wrapper script that starts the server and carries on", async () => {
    const cwd = project();
    const x = await execJson(cwd, ["./start.sh"]);
    expect(x.r.stderr).toContain("after");
    expectDescendantCrash(x, cwd, { exitCode: 0, root: false });
  });

  it("a wrapper script that execs the server (same pid, the binary is the server's, not the script)", async () => {
    const cwd = project();
    const x = await execJson(cwd, ["./start-exec.sh"]);
    expectDescendantCrash(x, cwd, { exitCode: 134, root: true });
    expect(x.json.signal).toBe("SIGABRT");
    expect(x.json.process?.exe).toBe(join(cwd, "server"));
  });

  it("make run", async () => {
    const cwd = project();
    const x = await execJson(cwd, ["make", "run"]);
    expectDescendantCrash(x, cwd, { exitCode: 2, root: false });
  });

  it("GOTRACEBACK=all with 5,000 goroutines: an 800 KB dump is a crash, head and tail kept", async () => {
    const cwd = project();
    const x = await execJson(cwd, ["./server", "many", "5000"], { GOTRACEBACK: "all" });
    const { json } = x;
    expect(x.r.stderr.length).toBeGreaterThan(600_000); // what the terminal got
    expect(json.outcome).toBe("crash");
    expect(json.exitCode).toBe(2);
    expect(json.core?.found).toBe(false); // GOTRACEBACK=all: the runtime exits 2, no core
    expect(json.report?.kind).toBe("panic");
    expect(json.report?.message).toContain("nil pointer dereference");
    expect(json.report?.culprit?.function).toBe("main.handle");
    const stderr = readFileSync(join(json.crash!.dir, "stderr.txt"), "utf8");
    expect(stderr.length).toBeLessThan(600 * 1024); // bounded: head + tail
    expect(stderr.startsWith("panic: runtime error: invalid memory address")).toBe(true);
    const marker = /^\.\.\.hotdump: (\d+) bytes of output elided here/m.exec(stderr);
    expect(marker).not.toBeNull();
    // Kept + elided = what the terminal showed from the panic line on.
    const fromPanic = x.r.stderr.slice(x.r.stderr.indexOf("panic: runtime error"));
    const markerLine = stderr.split("\n").find((l) => l.startsWith("...hotdump:"))!;
    expect(Buffer.byteLength(stderr) - Buffer.byteLength(`${markerLine}\n`) + Number(marker![1])).toBe(
      Buffer.byteLength(fromPanic),
    );
    // The last line the program printed is the last line kept.
    expect(stderr.trimEnd().split("\n").at(-1)).toBe(fromPanic.trimEnd().split("\n").at(-1));
  });
});

describe("hotdump run: a crash in a Go process the service started", () => {
  let sup: Supervised | undefined;
  afterEach(async () => {
    await sup?.stop();
    sup = undefined;
  });

  it("is the generation's crash, with the child's pid, binary and core (the parent exited 1)", async () => {
    const cwd = project();
    const store = join(cwd, ".hotdump");
    sup = startSupervised(
      ["run", "--json-events", "--store", store, "--probe", "alive:5s", "--", "./server", "parent", "400"],
      { cwd },
    );
    const crash = await sup.waitFor((e) => e.event === "crash", 60_000, "crash event");
    const started = sup.events.find((e) => e.event === "started" && e.generation === crash.generation);
    expect(crash.pid).not.toBe(started?.pid); // the child that crashed, not the generation's parent
    const printed = [...sup.output().matchAll(/descsvc panic pid (\d+)/g)].map((m) => Number(m[1]));
    expect(printed).toContain(crash.pid);
    const dir = join(store, "crashes", crash.crashId as string);
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as Meta & {
      core: { found: boolean; buildIdMatch?: boolean | null };
      kind: string;
    };
    expect(meta.pid).toBe(crash.pid);
    expect(meta.core.found).toBe(true);
    expect(meta.core.buildIdMatch).toBe(true);
    expect(meta.kind).toBe("panic");
    expect((crash.culprit as { function: string } | null)?.function).toBe("main.handle");
  });

  it("still finds a child started after the tree settled (slow passes) that dies within 50 ms", async () => {
    const cwd = project();
    const store = join(cwd, ".hotdump");
    // The parent waits 4 s (past the tracker's 3 s settle, so passes are 500 ms apart), then its
    // child panics 50 ms after it starts: most runs no pass sees the child alive.
    sup = startSupervised(
      [
        "run",
        "--json-events",
        "--store",
        store,
        "--probe",
        "alive:1s",
        "--",
        "./server",
        "parent",
        "50",
        "4000",
      ],
      { cwd },
    );
    const crash = await sup.waitFor((e) => e.event === "crash", 60_000, "crash event");
    const started = sup.events.find((e) => e.event === "started" && e.generation === crash.generation);
    expect(crash.pid).not.toBe(started?.pid);
    const printed = [...sup.output().matchAll(/descsvc panic pid (\d+)/g)].map((m) => Number(m[1]));
    expect(printed).toContain(crash.pid);
    const meta = JSON.parse(
      readFileSync(join(store, "crashes", crash.crashId as string, "meta.json"), "utf8"),
    ) as Meta & { core: { found: boolean; buildIdMatch?: boolean | null } };
    expect(meta.pid).toBe(crash.pid);
    expect(meta.core.found).toBe(true);
    expect(meta.core.buildIdMatch).toBe(true);
    expect((crash.culprit as { function: string } | null)?.function).toBe("main.handle");
  });
});
