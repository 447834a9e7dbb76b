/**
 * The dashboard during a real `hotdump dev --ui` session: the service's output live, and a save
 * that makes the service crash shows up on the open page without a reload, with its generation.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { launchChromium } from "./helpers/browser.js";
import { type Supervised, startSupervised } from "./helpers/supervised.js";

const service = (crash: boolean) => `package main

import (
	"fmt"
	"time"
)

type cart struct{ Items []string }

func total(c *cart) int { return len(c.Items) }

func main() {
	fmt.Println("started <b>not bold</b>")
	${crash ? "time.Sleep(300 * time.Millisecond)\n\tfmt.Println(total(nil))" : ""}
	time.Sleep(time.Hour)
}
`;

let sup: Supervised | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  await sup?.stop("SIGKILL");
});

describe("hotdump dev --ui", () => {
  it("shows a crash of the running dev session live, with its generation", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-uidev-"));
    writeFileSync(join(dir, "go.mod"), "module uidev\n\ngo 1.24\n");
    writeFileSync(join(dir, "main.go"), service(false));
    sup = startSupervised(["dev", "--json-events", "--ui", "--probe", "alive:100ms"], { cwd: dir });
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 90_000, "generation 1 ready");
    const url = sup.output().match(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/\S*)/)?.[1];
    expect(url).toBeDefined();
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(url!);
    await page.waitForSelector("#status.live");
    writeFileSync(join(dir, "main.go"), service(true));
    const crash = await sup.waitFor(
      (e) => e.event === "crash" && e.generation === 2,
      60_000,
      "crash of generation 2",
    );
    const row = page.locator(`#crashes tr[data-id="${crash.crashId}"]`);
    await row.filter({ hasText: "main.total" }).waitFor({ timeout: 15_000 });
    // Cell by cell: time, generation, kind, message, culprit.
    const cells = (await row.locator("td").allTextContents()).map((c) => c.trim());
    expect(cells.slice(1, 3)).toEqual(["2", "panic"]);
    expect(cells[3]).toMatch(/nil pointer dereference/);
    expect(cells[4]).toMatch(/^main\.total /);
    await page.locator("#applog", { hasText: "[gen 2] panic: runtime error" }).waitFor({ timeout: 10_000 });
  }, 170_000);
});
