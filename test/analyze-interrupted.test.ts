/**
 * Issue 24, point 5: `analyze --crash ID` completes a bundle whose capture was interrupted after
 * its core.zst was safely in place (meta.json still "capturing", no report.json, no journal row):
 * before, it said "still capturing", left the bundle partial and never journalled it.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-interrupted-");

describe("analyze --crash on an interrupted bundle", () => {
  it("adopts its whole core.zst, writes the report, completes meta.json and adds the journal row", async () => {
    const bin = buildGoFixture("capcrash");
    const { cwd, store } = scratch.project();
    const r = await runCli(["exec", "--json", "--no-analyze", "--store", store, "--", bin, "crash"], { cwd });
    const { id, dir } = JSON.parse(r.stdout).crash as { id: string; dir: string };
    // The state a supervisor SIGKILLed right after storing the core leaves: meta.json as first
    // written, the core in place, nothing else.
    const metaPath = join(dir, "meta.json");
    const meta = JSON.parse(readFileSync(metaPath, "utf8"));
    expect(meta.core.stored).toBe("core.zst");
    const { kind: _k, message: _m, culprit: _c, ...first } = meta;
    writeFileSync(
      metaPath,
      JSON.stringify({ ...first, state: "capturing", core: { found: false, reason: "still capturing" } }),
    );
    rmSync(join(dir, "report.json"));
    const db = new Database(join(store, "journal.db"));
    db.prepare("DELETE FROM crashes WHERE id = ?").run(id);
    db.close();

    const before = await runCli(["crashes", "--all", "--store", store], { cwd });
    expect(before.stdout).toMatch(new RegExp(`${id} .*incomplete +capture interrupted`));

    const a = await runCli(["analyze", "--crash", id, "--store", store, "-f", "json"], {
      cwd,
      timeoutMs: 120_000,
    });
    expect(a.code).toBe(0);
    const report = JSON.parse(a.stdout);
    expect(report.sources.delve.used || report.sources.gdb.used).toBe(true);
    expect(report.culprit.function).toMatch(/^main\./);

    const done = JSON.parse(readFileSync(metaPath, "utf8"));
    expect(done.state).toBe("complete");
    expect(done.core).toMatchObject({ found: true, stored: "core.zst", compression: "zstd" });
    expect(done.culprit.function).toBe(report.culprit.function);
    expect(done.message).toBeTruthy();
    expect(JSON.parse(readFileSync(join(dir, "report.json"), "utf8")).culprit.function).toBe(
      report.culprit.function,
    );

    const ro = new Database(join(store, "journal.db"), { readonly: true });
    const row = ro.prepare("SELECT kind, culprit FROM crashes WHERE id = ?").get(id) as {
      kind: string;
      culprit: string;
    };
    ro.close();
    expect(row.kind).toBe(report.kind);
    expect(row.culprit).toContain(report.culprit.function);
    const after = await runCli(["crashes", "--all", "--store", store], { cwd });
    expect(after.stdout).not.toMatch(/incomplete/);
  }, 180_000);
});
