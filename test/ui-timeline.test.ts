/**
 * The dashboard tells the time right (issue 22), in Chromium: a `run` store whose generation 2
 * serves while the later generation 3 was rolled back, and a `dev` store whose generation 1
 * crashed and was restarted twice. The serving bar runs to the axis' end, which is now, and keeps
 * growing; restarts and the rollback sit on their generation's lane.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureStore, openJournal } from "../src/store/index.js";
import { createUiServer, type UiServer } from "../src/ui/index.js";
import { launchChromium } from "./helpers/browser.js";

let browser: Browser;
const dirs: string[] = [];
const servers: UiServer[] = [];

/** A store whose journal holds `events` at `secondsAgo` before now, with its generations. */
function store(gens: number, events: [number, Record<string, unknown>][]): string {
  const dir = mkdtempSync(join(tmpdir(), "hotdump-uitl-"));
  dirs.push(dir);
  const j = openJournal(ensureStore(dir));
  for (let i = 0; i < gens; i++)
    j.newGeneration({
      sha256: String(i).repeat(64),
      binary: "/srv/svc",
      goBuildId: null,
      gnuBuildId: null,
      changed: [],
      buildMs: null,
      source: "run",
    });
  for (const [ago, e] of events)
    j.append({ ...(e as { event: "started" }), ts: new Date(Date.now() - ago * 1000).toISOString() });
  j.close();
  return dir;
}

async function open(dir: string): Promise<Page> {
  const s = await createUiServer({ storeDir: dir, port: 0 });
  servers.push(s);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(s.url);
  await page.waitForSelector("svg.timeline");
  return page;
}

/** Every life bar of a lane: its left and right edges, in the SVG's own units. */
const bars = (page: Page, gen: number): Promise<{ x: number; end: number }[]> =>
  page.$$eval(`svg.timeline g[data-generation="${gen}"] rect.life`, (rs) =>
    rs.map((r) => ({
      x: Number(r.getAttribute("x")),
      end: Number(r.getAttribute("x")) + Number(r.getAttribute("width")),
    })),
  );
const width = (page: Page, gen: number) =>
  page.$eval(`svg.timeline g[data-generation="${gen}"] rect.life`, (r) => Number(r.getAttribute("width")));
/** The right end of the axis: the last grid line. */
const axisEnd = (page: Page) =>
  page.$$eval("svg.timeline line.grid", (ls) => Math.max(...ls.map((l) => Number(l.getAttribute("x1")))));

beforeAll(async () => {
  browser = await launchChromium();
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
afterAll(async () => {
  await browser?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the dashboard's timeline", () => {
  it("a run store: the serving generation runs to now and grows; the rollback is on its own lane", async () => {
    const dir = store(3, [
      [300, { event: "started", generation: 1, pid: 101 }],
      [299, { event: "ready", generation: 1, pid: 101 }],
      [120, { event: "started", generation: 2, pid: 102 }],
      [119, { event: "ready", generation: 2, pid: 102 }],
      [119, { event: "switch", generation: 2, from: 1, pid: 102 }],
      [118, { event: "stopped", generation: 1, pid: 101 }],
      [60, { event: "started", generation: 3, pid: 103 }],
      [45, { event: "stopped", generation: 3, pid: 103 }],
      [45, { event: "rollback", generation: 3, pid: 103, servingGeneration: 2, reason: "probe failed" }],
    ]);
    const page = await open(dir);
    try {
      const end = await axisEnd(page);
      const [serving] = await bars(page, 2);
      const [rolledBack] = await bars(page, 3);
      const [old] = await bars(page, 1);
      if (!serving || !rolledBack || !old) throw new Error("a lane has no life bar");
      // Generation 2 has served two minutes: its bar reaches the axis' end, which is now.
      expect(serving.end).toBeCloseTo(end, 0);
      expect(await page.getAttribute('svg.timeline g[data-generation="2"] rect.life', "class")).toContain(
        "running",
      );
      // Generation 3 lived 15 s and ended well before now; generation 1 ended when 2 took over.
      expect(rolledBack.end - rolledBack.x).toBeLessThan((serving.end - serving.x) / 4);
      expect(rolledBack.end).toBeLessThan(end - 50);
      expect(old.end).toBeGreaterThan(serving.x);
      expect(old.end).toBeLessThan(serving.x + 10);
      expect(await page.locator('svg.timeline g[data-generation="3"] path.rollback').count()).toBe(1);
      // It grows while the page is open, without any new journal event.
      const before = await width(page, 2);
      await expect.poll(() => width(page, 2), { timeout: 10_000, interval: 250 }).toBeGreaterThan(before);
    } finally {
      await page.close();
    }
  });

  it("a dev store: each life after a crash restart is drawn on the generation's lane", async () => {
    const dir = store(1, [
      [90, { event: "build-start", generation: null }],
      [88, { event: "build-ok", generation: 1 }],
      [87, { event: "started", generation: 1, pid: 201 }],
      [80, { event: "crash", generation: 1, pid: 201 }],
      [79, { event: "started", generation: 1, pid: 202 }],
      [60, { event: "crash", generation: 1, pid: 202 }],
      [58, { event: "started", generation: 1, pid: 203 }],
    ]);
    const page = await open(dir);
    try {
      const lives = await bars(page, 1);
      expect(lives).toHaveLength(3);
      const classes = await page.$$eval('svg.timeline g[data-generation="1"] rect.life', (rs) =>
        rs.map((r) => r.getAttribute("class")),
      );
      expect(classes).toEqual(["life crashed", "life crashed", "life running"]);
      // In order, not overlapping, the last one to now.
      const [first, second, third] = lives;
      expect(first!.end).toBeLessThanOrEqual(second!.x + 1);
      expect(third!.end).toBeCloseTo(await axisEnd(page), 0);
      expect(await page.locator('svg.timeline g[data-generation="1"] circle.crash').count()).toBe(2);
    } finally {
      await page.close();
    }
  });
});
