/**
 * Faults: hotdump itself SIGKILLed mid-capture and mid-analysis, and a store on a full disk.
 * Nothing may be lost or left behind: the half-written bundle says "capturing" and `hotdump
 * crashes` calls it incomplete, the journal passes SQLite's integrity check after a restart, no
 * helper (zstd, dlv) outlives hotdump, and a crash whose bundle cannot be written is still
 * reported from its traceback with the reason.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { HOTDUMP, runCli } from "./helpers/cli.js";
import { integrityCheck, processesMentioning, until } from "./helpers/faults.js";
import { buildGoFixture } from "./helpers/go.js";
import { httpGet } from "./helpers/http.js";
import { runArgs, useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-faults-");
const tmp = () => scratch.dir();

/** Fill a file system to its last byte (dd ends with ENOSPC, as a runaway log would). */
function fill(dir: string): void {
  try {
    execFileSync("dd", ["if=/dev/zero", `of=${join(dir, "filler")}`, "bs=64k"], { stdio: "ignore" });
  } catch {
    // "No space left on device": the point
  }
}

function startExec(store: string, cwd: string, args: string[]): ChildProcess {
  const p = spawn(process.execPath, [HOTDUMP, "exec", "--json", "--store", store, "--", ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  p.stdout!.resume();
  p.stderr!.resume();
  return scratch.track(p);
}

const onlyBundle = (store: string) => {
  const ids = existsSync(join(store, "crashes")) ? readdirSync(join(store, "crashes")) : [];
  return ids.length === 1 ? join(store, "crashes", ids[0]!) : undefined;
};

describe("hotdump SIGKILLed mid-capture", () => {
  for (const helper of ["zstd", "dlv"] as const) {
    it(`while ${helper} works on the core: bundle marked incomplete, nothing left running, store usable after restart`, async () => {
      const bin = buildGoFixture("capcrash");
      const cwd = tmp();
      const store = join(cwd, ".hotdump");
      // 300 MB touched: the core is big enough that zstd and dlv are each seen running.
      const p = startExec(store, cwd, [bin, "crash", "300"]);
      const seen = await until(
        () => processesMentioning(cwd, [p.pid!]).find((l) => l.includes(helper)),
        30_000,
        `${helper} running on the capture`,
      );
      expect(seen).toContain(cwd);
      p.kill("SIGKILL");
      await new Promise((r) => p.once("close", r));

      // No helper outlives hotdump (dlv used to stay listening on loopback forever).
      const left = await until(
        () => {
          const l = processesMentioning(cwd);
          return l.length === 0 ? l : undefined;
        },
        5_000,
        "helpers to end",
      ).catch(() => processesMentioning(cwd));
      expect(left).toEqual([]);

      const dir = onlyBundle(store)!;
      expect(dir).toBeDefined();
      const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
      expect(meta.state).toBe("capturing");
      expect(readFileSync(join(dir, "stderr.txt"), "utf8")).toContain("panic");
      // The kernel's core is still where it was: nothing is lost until our copy is safe.
      expect(readdirSync(cwd).some((f) => f === "core" || f.startsWith("core."))).toBe(true);

      const listed = await runCli(["crashes", "--all", "--store", store], { cwd });
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/incomplete\s+capture interrupted/);

      // Restart: the next crash into the same store is captured completely, beside the marked one.
      const cwd2 = tmp();
      const r = await runCli(["exec", "--json", "--store", store, "--", bin, "crash"], { cwd: cwd2 });
      const json = JSON.parse(r.stdout);
      expect(json.outcome).toBe("crash");
      expect(json.problems).toEqual([]);
      const all = JSON.parse((await runCli(["crashes", "--json", "--store", store], { cwd })).stdout);
      expect(all.map((c: { state: string }) => c.state).sort()).toEqual(["capturing", "complete"]);
      expect(integrityCheck(store)).toBe("ok");
    }, 60_000);
  }
});

describe("disk full while the core is written", () => {
  it("a store on a full 20 MB tmpfs: the crash is still reported from its traceback, and why the bundle is short", async () => {
    const bin = buildGoFixture("capcrash");
    const cwd = tmp();
    const mnt = scratch.tmpfs(cwd, "20m");
    const store = join(mnt, ".hotdump");
    // Leave 64 KB: the bundle directory and meta.json fit, the compressed core (MBs) does not.
    writeFileSync(join(mnt, "filler"), Buffer.alloc(20 * 1024 * 1024 - 64 * 1024, 1));
    const r = await runCli(["exec", "--json", "--store", store, "--", bin, "crash", "64"], { cwd });
    expect(r.code).toBe(134);
    const json = JSON.parse(r.stdout);
    expect(json.outcome).toBe("crash");
    expect(json.report.kind).toBe("panic");
    expect(json.report.message).toContain("nil pointer dereference");
    expect(json.report.culprit?.function).toMatch(/^main\./);
    expect(json.problems.length).toBeGreaterThan(0);
    expect(JSON.stringify(json.problems)).toMatch(/ENOSPC|no space|full/i);
    // The core was not lost: it stays where the kernel wrote it when our copy failed.
    expect(json.core.found).toBe(true);
    expect(json.core.stored).toBeUndefined();
    expect(readdirSync(cwd).some((f) => f === "core" || f.startsWith("core."))).toBe(true);
  }, 60_000);
});

describe("the kernel's core is deleted only once our copy is durable", () => {
  it("fsyncs core.zst, the bundle directory and crashes/ before unlinking the original (strace)", async () => {
    const bin = buildGoFixture("capcrash");
    const cwd = tmp();
    const store = join(cwd, ".hotdump");
    const trace = join(cwd, "trace.txt");
    // -y prints each fd's path, -f follows zstd and the service: the order of these syscalls as the
    // kernel saw them, not as hotdump believes it made them.
    const r = await runCli(["exec", "--json", "--store", store, "--", bin, "crash"], {
      cwd,
      under: [
        "strace",
        "-f",
        "-qq",
        "-y",
        "-e",
        "trace=fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat",
        "-o",
        trace,
      ],
    });
    expect(r.code).toBe(134);
    // A call strace split across threads is joined back with its padding (`>)      = 0`).
    const lines = joinResumed(readFileSync(trace, "utf8").split("\n")).filter(
      (l) => !/ENOENT|\+\+\+/.test(l),
    );
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const original = at(new RegExp(`unlink(at)?\\(.*"${cwd}/core"\\)\\s+= 0`));
    const dataSync = at(/fsync\(\d+<.*\/crashes\/[^/>]+\/core\.zst\.partial>\)\s+= 0/);
    const renamed = at(/rename(at2?)?\(.*core\.zst\.partial", .*core\.zst"/);
    const dirSync = at(/fsync\(\d+<.*\/crashes\/\d{8}-\d{6}-[0-9a-f]{4}>\)\s+= 0/);
    const parentSync = at(/fsync\(\d+<.*\/\.hotdump\/crashes>\)\s+= 0/);
    expect(original, lines.join("\n")).toBeGreaterThan(0);
    for (const i of [dataSync, renamed, dirSync, parentSync]) {
      expect(i, lines.join("\n")).toBeGreaterThanOrEqual(0);
      expect(i).toBeLessThan(original);
    }
    expect(dataSync).toBeLessThan(renamed);
    expect(renamed).toBeLessThan(dirSync);
    expect(existsSync(join(cwd, "core"))).toBe(false);
  }, 60_000);
});

describe("hotdump run while its store's disk is full", () => {
  it("keeps the service answering, reports a crash with the reason, and writes again when space returns", async () => {
    const bin = buildGoFixture("crashsvc");
    const cwd = tmp();
    // Room for the stored binary (~9 MB) and a journal; then the disk fills up.
    const mnt = scratch.tmpfs(cwd, "32m");
    const store = join(mnt, ".hotdump");
    const port = await freePort();
    const sup = scratch.start(runArgs(store, `127.0.0.1:${port}`, [], [bin]), { cwd });
    const first = await sup.waitFor((e) => e.event === "ready", 30_000, "generation ready");
    expect(await httpGet(port)).toMatch(/^up pid /);
    fill(mnt);
    expect(execFileSync("df", ["--output=avail", mnt], { encoding: "utf8" })).toMatch(/\n\s*0\s*$/);

    // A crash on the full disk: the service comes back and answers, the crash is reported
    // with why its bundle is missing, and the supervisor is still there.
    expect(await httpGet(port, "/crash")).toMatch(/crashing/);
    const crash = await sup.waitFor((e) => e.event === "crash", 60_000, "crash on a full disk");
    expect(crash.pid).toBe(first.pid);
    expect(crash.crashId).toBeNull();
    expect(crash.message).toContain("nil pointer dereference");
    expect(JSON.stringify(crash.problems)).toMatch(/ENOSPC|no space|disk full/i);
    await sup.waitFor((e) => e.event === "ready" && e.pid !== first.pid, 30_000, "restarted");
    const body = await httpGet(port);
    expect(body).toMatch(/^up pid \d+/);
    expect(body).not.toContain(`pid ${first.pid}\n`);
    expect(sup.proc.exitCode).toBeNull();
    expect(sup.output()).toMatch(/cannot write the journal \(disk full: SQLITE_FULL\)/);
    expect(sup.output()).not.toMatch(/internal error|ENOSPC[^\n]*\n\s+at /);
    // The kernel's core was not lost: set aside by pid where the kernel wrote it.
    expect(readdirSync(cwd)).toContain(`core.${first.pid}`);

    // Space returns: the next crash is stored in full, and what was held reaches the journal.
    rmSync(join(mnt, "filler"));
    const secondPid = (await sup.waitFor((e) => e.event === "ready" && e.pid !== first.pid)).pid;
    expect(await httpGet(port, "/crash")).toMatch(/crashing/);
    const again = await sup.waitFor(
      (e) => e.event === "crash" && e.pid === secondPid,
      60_000,
      "crash after space returned",
    );
    expect(again.crashId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
    expect(again.problems).toEqual([]);
    await sup.waitFor((e) => e.event === "ready" && e.pid !== secondPid && e.pid !== first.pid);
    expect(await httpGet(port)).toMatch(/^up pid /);
    expect(await sup.stop("SIGTERM")).toBe(0);
    const db = new Database(join(store, "journal.db"), { readonly: true });
    try {
      const crashes = db.prepare("SELECT pid FROM events WHERE event = 'crash' ORDER BY id").all();
      expect(crashes).toEqual([{ pid: first.pid }, { pid: secondPid }]);
    } finally {
      db.close();
    }
    expect(integrityCheck(store)).toBe("ok");
  }, 200_000);
});

/**
 * strace -f prints a syscall that another thread interrupts as `PID name(args <unfinished ...>` and,
 * later, `PID <... name resumed>rest`: join the two at the place it completed, so a busy machine's
 * trace reads like a quiet one's.
 */
function joinResumed(raw: string[]): string[] {
  const open = new Map<string, string>();
  const out: string[] = [];
  for (const l of raw) {
    const unfinished = /^(\d+)\s+(.*) <unfinished \.\.\.>$/.exec(l);
    if (unfinished) {
      open.set(unfinished[1]!, unfinished[2]!);
      continue;
    }
    const resumed = /^(\d+)\s+<\.\.\. \w+ resumed>(.*)$/.exec(l);
    if (resumed && open.has(resumed[1]!)) {
      out.push(`${resumed[1]} ${open.get(resumed[1]!)}${resumed[2]}`);
      open.delete(resumed[1]!);
      continue;
    }
    out.push(l);
  }
  return out;
}
