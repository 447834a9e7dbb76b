/**
 * The dashboard, end to end: a store filled by the real CLI (`hotdump exec` crashing two Go
 * programs for real), journal events for a few generations, the server, and Debian's Chromium
 * driven by playwright-core. UI_SCREENSHOTS=1 also writes docs/screenshots/*.png.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../src/contracts/reportModel.js";
import { ensureStore, openJournal, type StoreLayout } from "../src/store/index.js";
import { createUiServer, type UiServer } from "../src/ui/index.js";
import { launchChromium } from "./helpers/browser.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";

const ROOT = resolve(import.meta.dirname, "..");
const SHOTS = process.env.UI_SCREENSHOTS === "1";

/** Crash a fixture for real through the CLI; returns the new bundle's id. */
async function execCrash(store: string, fixture: string): Promise<string> {
  const bin = buildGoFixture(fixture);
  const before = new Set(existsSync(join(store, "crashes")) ? readdirSync(join(store, "crashes")) : []);
  const r = await runCli(["exec", "--store", store, "--", bin], { cwd: ROOT });
  const ids = readdirSync(join(store, "crashes")).filter((n) => !before.has(n));
  if (ids.length !== 1)
    throw new Error(`hotdump exec made no bundle (status ${r.code}): ${r.stderr.slice(-2000)}`);
  return ids[0]!;
}

/** Each server's token by origin: get() sends it unless the request brings its own credentials. */
const tokens = new Map<string, string>();

