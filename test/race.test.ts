/**
 * Data races from a real `-race` build (test/fixtures/go/racewrite): the race detector prints its
 * reports and exits 66 without a core. Under exec the run becomes a bundle of kind `race` (binary
 * and output, every report kept); under run a race is recorded as its generation prints it, and
 * the exit 66 that follows becomes a crash of that generation.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Report } from "../src/contracts/reportModel.js";
import type { CrashMeta } from "../src/store/bundle.js";
import { openJournal, storeLayout } from "../src/store/index.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture, GO_FIXTURES } from "./helpers/go.js";
import { type Supervised, startSupervised } from "./helpers/supervised.js";

const SRC = join(GO_FIXTURES, "racewrite", "main.go");
const lineOf = (needle: string) =>
  readFileSync(SRC, "utf8")
    .split("\n")
    .findIndex((l) => l.includes(needle)) + 1;
const tmp = () => mkdtempSync(join(tmpdir(), "hotdump-race-"));
const raceBinary = () => buildGoFixture("racewrite", { flags: ["-race"] });

interface ExecJson {
  outcome: string;
  exitCode: number | null;
  crash: { id: string; dir: string } | null;
  report: Report;
  core: { found: boolean; reason?: string } | null;
}

let sup: Supervised | undefined;
afterEach(async () => {
  await sup?.stop("SIGKILL");
  sup = undefined;
});

describe("-race builds", () => {
  it("exec: two races and exit 66 become one bundle of kind race, both reports with both accesses", async () => {
    const bin = raceBinary();
    const cwd = tmp();
    const store = join(cwd, "store");
    const r = await runCli(["exec", "--json", "--store", store, "--", bin, "two"], { cwd });
    expect(r.code).toBe(66); // the race detector's own exit status, passed on
    const json = JSON.parse(r.stdout) as ExecJson;
    expect(json.outcome).toBe("crash");
    expect(json.core?.found).toBe(false);
    expect(json.core?.reason).toMatch(/race detector reported 2 data races and exited with status 66/);
    const rep = json.report;
    expect(rep.kind).toBe("race");
    expect(rep.message).toMatch(/^data race on 0x[0-9a-f]+: write by goroutine \d+ at main\.go:\d+, /);
    expect(rep.culprit).toEqual({
      function: "main.(*ledger).deposit",
      file: SRC,
      line: lineOf("l.balance += n"),
    });
    expect(rep.races).toHaveLength(2);
    const [first, second] = rep.races;
    expect(first!.accesses.map((a) => a.op).sort()).toEqual(["read", "write"]);
    for (const a of first!.accesses) {
      expect(a.addr).toMatch(/^0x[0-9a-f]+$/);
      expect(a.goroutine).toBeGreaterThan(1);
      expect(a.frames[0]?.file).toBe(SRC);
    }
    expect(first!.created.map((c) => c.frames[0]?.function)).toEqual(["main.race", "main.race"]);
    expect(second!.culprit).toMatchObject({ function: "main.(*ledger).charge", line: lineOf("l.fees = n") });
    expect(rep.process).toMatchObject({ generation: null, command: [bin, "two"] });
    expect(rep.process?.pid).toBeGreaterThan(0);
    expect(Date.parse(rep.process?.time ?? "")).toBeGreaterThan(Date.now() - 120_000);
    // No core: nothing for a debugger to open.
    expect(rep.next).toEqual([`hotdump report ${json.crash?.id}`]);

    // The bundle keeps the binary and the output.
    const dir = json.crash!.dir;
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as CrashMeta;
    expect(meta.kind).toBe("race");
    expect(meta.state).toBe("complete");
    expect(existsSync(join(store, "binaries", meta.binary!.sha256!))).toBe(true);
    expect(readFileSync(join(dir, "stderr.txt"), "utf8").match(/WARNING: DATA RACE/g)).toHaveLength(2);

    const list = JSON.parse((await runCli(["crashes", "--json", "--store", store])).stdout) as {
      id: string;
      kind: string;
    }[];
    expect(list.find((c) => c.id === json.crash?.id)?.kind).toBe("race");

    // Every format shows both races: both accesses, with file:line, and where the goroutines began.
    const fmt = async (f: string) =>
      (await runCli(["report", json.crash!.id, "--store", store, "-f", f])).stdout;
    const text = await fmt("text");
    expect(text).toContain("Data race 1 of 2: main.(*ledger).deposit");
    expect(text).toContain("Data race 2 of 2: main.(*ledger).charge");
    expect(text).toMatch(/Previous (read|write) at 0x[0-9a-f]+ by goroutine \d+:/);
    expect(text).toMatch(/Goroutine \d+ \((running|finished)\) created at:/);
    expect(text).toContain(`${SRC}:${lineOf("l.balance += n")}`);
    // No core, but the source on disk: the culprit's line is shown.
    expect(text).toMatch(/^ {2}> +\d+ \| +l\.balance \+= n/m);
    expect(text).toMatch(/PID: \d+/);
    expect(text).toContain(`Command: ${bin} two`);
    expect(text).toMatch(/Crashed: 20\d\d-/);
    const md = await fmt("md");
    expect(md).toContain("### Data race 2 of 2");
    expect(md).toContain(`main.(*ledger).audit()`);
    expect(md).toMatch(/\*\*PID:\*\* `\d+`/);
    const html = await fmt("html");
    expect(html).toContain('<h2 id="race-1">Data race 2 of 2</h2>');
    expect(html).toMatch(/Goroutine \d+ \((running|finished)\) created at/);
    expect(html).toContain("<dt>Command</dt>");
    const j = JSON.parse(await fmt("json")) as Report;
    expect(j.races).toHaveLength(2);
    expect(j.process?.command).toEqual([bin, "two"]);
  });

  it("exec: GORACE=halt_on_error=1 ends at the first report", async () => {
    const cwd = tmp();
    const r = await runCli(["exec", "--json", "--store", join(cwd, "store"), "--", raceBinary(), "two"], {
      cwd,
      env: { GORACE: "halt_on_error=1" },
    });
    expect(r.code).toBe(66);
    const json = JSON.parse(r.stdout) as ExecJson;
    expect(json.report.kind).toBe("race");
    expect(json.report.races).toHaveLength(1);
    expect(json.crash?.id).toBeTruthy();
  });

  it("run: a race is recorded while the generation keeps running; its later exit 66 is a crash of it", async () => {
    const cwd = tmp();
    const store = join(cwd, "store");
    sup = startSupervised(
      ["run", "--json-events", "--store", store, "--probe", "alive:300ms", "--", raceBinary(), "linger"],
      { cwd },
    );
    const race = await sup.waitFor((e) => e.event === "race", 60_000, "race event");
    expect(race.generation).toBe(1);
    expect(race.message).toMatch(/^data race on 0x[0-9a-f]+: write by goroutine/);
    expect(race.culprit).toEqual({
      function: "main.(*ledger).deposit",
      file: SRC,
      line: lineOf("l.balance += n"),
    });
    // Recorded while it ran: before the generation ended.
    expect(sup.events.some((e) => e.event === "crash")).toBe(false);
    const crash = await sup.waitFor((e) => e.event === "crash" && e.generation === 1, 30_000, "crash");
    expect(crash.crashId).toBeTruthy();
    const report = JSON.parse(
      (await runCli(["report", String(crash.crashId), "--store", store, "-f", "json"])).stdout,
    ) as Report;
    expect(report.kind).toBe("race");
    expect(report.races).toHaveLength(1);
    expect(report.process?.generation).toBe(1);
    expect(report.process?.pid).toBe(race.pid);
    // Kept in the journal, where the dashboard and history read events.
    const j = openJournal(storeLayout(store));
    try {
      // run restarts the generation after its crash: only the first process's race is asserted.
      const kept = j.events({ limit: 1000 }).filter((e) => e.event === "race" && e.pid === race.pid);
      expect(kept.map((e) => [e.generation, e.message])).toEqual([[1, race.message]]);
    } finally {
      j.close();
    }
  });
});
