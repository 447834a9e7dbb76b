/**
 * The dashboard shows what `hotdump crashes` shows (issue 18, points 2 and 4): each signature once
 * with its count and where it first appeared, and a recovered panic on its generation's lane,
 * linked to its page, in a real Chromium. The store is made by real runs: the same crash twice
 * through `hotdump exec`, and a recovered panic of a real net/http service.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureStore, openJournal } from "../src/store/index.js";
import { createUiServer, type UiServer } from "../src/ui/index.js";
import { launchChromium } from "./helpers/browser.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";

const ROOT = resolve(import.meta.dirname, "..");

/** `hotdump exec` a fixture for real; returns the ids of the bundles it made. */
async function exec(store: string, fixture: string, args: string[] = []): Promise<string[]> {
  const before = new Set(existsSync(join(store, "crashes")) ? readdirSync(join(store, "crashes")) : []);
  const r = await runCli(["exec", "--store", store, "--", buildGoFixture(fixture), ...args], { cwd: ROOT });
  const ids = readdirSync(join(store, "crashes")).filter((n) => !before.has(n));
  if (ids.length === 0)
    throw new Error(`hotdump exec made no bundle (status ${r.code}): ${r.stderr.slice(-2000)}`);
  return ids;
}

describe("the dashboard's signatures and recovered panics (Chromium)", () => {
  let store: string;
  let browser: Browser;
  let server: UiServer;
  let recoveredId: string;

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), "hotdump-ui-sig-"));
    const layout = ensureStore(store);
    const [a] = await exec(store, "uipanic");
    const [b] = await exec(store, "uipanic");
    [recoveredId] = (await exec(store, "tbhttp", ["once"])) as [string];
    // The recovered panic happened in generation 1 of a supervisor (as run and dev journal it).
    const j = openJournal(layout);
    const g = j.newGeneration({
      sha256: "a".repeat(64),
      binary: "/bin/svc",
      goBuildId: null,
      gnuBuildId: null,
      changed: [],
      buildMs: null,
      source: "run",
    }).n;
    const t = (s: number) => new Date(Date.now() - (60 - s) * 1000).toISOString();
    j.append({ event: "started", generation: g, pid: 100, ts: t(0) });
    j.append({ event: "ready", generation: g, pid: 100, ts: t(1) });
    j.append({
      event: "recovered-panic",
      generation: g,
      pid: 100,
      crashId: recoveredId,
      by: "net/http",
      ts: t(20),
    });
    j.close();
    expect([a, b].every(Boolean)).toBe(true);
    server = await createUiServer({ storeDir: store, port: 0 });
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await browser?.close();
    if (store) rmSync(store, { recursive: true, force: true });
  });

  it("lists each signature once with its count, and draws the recovered panic on its lane as a link", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(server.url);
      await page.waitForSelector("table#signatures");
      const rows = await page.$$eval("table#signatures tbody tr", (trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
      );
      // Two crashes of uipanic are one signature counted twice; the recovered panic (net/http
      // recovered it twice: Go's client retried) is another, counted twice as well.
      expect(rows).toHaveLength(2);
      const byKind = Object.fromEntries(rows.map((r) => [r[1], r]));
      expect(byKind.panic?.[0]).toBe("2");
      expect(byKind.recovered?.[0]).toBe("2");
      expect(byKind.recovered?.[4]).toContain("checkout: empty cart for A-1");
      const mark = page.locator("svg.timeline a.crash-link circle.recovered");
      expect(await mark.count()).toBe(1);
      const href = await page.getAttribute("svg.timeline a.crash-link:has(circle.recovered)", "href");
      expect(href).toBe(`#/crash/${recoveredId}`);
      // Where the link leads: the recovered panic's page, its culprit by the shared classifier.
      await page.goto(new URL(href as string, server.url).toString());
      await page.waitForSelector("#culprit-fn");
      expect(await page.textContent("#culprit-fn")).toBe("main.checkout");
    } finally {
      await page.close();
    }
  }, 120_000);
});
