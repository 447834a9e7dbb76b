/**
 * Issue 24, point 3: after --redact, neither a DSN password from a panic message nor the value of
 * a secret-looking environment variable is anywhere hotdump writes or prints (core and binary
 * aside, which cannot be redacted), whichever analyser made the report: Delve, gdb (Delve made
 * unfindable through HOTDUMP_DLV) or the traceback alone (--no-analyze). The child's own output
 * still carries them: it passes through untouched.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createUiServer, type UiServer } from "../src/ui/index.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-redact-");
const DSN_PASSWORD = "hunter2-dsn-pw";
const API_KEY = "pk_live_9f8e7d6c5b4a3210";
const LEAKS = [DSN_PASSWORD, API_KEY, "MHcCAQEEIBkg"];

const servers: UiServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function files(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(p, out);
    else out.push(p);
  }
  return out;
}

function get(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request(url, { headers: { Authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("latin1") }),
      );
    });
    req.on("error", fail);
    req.end();
  });
}

const leaked = (what: string, text: string) =>
  LEAKS.filter((s) => text.includes(s)).map((s) => `${what}: ${s}`);

describe.each([
  { path: "delve", flags: [] as string[], env: {} as NodeJS.ProcessEnv, source: "delve" },
  { path: "gdb", flags: [], env: { HOTDUMP_DLV: "/nonexistent/dlv" }, source: "gdb" },
  { path: "traceback", flags: ["--no-analyze"], env: {}, source: "traceback" },
])("--redact on the $path path", ({ flags, env, source }) => {
  it("leaves no DSN password and no env secret in any output or file but the core and the binary", async () => {
    const bin = buildGoFixture("secretcrash");
    const { cwd, store } = scratch.project();
    const cli = (args: string[]) =>
      runCli([...args, "--store", store], {
        cwd,
        env: { PAYMENTS_API_KEY: API_KEY, ...env },
        timeoutMs: 90_000,
      });
    const r = await runCli(["exec", "--redact", "--json", ...flags, "--store", store, "--", bin], {
      cwd,
      env: { PAYMENTS_API_KEY: API_KEY, ...env },
      timeoutMs: 120_000,
    });
    const json = JSON.parse(r.stdout);
    expect(json.outcome).toBe("crash");
    const report = json.report;
    // The analyser this case is about really made the report.
    if (source === "traceback")
      expect([report.sources.delve.used, report.sources.gdb.used]).toEqual([false, false]);
    else
      expect([source, report.sources[source].used, report.sources.delve.note]).toEqual([
        source,
        true,
        expect.anything(),
      ]);
    // The child's own live output passed through as it was (so the grep below can see a leak).
    expect(r.stderr).toContain(`using ${API_KEY}`);
    const problems: string[] = [];
    problems.push(...leaked("exec --json", r.stdout));
    const ours = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("[hotdump]"))
      .join("\n");
    problems.push(...leaked("exec's own lines", ours));
    // The secret-named locals are masked whole on every path that reads locals.
    if (source !== "traceback") {
      const frame = report.goroutine.frames.find((f: { function: string }) => f.function === "main.connect");
      const locals = Object.fromEntries(
        frame.locals.map((v: { name: string; value: string }) => [v.name, v.value] as const),
      );
      for (const name of ["dsn", "bearer", "pwd", "creds", "privKey"])
        expect([name, locals[name]]).toEqual([name, "[redacted]"]);
      expect(locals.target).toContain("postgres://orders:[redacted]@db.internal");
    }
    expect(report.message).toContain("postgres://orders:[redacted]@db.internal:5432/orders");
    expect(report.warnings.join("\n")).toMatch(/core and the binary cannot be redacted/);

    const id = json.crash.id as string;
    for (const args of [
      ["crashes"],
      ["crashes", "--json"],
      ["history"],
      ["report", id],
      ["report", id, "-f", "json"],
      ["report", id, "-f", "md"],
      ["report", id, "-f", "html"],
    ]) {
      const out = await cli(args);
      expect([args.join(" "), out.code]).toEqual([args.join(" "), 0]);
      problems.push(...leaked(args.join(" "), out.stdout + out.stderr));
    }
    for (const f of files(store)) {
      if (/\/core\.(zst|gz)$/.test(f) || f.includes("/binaries/")) continue;
      problems.push(...leaked(f.slice(store.length), readFileSync(f).toString("latin1")));
    }
    const ui = await createUiServer({ storeDir: store, port: 0, redact: true });
    servers.push(ui);
    for (const p of [
      "/api/overview",
      `/api/crashes/${id}`,
      ...["json", "md", "html"].map((f) => `/api/crashes/${id}/report.${f}`),
    ]) {
      const res = await get(`${ui.origin}${p}`, ui.token);
      expect([p, res.status]).toEqual([p, 200]);
      problems.push(...leaked(`dashboard ${p}`, res.body));
    }
    expect((await get(`${ui.origin}/api/crashes/${id}/core`, ui.token)).status).toBe(403);
    expect(problems).toEqual([]);
  }, 240_000);
});
