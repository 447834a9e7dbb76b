/**
 * Security review as tests: the store is private (0700 directories, 0600 files), the control
 * socket admits only its owner, no crash id leaves the store, environment values never reach the
 * bundle (names only), arguments are argv and never shell text, and hostile config values get
 * clear errors. The UI's loopback binding and token are covered in test/ui.test.ts.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/index.js";
import { isHotdumpError } from "../src/errors.js";
import { runCli } from "./helpers/cli.js";
import { until } from "./helpers/faults.js";
import { buildGoFixture } from "./helpers/go.js";
import { runArgs, useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-sec-");

function walk(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    out.push(p);
    if (statSync(p).isDirectory()) walk(p, out);
  }
  return out;
}

describe("the crash store", () => {
  it("is 0700 all the way down, every file 0600; env values stay out of the bundle; argv is never shell text", async () => {
    const bin = buildGoFixture("capcrash");
    const { cwd, store } = scratch.project();
    const pwned = join(cwd, "pwned");
    const r = await runCli(["exec", "--json", "--store", store, "--", bin, "crash", `$(touch ${pwned})`], {
      cwd,
      env: { SECRET_TOKEN: "hunter2", DB_PASSWORD: "s3cr3t-hunter2-pw" },
    });
    const json = JSON.parse(r.stdout);
    expect(json.outcome).toBe("crash");
    expect(existsSync(pwned)).toBe(false);
    const meta = JSON.parse(readFileSync(join(json.crash.dir, "meta.json"), "utf8"));
    expect(meta.cmdline).toContain(`$(touch ${pwned})`);
    expect(meta.envNames).toEqual(expect.arrayContaining(["SECRET_TOKEN", "DB_PASSWORD"]));
    const entries = walk(store);
    expect(entries.length).toBeGreaterThan(5);
    expect(statSync(store).mode & 0o777).toBe(0o700);
    for (const p of entries) {
      const st = statSync(p);
      // Stored binaries are read-only for their owner (0500): run, never changed in place.
      const want = st.isDirectory() ? "700" : p.includes("/binaries/") ? "500" : "600";
      expect([p, (st.mode & 0o777).toString(8)]).toEqual([p, want]);
      // Every file of the store but the core (which holds the process's memory, secrets and all).
      if (st.isFile() && !/core\.(zst|gz)$/.test(p))
        expect([p, readFileSync(p).includes("hunter2")]).toEqual([p, false]);
    }
  }, 60_000);

  it("no crash id, however written, reaches outside the store", async () => {
    const { cwd, store } = scratch.project();
    const bin = buildGoFixture("capcrash");
    await runCli(["exec", "--store", store, "--", bin, "crash"], { cwd });
    // A bundle-shaped directory outside the store, with a marker a leak would print.
    for (const d of [join(cwd, "evil"), join(cwd, ".hotdump-evil")]) {
      mkdirSync(d);
      writeFileSync(
        join(d, "meta.json"),
        JSON.stringify({ id: "evil", state: "complete", core: { found: false }, message: "LEAKED-MARKER" }),
      );
      writeFileSync(join(d, "report.json"), JSON.stringify({ message: "LEAKED-MARKER" }));
    }
    const ids = [
      "../../evil",
      "../evil",
      "..",
      "/etc",
      `${cwd}/evil`,
      "..%2f..%2fevil",
      "latest/../../evil",
      "20260101-000000-abcd/../../../evil",
      "-x",
    ];
    for (const id of ids) {
      for (const cmd of [
        ["report", id],
        ["debug", id],
        ["scan", id, "--ascii", "x"],
        ["eval", id, "1"],
      ]) {
        const r = await runCli([...cmd, "--store", store], { cwd, timeoutMs: 20_000 });
        const what = `${cmd.join(" ")} → ${r.code} ${r.stderr.slice(0, 200)}`;
        expect(r.code, what).not.toBe(0);
        expect(r.stdout + r.stderr, what).not.toContain("LEAKED-MARKER");
        expect(r.stderr, what).not.toMatch(/\n\s+at .*\.js:\d+/);
      }
    }
  }, 60_000);
});

describe("the control socket", () => {
  it("is 0600 and refuses another user (nobody), while its owner is answered", async () => {
    const bin = buildGoFixture("capcrash");
    const { cwd, store } = scratch.project();
    const pwned = join(cwd, "pwned-run");
    const sup = scratch.start(
      runArgs(store, undefined, ["--probe", "alive:200ms"], [bin, "sleep", `$(touch ${pwned})`]),
      {
        cwd,
      },
    );
    await sup.waitFor((e) => e.event === "ready", 30_000, "ready");
    expect(existsSync(pwned)).toBe(false);
    const sock = join(store, "control.sock");
    await until(() => (existsSync(sock) ? true : undefined), 5_000, "control.sock");
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const client = (path: string) =>
      `const s=require("net").connect(${JSON.stringify(path)});s.on("connect",()=>{console.log("CONNECTED");process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(1)})`;
    const asNobody = spawnSync(
      "setpriv",
      ["--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, "-e", client(sock)],
      { encoding: "utf8", timeout: 10_000 },
    );
    expect(asNobody.stdout.trim()).toBe("EACCES");
    // Even with the store directory opened up, the socket's own mode keeps nobody out.
    spawnSync("chmod", ["0755", cwd, store]);
    const again = spawnSync(
      "setpriv",
      ["--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, "-e", client(sock)],
      { encoding: "utf8", timeout: 10_000 },
    );
    spawnSync("chmod", ["0700", store]);
    expect(again.stdout.trim()).toBe("EACCES");
    const owner = await new Promise<string>((resolve) =>
      execFile(process.execPath, ["-e", client(sock)], (_e, out) => resolve(out.trim())),
    );
    expect(owner).toBe("CONNECTED");
    await sup.stop("SIGTERM");
  }, 60_000);
});

describe("hostile configuration", () => {
  const load = (toml: string) => {
    const dir = scratch.dir();
    writeFileSync(join(dir, "hotdump.toml"), toml);
    try {
      loadConfig({ cwd: dir });
      return null;
    } catch (e) {
      if (!isHotdumpError(e)) throw e;
      return e;
    }
  };
  it.each([
    ['[store]\ndir = "../../../etc/hotdump"', /leaves the project/],
    ['[run]\nstop_timeout = "99999h"', /over 24h/],
    ['[supervise]\nready_timeout = "-5s"', /duration|invalid|negative/i],
    ['[store]\nmax_use = "lots"', /size|invalid/i],
    ['[run]\nstop_signal = "SIGNOPE"', /signal/i],
    ['[run]\nenv = { "A;rm -rf /" = "x" }', /run\.env\.A;rm -rf \/: (Invalid key|.*letters, digits and _)/],
  ])("%s → a clear error", (toml, msg) => {
    const e = load(toml);
    expect(e?.code).toMatch(/^E_/);
    expect(e?.shortMessage).toMatch(msg);
  });

  it("absurd flags are usage errors with exit 2 and no stack trace", async () => {
    for (const args of [
      ["--ready-timeout", "forever"],
      ["--drain", "-1s"],
      ["--max-use", "lots"],
    ]) {
      const r = await runCli(["run", ...args, "--", "/bin/true"], { cwd: scratch.dir(), timeoutMs: 15_000 });
      expect([args.join(" "), r.code]).toEqual([args.join(" "), 2]);
      expect(r.stderr).toMatch(/E_[A-Z_]+/);
      expect(r.stderr).not.toMatch(/\n\s+at .*\.js:\d+/);
    }
  }, 60_000);
});
