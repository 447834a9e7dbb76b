/**
 * Issue 24, points 1 and 2, tried the way the security review did: as root, with a second local
 * user (`nobody`, through setpriv) who prepares a store, plants a binary, or calls the dashboard.
 */

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveStoreDir } from "../src/store/index.js";
import { HOTDUMP, runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { runArgs, useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-trust-");
const isRoot = process.getuid?.() === 0;
const NOBODY = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];
const asNobody = (argv: string[]) => {
  const r = spawnSync("setpriv", [...NOBODY, ...argv], { encoding: "utf8", timeout: 20_000 });
  if (r.status !== 0) throw new Error(`as nobody: ${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
const sha256 = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
const oneLine = (stderr: string) => stderr.trim().split("\n").filter(Boolean);

describe.skipIf(!isRoot)("a store someone else could change is never used (as root)", () => {
  it("refuses nobody's .hotdump found upwards, and as --store, with one line naming the owner", async () => {
    const bin = buildGoFixture("capcrash");
    const base = scratch.dir();
    chmodSync(base, 0o755);
    const shared = join(base, "shared");
    mkdirSync(shared);
    chownSync(shared, 65534, 65534);
    // As nobody: a store-shaped directory with a same-size script under the binary's SHA-256.
    const planted = join(shared, ".hotdump", "binaries", sha256(bin));
    const pwned = join(shared, "pwned");
    asNobody([
      "mkdir",
      "-p",
      join(shared, ".hotdump", "crashes"),
      join(shared, ".hotdump", "binaries"),
      join(shared, "proj"),
    ]);
    const script = `#!/bin/sh\ntouch ${pwned}\n`;
    asNobody([
      "sh",
      "-c",
      `printf '%s' "$1" > "$2"; truncate -s ${statSync(bin).size} "$2"; chmod 755 "$2"`,
      "_",
      script,
      planted,
    ]);
    const proj = join(shared, "proj");
    for (const args of [
      ["run", "--", bin, "sleep"],
      ["exec", "--", bin, "crash"],
      ["crashes"],
      ["run", "--store", join(shared, ".hotdump"), "--sha256", sha256(bin), "--", bin, "sleep"],
    ]) {
      const r = await runCli(args, { cwd: proj, timeoutMs: 30_000 });
      const what = args.join(" ");
      expect([what, r.code]).not.toEqual([what, 0]);
      const lines = oneLine(r.stderr);
      expect([what, lines.length]).toEqual([what, 1]);
      expect(lines[0]).toMatch(/E_STORE_UNTRUSTED/);
      expect(lines[0]).toMatch(/refusing the store .*shared\/\.hotdump: it is owned by nobody \(uid 65534\)/);
    }
    expect(existsSync(pwned)).toBe(false);
  }, 120_000);

  it("refuses a group- or world-writable directory above the store, accepts one under a root-owned sticky /tmp-like one", async () => {
    const base = scratch.dir();
    const open = join(base, "open");
    mkdirSync(join(open, "proj"), { recursive: true });
    chmodSync(open, 0o775);
    const r = await runCli(["crashes", "--store", join(open, "proj", ".hotdump")], { cwd: base });
    expect(r.code).not.toBe(0);
    expect(oneLine(r.stderr)).toEqual([
      expect.stringMatching(/writable by its group \(mode 0775\).*chmod go-w.*E_STORE_UNTRUSTED/),
    ]);
    const sticky = join(base, "sticky");
    mkdirSync(join(sticky, "mine"), { recursive: true, mode: 0o700 });
    chmodSync(sticky, 0o1777);
    const bin = buildGoFixture("capcrash");
    const ok = await runCli(
      ["exec", "--json", "--store", join(sticky, "mine", ".hotdump"), "--", bin, "crash"],
      {
        cwd: base,
      },
    );
    expect(JSON.parse(ok.stdout).crash.id).toMatch(/^\d{8}-/);
  }, 60_000);

  it("never looks in / nor above $HOME; $STATE_DIRECTORY and /var/lib/hotdump are the service defaults", () => {
    const base = scratch.dir();
    mkdirSync(join(base, ".hotdump", "crashes"), { recursive: true });
    mkdirSync(join(base, "home", "proj"), { recursive: true });
    const home = join(base, "home");
    expect(resolveStoreDir(join(home, "proj"), undefined, { HOME: home })).toBe(
      join(home, "proj", ".hotdump"),
    );
    // Without the $HOME stop the store above it is found, as before.
    expect(resolveStoreDir(join(home, "proj"), undefined, {})).toBe(join(base, ".hotdump"));
    expect(resolveStoreDir("/", undefined, { HOME: "/root" })).toBe("/var/lib/hotdump");
    expect(resolveStoreDir("/srv/app", undefined, { STATE_DIRECTORY: "/var/lib/svc:/var/lib/other" })).toBe(
      "/var/lib/svc",
    );
    expect(resolveStoreDir("/srv/app", "x", { STATE_DIRECTORY: "/var/lib/svc" })).toBe("/srv/app/x");
  });

  it("starts a stored binary only after hashing it: a same-size file planted under its name is replaced", async () => {
    const bin = buildGoFixture("capcrash");
    const { cwd, store } = scratch.project();
    const pwned = join(cwd, "pwned");
    const planted = join(store, "binaries", sha256(bin));
    mkdirSync(join(store, "binaries"), { recursive: true, mode: 0o700 });
    mkdirSync(join(store, "crashes"), { mode: 0o700 });
    writeFileSync(planted, `#!/bin/sh\ntouch ${pwned}\nexec sleep 60\n`.padEnd(statSync(bin).size, "#"), {
      mode: 0o500,
    });
    const sup = scratch.start(runArgs(store, undefined, ["--probe", "alive:200ms"], [bin, "sleep"]), { cwd });
    await sup.waitFor((e) => e.event === "ready", 60_000, "ready");
    expect(existsSync(pwned)).toBe(false);
    expect(sha256(planted)).toBe(sha256(bin));
    await sup.stop("SIGTERM");
  }, 90_000);

  it("never follows a symlink inside the store: a core.zst pointing at /etc/shadow is refused", async () => {
    const bin = buildGoFixture("capcrash");
    const { cwd, store } = scratch.project();
    const r = await runCli(["exec", "--json", "--no-analyze", "--store", store, "--", bin, "crash"], { cwd });
    const { id, dir } = JSON.parse(r.stdout).crash as { id: string; dir: string };
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
    expect(meta.core.stored).toBe("core.zst");
    execFileSync("rm", [join(dir, "core.zst")]);
    symlinkSync("/etc/shadow", join(dir, "core.zst"));
    const ui = await startUi(store, cwd);
    try {
      const core = await httpGet(`${ui.origin}/api/crashes/${id}/core`, {
        Authorization: `Bearer ${ui.token}`,
      });
      expect(core.status).toBe(403);
      expect(core.body).toContain("E_STORE_LINK");
      expect(core.body).not.toMatch(/^root:/m);
    } finally {
      ui.stop();
    }
    // The same for the bundle's meta.json: the crash is listed as unreadable, nothing is read through it.
    execFileSync("mv", [join(dir, "meta.json"), join(cwd, "meta.json")]);
    symlinkSync(join(cwd, "meta.json"), join(dir, "meta.json"));
    const report = await runCli(["report", id, "--store", store], { cwd });
    expect(report.code).not.toBe(0);
    expect(oneLine(report.stderr)).toEqual([expect.stringMatching(/E_STORE_LINK/)]);
  }, 90_000);
});

function httpGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return fetch(url, { headers, redirect: "manual" }).then(async (r) => ({
    status: r.status,
    body: await r.text(),
  }));
}

/** `hotdump ui` as a user would start it; its URL (with the token) from stdout. */
async function startUi(
  store: string,
  cwd: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ origin: string; token: string; stop: () => void }> {
  const child = scratch.track(
    spawn(process.execPath, [HOTDUMP, "ui", "--store", store, "--port", "0", ...extra], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let out = "";
  let err = "";
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const m = await new Promise<RegExpExecArray>((ok, fail) => {
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const hit = /^(http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+)$/m.exec(out);
      if (hit) ok(hit);
    });
    child.once("exit", (code) => fail(new Error(`hotdump ui exited ${code}: ${err}`)));
  });
  return { origin: m[1]!, token: m[2]!, stop: () => child.kill("SIGTERM") };
}

describe.skipIf(!isRoot)("a dashboard only its owner reads (as root, nobody calling)", () => {
  it("answers 401 to another local user on every route, also on loopback; the owner's token opens it", async () => {
    const bin = buildGoFixture("capcrash");
    const { cwd, store } = scratch.project();
    const r = await runCli(["exec", "--json", "--store", store, "--", bin, "crash"], { cwd });
    const id = JSON.parse(r.stdout).crash.id as string;
    const tokenFile = join(cwd, "ui.token");
    const token = execFileSync("openssl", ["rand", "-hex", "32"], { encoding: "utf8" }).trim();
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const ui = await startUi(store, cwd, ["--token-file", tokenFile]);
    try {
      expect(ui.token).toBe(token);
      const routes = [
        "/",
        "/static/app.js",
        "/api/overview",
        "/api/events?since=0",
        `/api/crashes/${id}`,
        `/api/crashes/${id}/core`,
        `/api/crashes/${id}/report.json`,
      ];
      const probe = `const [u,...ps]=process.argv.slice(1);(async()=>{for(const p of ps){const r=await fetch(u+p,{redirect:"manual"});console.log(p+" "+r.status);r.body?.cancel()}})()`;
      const seen = asNobody([process.execPath, "-e", probe, ui.origin, ...routes])
        .trim()
        .split("\n");
      expect(seen).toEqual(routes.map((p) => `${p} 401`));
      const owner = await httpGet(`${ui.origin}/api/crashes/${id}`, { Authorization: `Bearer ${token}` });
      expect(owner.status).toBe(200);
      const first = await httpGet(`${ui.origin}/?token=${token}`);
      expect(first.status).toBe(303);
    } finally {
      ui.stop();
    }
  }, 90_000);

  it("takes HOTDUMP_UI_TOKEN; refuses --token in argv, a weak token and a token file others can read, each in one line", async () => {
    const { cwd, store } = scratch.project();
    mkdirSync(store, { mode: 0o700 });
    const strong = "Zq3-v8Lr_Nw5Tb1Kx7Hc2Yp9Md4Gf6Js0";
    const ui = await startUi(store, cwd, [], { HOTDUMP_UI_TOKEN: strong });
    ui.stop();
    expect(ui.token).toBe(strong);
    const file = join(cwd, "t");
    writeFileSync(file, strong, { mode: 0o644 });
    chmodSync(file, 0o644);
    for (const [args, env, code] of [
      [["--token", strong], {}, "E_UI_TOKEN_ARGV"],
      [[], { HOTDUMP_UI_TOKEN: "a".repeat(16) }, "E_UI_BAD_TOKEN"],
      [["--token-file", file], {}, "E_UI_TOKEN_FILE"],
    ] as const) {
      const r = await runCli(["ui", "--store", store, "--port", "0", ...args], {
        cwd,
        env,
        timeoutMs: 15_000,
      });
      expect([args.join(" "), r.code]).toEqual([args.join(" "), 2]);
      expect(oneLine(r.stderr)).toEqual([expect.stringContaining(code)]);
    }
    for (const cmd of ["dev", "run"]) {
      const r = await runCli([cmd, "--ui", "--token", strong, "--", "/bin/true"], { cwd, timeoutMs: 15_000 });
      expect([cmd, r.code, oneLine(r.stderr).length]).toEqual([cmd, 2, 1]);
      expect(r.stderr).toContain("E_UI_TOKEN_ARGV");
    }
  }, 60_000);
});
