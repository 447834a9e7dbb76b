import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";

const tmp = () => mkdtempSync(join(tmpdir(), "hotdump-exec-"));

interface ExecJson {
  outcome: string;
  exitCode: number | null;
  signal: string | null;
  crash: { id: string; dir: string } | null;
  stderrTail: string;
  report: {
    kind: string;
    message: string;
    value: string | null;
    culprit: { function: string; file: string; line: number } | null;
    goroutine: {
      id: number;
      frames: { function: string; locals: { name: string; value: string }[] }[];
    } | null;
    goroutines: { total: number; groups: { count: number }[] };
    sources: Record<string, { used: boolean; note?: string }>;
  } | null;
  core: { found: boolean; reason?: string; buildIdMatch?: boolean | null; stored?: string } | null;
  problems: { code: string; message: string }[];
}

async function execJson(args: string[], cwd = tmp(), env: NodeJS.ProcessEnv = {}) {
  const store = join(cwd, ".hotdump");
  const r = await runCli(["exec", "--json", "--store", store, "--", ...args], { cwd, env });
  return { r, json: JSON.parse(r.stdout) as ExecJson, store, cwd };
}

describe("hotdump exec", () => {
  it("captures a goroutine panic: bundle, core proven by build ID, Delve report, program's own status", async () => {
    const bin = buildGoFixture("exectarget");
    const { r, json, store } = await execJson([bin, "panic"]);
    expect(r.code).toBe(134); // 128 + SIGABRT, as a shell reports it
    expect(json.outcome).toBe("crash");
    expect(json.signal).toBe("SIGABRT");
    expect(json.crash?.id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
    expect(json.core?.found).toBe(true);
    expect(json.core?.buildIdMatch).toBe(true);
    expect(json.report?.kind).toBe("panic");
    expect(json.report?.message).toContain("nil pointer dereference");
    expect(json.report?.culprit?.function).toBe("main.process");
    expect(json.report?.culprit?.line).toBe(19);
    expect(json.report?.sources.delve?.used).toBe(true);
    const frame = json.report?.goroutine?.frames.find((f) => f.function === "main.process");
    expect(frame?.locals.find((l) => l.name === "secret")?.value).toBe('"tok-12345"');
    expect(json.report?.goroutines.total).toBeGreaterThan(1);
    // The memory map, rebuilt from the core: the binary's text mapped r-x from the file.
    const map = (json.report as unknown as { memoryMap: { perms: string; file?: string; offset?: string }[] })
      .memoryMap;
    expect(map.find((m) => m.perms === "r-x" && m.file === bin)?.offset).toBe("0x0");
    // The program's own output went to stderr, so stdout holds exactly one JSON document.
    expect(r.stderr).toContain("exectarget panic");
    // What the bundle holds, and who may read it.
    const dir = json.crash!.dir;
    expect(readdirSync(dir).sort()).toEqual([
      "core.zst",
      "meta.json",
      "report.json",
      "stderr.txt",
      "stdout.txt",
    ]);
    expect(statSync(store).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
    expect(meta.state).toBe("complete");
    expect(meta.binary.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(join(store, "binaries", meta.binary.sha256))).toBe(true);
    expect(meta.binary.goBuildId).toBeTruthy();
    expect(meta.binary.gnuBuildId).toMatch(/^[0-9a-f]{40}$/);
    // Environment names only, never values.
    expect(meta.envNames).toContain("PATH");
    expect(JSON.stringify(meta)).not.toContain(process.env.PATH);
  });

  it("--redact masks secret-looking locals in the stored report too", async () => {
    const cwd = tmp();
    const store = join(cwd, ".hotdump");
    const r = await runCli(
      ["exec", "--json", "--redact", "--store", store, "--", buildGoFixture("exectarget"), "panic"],
      { cwd },
    );
    const json = JSON.parse(r.stdout) as ExecJson;
    const frame = json.report?.goroutine?.frames.find((f) => f.function === "main.process");
    expect(frame?.locals.find((l) => l.name === "secret")?.value).toBe("[redacted]");
    // No value read from the core carries it (the source lines shown around a frame are the
    // program's own text, not memory).
    const stored = JSON.parse(readFileSync(join(json.crash!.dir, "report.json"), "utf8")) as {
      goroutine: { frames: { args: { value: string }[]; locals: { value: string }[] }[] };
    };
    const values = stored.goroutine.frames.flatMap((f) => [...f.args, ...f.locals].map((v) => v.value));
    expect(values.length).toBeGreaterThan(0);
    expect(values.join("\n")).not.toContain("tok-12345");
  });

  it("decodes a struct panic value the traceback prints only as an address", async () => {
    const { json } = await execJson([buildGoFixture("exectarget"), "fault"]);
    expect(json.report?.message).toMatch(/^\(main\.Fault\) 0x[0-9a-f]+$/);
    expect(json.report?.value).toBe('main.Fault {Code: 503, Reason: "overload"}');
  });

  it("a stack overflow (a 1 GB stack in the core) is a fatal error with its culprit, stored small", async () => {
    const { json } = await execJson([buildGoFixture("exectarget"), "overflow"]);
    expect(json.outcome).toBe("crash");
    expect(json.report?.kind).toBe("fatal");
    expect(json.report?.message).toBe("stack overflow");
    expect(json.report?.culprit?.function).toBe("main.recurse");
    expect(json.report?.sources.delve?.used).toBe(true);
    expect(json.core?.buildIdMatch).toBe(true);
    const core = json.core as unknown as { bytes: number; storedBytes: number };
    expect(core.bytes).toBeGreaterThan(1_000_000_000);
    expect(core.storedBytes).toBeLessThan(core.bytes / 50);
  });

  it("flags a core cut short by a hard core limit, and still names the culprit", async () => {
    const cwd = tmp();
    const store = join(cwd, ".hotdump");
    // The hard limit is what hotdump can raise the child's soft limit to: 1 MiB cuts the core.
    const r = await runCli(
      ["exec", "--json", "--store", store, "--", buildGoFixture("exectarget"), "panic"],
      {
        cwd,
        under: ["prlimit", "--core=1048576:1048576"],
      },
    );
    const json = JSON.parse(r.stdout) as ExecJson & { report: { warnings: string[] } };
    expect(json.core?.found).toBe(true);
    expect((json.core as { truncated?: boolean }).truncated).toBe(true);
    expect(json.report.warnings.join("\n")).toMatch(/truncated/);
    expect(json.report.culprit?.function).toBe("main.process");
  });

  it("os.Exit(3) and log.Fatal are exits, not crashes", async () => {
    const bin = buildGoFixture("exectarget");
    const a = await execJson([bin, "exit3"]);
    expect(a.r.code).toBe(3);
    expect([a.json.outcome, a.json.crash]).toEqual(["exit", null]);
    const b = await execJson([bin, "logfatal"]);
    expect(b.r.code).toBe(1);
    expect(b.json.outcome).toBe("exit");
    expect(b.json.stderrTail).toContain("config missing");
    expect(existsSync(join(b.store, "crashes")) ? readdirSync(join(b.store, "crashes")) : []).toEqual([]);
  });

  it("a kill from outside is `killed`, and says no core is possible", async () => {
    const cwd = tmp();
    const bin = buildGoFixture("exectarget");
    const p = runCli(["exec", "--json", "--store", join(cwd, ".hotdump"), "--", bin, "sleep"], { cwd });
    // Find the child by its command line and kill it as the OOM killer would.
    let pid: number | undefined;
    for (let i = 0; i < 100 && !pid; i++) {
      await new Promise((r) => setTimeout(r, 50));
      for (const d of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
        try {
          if (readFileSync(`/proc/${d}/cmdline`, "utf8") === `${bin}\0sleep\0`) pid = Number(d);
        } catch {}
      }
    }
    expect(pid).toBeDefined();
    process.kill(pid!, "SIGKILL");
    const r = await p;
    const json = JSON.parse(r.stdout) as ExecJson & { note?: string };
    expect(r.code).toBe(137);
    expect(json.outcome).toBe("killed");
    expect(json.note).toMatch(/no core is possible/);
  });

  it("with the user's own GOTRACEBACK a panic exits 2: still a crash, without a core, with the reason", async () => {
    const { r, json } = await execJson([buildGoFixture("exectarget"), "panic"], tmp(), {
      GOTRACEBACK: "single",
    });
    expect(r.code).toBe(2);
    expect(json.outcome).toBe("crash");
    expect(json.core?.found).toBe(false);
    expect(json.core?.reason).toMatch(/GOTRACEBACK/);
    expect(json.report?.culprit?.function).toBe("main.process");
    expect(json.report?.sources.traceback?.used).toBe(true);
  });

  it("keeps the binary that really ran when the file is replaced while it runs", async () => {
    const cwd = tmp();
    const bin = join(cwd, "svc");
    copyFileSync(buildGoFixture("exectarget"), bin);
    chmodSync(bin, 0o755);
    const { json } = await execJson([bin, "replace"], cwd);
    expect(json.outcome).toBe("crash");
    expect(readFileSync(bin, "utf8")).toContain("replaced");
    expect(json.core?.buildIdMatch).toBe(true);
    expect(json.report?.culprit?.function).toBe("main.main");
    expect(json.report?.sources.delve?.used).toBe(true);
  });

  it("a store that cannot be written loses the bundle, never the crash", async () => {
    const cwd = tmp();
    const ro = join(cwd, "ro");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(ro);
    // root ignores permission bits, so use a path under a regular file: ENOTDIR for everyone.
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(ro, "file"), "");
    const r = await runCli(
      ["exec", "--json", "--store", join(ro, "file", "store"), "--", buildGoFixture("exectarget"), "panic"],
      { cwd },
    );
    const json = JSON.parse(r.stdout) as ExecJson;
    expect(json.outcome).toBe("crash");
    expect(json.crash).toBeNull();
    expect(json.report?.culprit?.function).toBe("main.process");
    expect(json.problems[0]?.code).toBe("E_STORE_UNWRITABLE");
    expect(r.stderr).toMatch(/cannot write the store/);
  });

  it("bad input gets one clear line with a code, no stack trace", async () => {
    const missing = await runCli(["exec", "--", "./no-such-program"], { cwd: tmp() });
    expect(missing.code).toBe(127);
    expect(missing.stderr.trim()).toBe(
      "hotdump: no such file: ./no-such-program (build it first: go build -o ./no-such-program .) [E_EXEC_NOT_FOUND]",
    );
    const none = await runCli(["exec"], { cwd: tmp() });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/missing command.*\[E_USAGE\]/);
    expect(none.stderr).not.toMatch(/\n\s+at /);
  });

  it("crashes, report and debug --vscode read the store", async () => {
    const { json, store, cwd } = await execJson([buildGoFixture("exectarget"), "fault"]);
    const list = await runCli(["crashes", "--json", "--store", store], { cwd });
    const rows = JSON.parse(list.stdout) as { id: string; message: string; culprit: string }[];
    expect(rows[0]?.id).toBe(json.crash?.id);
    expect(rows[0]?.message).toBe('main.Fault {Code: 503, Reason: "overload"}');
    for (const format of ["text", "md", "html", "json"]) {
      const rep = await runCli(["report", "--store", store, "--format", format, json.crash!.id], { cwd });
      expect(rep.stderr).toBe("");
      expect(rep.code).toBe(0);
      expect(rep.stdout).toContain("main.go");
    }
    const bad = await runCli(["report", "--store", store, "../../etc/passwd"], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a crash id/);
    // A scripted Delve session on the exact binary and core, starting on the crashing goroutine.
    const dbg = await runCli(["debug", "--store", store, "latest"], { cwd, input: "bt\nexit\n" });
    expect(dbg.stdout).toMatch(/main\.main/);
    expect(dbg.code).toBe(0);
    expect(readdirSync(join(store, "cache"))).toEqual([]);
    const vs = await runCli(["debug", "--store", store, "--vscode", "latest"], { cwd });
    expect(vs.code).toBe(0);
    const launch = JSON.parse(readFileSync(join(cwd, ".vscode", "launch.json"), "utf8"));
    expect(launch.configurations[0].mode).toBe("core");
    expect(statSync(launch.configurations[0].coreFilePath).size).toBeGreaterThan(1_000_000);
  });
});
