/**
 * The report before the core (capture/firstReport.ts): a Go program with a big heap crashes, and
 * while the kernel still writes its core hotdump opens the bundle with report.json from the
 * traceback; the capture after the exit completes that same bundle with Delve's report. Under
 * `exec` and under `dev` (its `first-report` event and terminal line).
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture, GO_FIXTURES } from "./helpers/go.js";
import { type Supervised, startSupervised } from "./helpers/supervised.js";

/** 768 MiB of touched heap: the kernel needs most of a second or more to write the core. */
const ARGS = ["-mb", "768", "-goroutines", "2000"];

function bundleOf(store: string, id: string) {
  const dir = join(store, "crashes", id);
  return {
    meta: JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")),
    report: JSON.parse(readFileSync(join(dir, "report.json"), "utf8")),
  };
}

/** The first report came before the exit was seen, and the bundle was then completed by Delve. */
function expectCompletedFirstReport(b: ReturnType<typeof bundleOf>) {
  expect(b.meta.firstReportAt, "no first report").toBeDefined();
  expect(Date.parse(b.meta.firstReportAt)).toBeLessThan(Date.parse(b.meta.endedAt));
  expect(b.meta.state).toBe("complete");
  expect(b.meta.core.found).toBe(true);
  expect(b.report.sources.delve.used).toBe(true);
  expect(b.report.culprit).toMatchObject({ function: "main.total", line: 20 });
}

let sup: Supervised | undefined;
afterEach(async () => {
  await sup?.stop("SIGKILL");
  sup = undefined;
});

describe("the first report", () => {
  it("exec: report.json from the traceback while the core is written, then the full one in the same bundle", async () => {
    const bin = buildGoFixture("bigheapcrash");
    const cwd = mkdtempSync(join(tmpdir(), "hotdump-first-"));
    const store = join(cwd, ".hotdump");
    const { stdout, stderr } = await runCli(["exec", "--json", "--store", store, "--", bin, ...ARGS], {
      cwd,
      timeoutMs: 110_000,
    });
    const r = JSON.parse(stdout);
    expect(r.outcome).toBe("crash");
    expect(stderr).toMatch(/first report from the traceback \(the core is still being written\)/);
    // One bundle: the capture adopted the first report's instead of opening another.
    expect(readdirSync(join(store, "crashes"))).toEqual([r.crash.id]);
    expectCompletedFirstReport(bundleOf(store, r.crash.id));
  });

  it("dev: the crash is told from the traceback at once, then captured into the same bundle", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-first-dev-"));
    writeFileSync(join(dir, "go.mod"), "module bigheap\n\ngo 1.24\n");
    copyFileSync(join(GO_FIXTURES, "bigheapcrash", "main.go"), join(dir, "main.go"));
    sup = startSupervised(["dev", "--json-events", "--", ...ARGS, "-after", "200ms"], { cwd: dir });
    const first = await sup.waitFor((e) => e.event === "first-report", 90_000, "first-report");
    expect(first.generation).toBe(1);
    expect(first.message).toMatch(/nil pointer dereference/);
    expect(first.culprit).toMatchObject({ function: "main.total", line: 20 });
    const crash = await sup.waitFor((e) => e.event === "crash", 90_000, "crash");
    expect(crash.crashId).toBe(first.crashId);
    expect(sup.output()).toMatch(
      new RegExp(
        `generation 1 crashed: .*nil pointer dereference.* at main\\.total .*main\\.go:20 \\(crash ${first.crashId}`,
      ),
    );
    expectCompletedFirstReport(bundleOf(join(dir, ".hotdump"), String(first.crashId)));
  });
});