function get(
  url: string,
  headers: Record<string, string> = {},
  anonymous = false,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((ok, fail) => {
    // Split by hand: a WHATWG URL would resolve `%2e%2e` before the request leaves.
    const m = /^(http:\/\/[^/]+)(\/.*)$/.exec(url);
    const origin = new URL(m![1]!);
    const token = tokens.get(m![1]!);
    const sent =
      anonymous || headers.Authorization || headers.Cookie || m![2]!.includes("token=") || !token
        ? headers
        : { Authorization: `Bearer ${token}`, ...headers };
    const req = request({ host: origin.hostname, port: origin.port, path: m![2], headers: sent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on("error", fail);
    req.end();
  });
}

describe("hotdump ui (Chromium at /usr/bin/chromium)", () => {
  let store: string;
  let layout: StoreLayout;
  let panicId: string;
  let xssId: string;
  let browser: Browser;
  const servers: UiServer[] = [];

  const serve = async (o: { token?: string; host?: string; redact?: boolean } = {}) => {
    const s = await createUiServer({ storeDir: store, port: 0, ...o });
    servers.push(s);
    tokens.set(s.origin, s.token);
    return s;
  };

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), "hotdump-ui-"));
    layout = ensureStore(store);
    panicId = await execCrash(store, "uipanic");
    xssId = await execCrash(store, "uixss");
    // Three generations over the last two minutes: a clean stop, a crash, a rollback, one running.
    const j = openJournal(layout);
    const t = (s: number) => new Date(Date.now() - (120 - s) * 1000).toISOString();
    const gen = () =>
      j.newGeneration({
        sha256: "a".repeat(64),
        binary: "/bin/svc",
        goBuildId: null,
        gnuBuildId: null,
        changed: ["main.go"],
        buildMs: 800,
        source: "test",
      }).n;
    const g1 = gen();
    j.append({ event: "build-start", generation: g1, ts: t(0) });
    j.append({ event: "build-ok", generation: g1, ts: t(3) });
    j.append({ event: "started", generation: g1, pid: 100, ts: t(4) });
    j.append({ event: "ready", generation: g1, pid: 100, ts: t(5) });
    const g2 = gen();
    j.append({ event: "build-start", generation: g2, ts: t(30) });
    j.append({ event: "build-ok", generation: g2, ts: t(33) });
    j.append({ event: "started", generation: g2, pid: 200, ts: t(34) });
    j.append({ event: "ready", generation: g2, pid: 200, ts: t(35) });
    j.append({ event: "switch", generation: g2, ts: t(35) });
    j.append({ event: "stopped", generation: g1, pid: 100, ts: t(36) });
    j.append({ event: "crash", generation: g2, pid: 200, crashId: panicId, ts: t(70) });
    j.append({ event: "rollback", generation: g1, ts: t(71) });
    const g3 = gen();
    // As `hotdump dev` journals a build: the start has no generation yet, the end names it.
    j.append({ event: "build-start", generation: null, changed: ["main.go", "db/conn.go"], ts: t(90) });
    j.append({
      event: "build-ok",
      generation: g3,
      sha256: "b".repeat(64),
      ms: 1812,
      changed: ["main.go", "db/conn.go"],
      ts: t(92),
    });
    j.append({ event: "started", generation: g3, pid: 300, ts: t(93) });
    j.append({ event: "ready", generation: g3, pid: 300, ts: t(94) });
    j.append({ event: "crash", generation: g3, pid: 300, crashId: xssId, ts: t(110) });
    j.close();
    browser = await launchChromium();
  });

  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  afterAll(async () => {
    await browser?.close();
    if (store) rmSync(store, { recursive: true, force: true });
  });

  it("rejects bad crash ids (400), unknown ones (404), foreign Host headers, and never serves a core with --redact", async () => {
    const s = await serve({ redact: true });
    for (const bad of [
      "..%2f..%2fjournal.db",
      "%2e%2e",
      "..%2F..%2F..%2Fetc%2Fpasswd",
      "abc",
      "%ff",
      `${panicId}%2f..`,
    ])
      expect((await get(`${s.origin}/api/crashes/${bad}`)).status, bad).toBe(400);
    expect((await get(`${s.origin}/api/crashes/${bad2(panicId)}`)).status).toBe(404);
    expect((await get(`${s.origin}/api/crashes/${panicId}/..%2fmeta.json`)).status).toBe(404);
    const core = await get(`${s.origin}/api/crashes/${panicId}/core`);
    expect(core.status).toBe(403);
    expect(core.body).not.toContain("\x28\xb5\x2f\xfd"); // zstd magic
    expect((await get(`${s.origin}/api/crashes/${panicId}`, { Host: "evil.example:80" })).status).toBe(421);
    const ok = await get(`${s.origin}/api/crashes/${panicId}`);
    expect(ok.status).toBe(200);
    expect(ok.headers["content-security-policy"]).toMatch(/^default-src 'self'/);
    const detail = JSON.parse(ok.body);
    expect(detail.report.culprit.function).toBe("main.price");
    expect(detail.coreDownload).toBe(false);
    const html = await get(`${s.origin}/api/crashes/${xssId}/report.html`);
    expect(html.headers["content-disposition"]).toMatch(/^attachment/);
    expect(html.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html.body).not.toContain("<script>alert(1)");
    const md = await get(`${s.origin}/api/crashes/${panicId}/report.md`);
    expect(md.status).toBe(200);
    expect(md.body).toContain("main.price");
  });

  it("draws the generations as lanes, lists the crashes, opens a crash with culprit, stack and groups", async () => {
    const s = await serve();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(s.url);
      await page.waitForSelector("svg.timeline");
      const lanes = await page.$$eval("svg.timeline g.gen", (gs) =>
        gs.map((g) => g.getAttribute("data-generation")),
      );
      expect(lanes).toEqual(["1", "2", "3"]);
      expect(await page.locator("svg.timeline a.crash-link").count()).toBe(2);
      expect(await page.locator("#crashes tbody tr").count()).toBe(2);
      // exec bundles have no generation; the journal's crash event supplies it.
      expect(await page.textContent(`#crashes tr[data-id="${panicId}"] td.n`)).toBe("2");
      // Generation 3's build, started before it had a number, is drawn in its lane from start to
      // build-ok: it ends before the generation started, not at "now" across the whole timeline.
      const bar = await page.$eval('svg.timeline g[data-generation="3"] rect.build', (r) => ({
        x: Number(r.getAttribute("x")),
        w: Number(r.getAttribute("width")),
      }));
      const started = await page.$eval('svg.timeline g[data-generation="3"] circle.started', (c) =>
        Number(c.getAttribute("cx")),
      );
      expect(bar.x + bar.w).toBeLessThanOrEqual(started);
      expect(bar.w).toBeGreaterThan(0);
      // Event lines are text for people, not JSON.
      const buildLine = await page.locator('#log li[data-event="build-ok"]').last().textContent();
      expect(buildLine).toMatch(
        /gen 3 {2}build-ok {2}sha256 bbbbbbbbbbbb {2}took 1812 ms {2}changed main\.go, db\/conn\.go/,
      );
      expect(await page.locator("#log li", { hasText: /[[{"]/ }).count()).toBe(0);
      // The favicon is served and linked.
      expect(await page.getAttribute('link[rel="icon"]', "href")).toBe("/static/favicon.svg");
      const icon = await page.request.get(`${s.origin}/static/favicon.svg`);
      expect(icon.status()).toBe(200);
      expect(icon.headers()["content-type"]).toBe("image/svg+xml");
      await page.waitForSelector("#status.live");
      if (SHOTS)
        await page.screenshot({ path: join(ROOT, "docs/screenshots/ui-overview.png"), fullPage: true });

      await page.click(`#crashes tr[data-id="${panicId}"] a`);
      await page.waitForSelector("#culprit-fn");
      expect(await page.textContent("#culprit-fn")).toBe("main.price");
      expect(await page.textContent("#crash-message")).toContain("discount 10 exceeds total 7");
      const groupRows = await page.locator("#groups-table tbody tr").count();
      expect(groupRows).toBeGreaterThan(0);
      expect(await page.textContent("#groups-table")).toContain("main.idle");
      // The service's own frame is open with its args; the runtime ones are folded and open with Enter.
      const price = page.locator('#stack details[data-function="main.price"]');
      expect(await price.getAttribute("open")).not.toBeNull();
      expect(await price.textContent()).toMatch(/discount/);
      // Which frames stand alone is the report's frame class (src/analyze/frames.ts), not a rule
      // of the page's own.
      const report = JSON.parse((await get(`${s.origin}/api/crashes/${panicId}`)).body).report as Report;
      const shown = await page.$$eval("#stack > li:not(.folded-run) > details", (ds) =>
        ds.map((d) => d.getAttribute("data-function")),
      );
      expect(shown).toEqual(
        (report.goroutine?.frames ?? [])
          .filter((f) => f.class === "user" || f.class === "c")
          .map((f) => f.function),
      );
      // Frames carry the report's numbers (what eval --frame takes); the string panic value is the
      // message itself, so no "Decoded value" repeats it (issue 22).
      const k = report.goroutine?.frames.findIndex((f) => f.function === "main.price") ?? -1;
      expect(await price.locator(":scope > summary .num").textContent()).toBe(`#${k} `);
      expect(report.value).not.toBeNull();
      expect(await page.locator("#panic", { hasText: "Decoded value" }).count()).toBe(0);
      const folded = page.locator("#stack details.folded").first();
      expect(await folded.getAttribute("open")).toBeNull();
      await folded.locator(":scope > summary").focus();
      await page.keyboard.press("Enter");
      expect(await folded.getAttribute("open")).not.toBeNull();
      expect(await page.textContent("#stdout")).toContain("pricing orders");
      expect(await page.textContent("#debug-cmd")).toBe(`hotdump debug ${panicId} --store ${store}`);
      expect(await page.textContent("#identity")).toMatch(/build IDs match/);
      expect(await page.textContent("main dl.facts")).toMatch(/Generation\s*2/);
      if (SHOTS) {
        await folded.locator(":scope > summary").press("Enter");
        await page.screenshot({ path: join(ROOT, "docs/screenshots/ui-crash.png"), fullPage: true });
      }
    } finally {
      await page.close();
    }
  });

  it("opens a -race crash: both races, each access's stack and the goroutines' creation sites, no debug command", async () => {
    const bin = buildGoFixture("racewrite", { flags: ["-race"] });
    const raceStore = mkdtempSync(join(tmpdir(), "hotdump-ui-race-"));
    try {
      await runCli(["exec", "--store", raceStore, "--", bin, "two"], { cwd: raceStore });
      const [id] = readdirSync(join(raceStore, "crashes"));
      const s = await createUiServer({ storeDir: raceStore, port: 0 });
      servers.push(s);
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      try {
        await page.goto(`${s.url}#/crash/${id}`);
        await page.waitForSelector("#race-1");
        expect(await page.textContent("h1 .badge")).toBe("race");
        expect(await page.textContent("#culprit-fn")).toBe("main.(*ledger).deposit");
        expect(await page.textContent("#culprit")).toContain("l.balance += n");
        expect(await page.textContent("#race-0-h")).toBe("Data race 1 of 2");
        const heads = await page.$$eval("#race-0 h3", (hs) => hs.map((x) => x.textContent));
        expect(heads).toHaveLength(4);
        expect(
          heads.filter((t) => /^Previous (read|write) at 0x[0-9a-f]+ by goroutine \d+$/.test(t ?? "")),
        ).toHaveLength(1);
        expect(
          heads.filter((t) => /^Goroutine \d+ \((running|finished)\) created at$/.test(t ?? "")),
        ).toHaveLength(2);
        expect(await page.textContent("#race-1")).toContain("main.(*ledger).charge");
        expect(await page.textContent("#race-1")).toContain("main goroutine");
        expect(await page.textContent("main dl.facts")).toMatch(/PID\s*\d+/);
        expect(await page.locator("#debug-cmd").count()).toBe(0);
      } finally {
        await page.close();
      }
    } finally {
      rmSync(raceStore, { recursive: true, force: true });
    }
  });

  it("shows a panic message holding <script> as text, and no dialog fires", async () => {
    const s = await serve();
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    try {
      await page.goto(`${s.url}#/crash/${xssId}`);
      await page.waitForSelector("#culprit-fn");
      expect(await page.textContent("#crash-message")).toContain("<script>alert(1)</script>");
      expect(await page.textContent("#crashes, main")).toContain("<img src=x onerror=alert(2)>");
      expect(await page.locator("main script, main img").count()).toBe(0);
      await page.goto(s.url);
      await page.waitForSelector(`#crashes tr[data-id="${xssId}"]`);
      expect(await page.textContent(`#crashes tr[data-id="${xssId}"]`)).toContain(
        "<script>alert(1)</script>",
      );
      expect(await page.locator("main script, main img").count()).toBe(0);
      expect(dialogs).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("shows a new crash without a reload while the page is open", async () => {
    const s = await serve();
    const page = await browser.newPage();
    try {
      await page.goto(s.url);
      await page.waitForSelector("#status.live");
      await page.evaluate(() => {
        (globalThis as unknown as { marker: number }).marker = 42;
      });
      const t0 = Date.now();
      const id = await execCrash(store, "uipanic");
      const j = openJournal(layout);
      j.append({ event: "crash", generation: 3, pid: 301, crashId: id });
      j.close();
      await page.waitForSelector(`#crashes tr[data-id="${id}"]`, { timeout: 10_000 });
      await page.waitForSelector(`#log li[data-event="crash"] a[href="#/crash/${id}"]`, { timeout: 10_000 });
      expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
      // The timeline was redrawn with the new crash marker on generation 3's lane.
      await page.waitForSelector('svg.timeline g[data-generation="3"] a.crash-link >> nth=1');
      expect(await page.locator("#timeline svg.timeline").count()).toBe(1);
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      await page.close();
    }
  });

  it("with a token: every endpoint needs it; ?token= once sets a cookie; cores are served only then", async () => {
    const token = "test-token-0123456789abcdef";
    const s = await serve({ token });
    expect(s.url).toBe(`${s.origin}/?token=${token}`);
    for (const p of [
      "/",
      "/static/app.js",
      "/api/overview",
      `/api/crashes/${panicId}`,
      "/api/events",
      `/api/crashes/${panicId}/core`,
    ])
      expect((await get(`${s.origin}${p}`, {}, true)).status, p).toBe(401);
    expect(
      (await get(`${s.origin}/api/overview`, { Authorization: "Bearer wrong-token-0123456789" })).status,
    ).toBe(401);
    expect((await get(`${s.origin}/api/overview`, { Authorization: `Bearer ${token}` })).status).toBe(200);
    const first = await get(s.url);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe("/");
    const cookie = String(first.headers["set-cookie"]).split(";")[0]!;
    expect(cookie).toBe(`hotdump_ui=${token}`);
    expect((await get(`${s.origin}/api/overview`, { Cookie: cookie })).status).toBe(200);
    const core = await get(`${s.origin}/api/crashes/${panicId}/core`, { Cookie: cookie });
    expect(core.status).toBe(200);
    expect(core.headers["content-type"]).toBe("application/octet-stream");
    // The browser follows the printed URL, keeps the cookie, and gets live updates through it.
    const page = await browser.newPage();
    try {
      await page.goto(s.url);
      await page.waitForSelector("#status.live");
      expect(page.url()).toBe(`${s.origin}/`);
      expect(await page.locator("#crashes tbody tr").count()).toBeGreaterThan(1);
    } finally {
      await page.close();
    }
  });

  it("`hotdump ui` prints its URL, serves, and stops on SIGTERM; a busy default port falls back, an explicit one fails", async () => {
    const child = spawn("node", [join(ROOT, "bin/hotdump"), "ui", "--store", store, "--port", "0"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await new Promise<string>((ok, fail) => {
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          const m = /^(http:\/\/127\.0\.0\.1:\d+\/)\?token=([A-Za-z0-9_-]{32})$/m.exec(out);
          if (m) {
            tokens.set(m[1]!.slice(0, -1), m[2]!);
            ok(m[1]!);
          }
        });
        child.once("exit", (code) => fail(new Error(`hotdump ui exited ${code}`)));
      });
      const r = await get(`${url}api/overview`);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).crashes.length).toBeGreaterThan(1);
      const exited = new Promise<number | null>((ok) => child.once("exit", ok));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    const first = await serve();
    const second = await createUiServer({ storeDir: store, port: first.port });
    servers.push(second);
    expect(second.port).not.toBe(first.port);
    await expect(
      createUiServer({ storeDir: store, port: first.port, strictPort: true }),
    ).rejects.toMatchObject({
      code: "E_UI_LISTEN",
    });
  });

  it("asks a generated 192-bit token on loopback as elsewhere, and refuses weak ones", async () => {
    for (const host of ["127.0.0.1", "0.0.0.0"]) {
      const s = await serve({ host });
      expect(s.tokenGenerated).toBe(true);
      expect(s.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      const local = `http://127.0.0.1:${s.port}`;
      expect((await get(`${local}/api/overview`, {}, true)).status).toBe(401);
      expect((await get(`${local}/api/overview`, { Authorization: `Bearer ${s.token}` })).status).toBe(200);
    }
    for (const token of [
      "short",
      "a".repeat(16),
      "a".repeat(64),
      "0123456789abcdef0123456789abcdef",
      "abcdefghij0123",
    ])
      await expect(createUiServer({ storeDir: store, port: 0, token })).rejects.toMatchObject({
        code: "E_UI_BAD_TOKEN",
      });
  });
});

/** A well-formed id that no bundle has. */
function bad2(id: string): string {
  return `${id.slice(0, -4)}${id.endsWith("0000") ? "0001" : "0000"}`;
}
