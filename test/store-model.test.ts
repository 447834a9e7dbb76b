/**
 * The store model on a real bundle (a real Go panic captured by `hotdump exec`, core and all):
 * report.json is written through the renderer `report -f json` uses, at capture and at
 * re-analysis alike, with meta.json's summary and the journal row; what the store reads is checked
 * against the contracts, older reports are upgraded, a damaged file is a typed error naming it, and
 * a command that only reads never creates a store.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "hotdump-store-model-"));
  dirs.push(d);
  return d;
};
let captured: { store: string; id: string };

beforeAll(async () => {
  const cwd = tmp();
  const store = join(cwd, ".hotdump");
  const r = await runCli(["exec", "--json", "--store", store, "--", buildGoFixture("exectarget"), "panic"], {
    cwd,
    timeoutMs: 110_000,
  });
  const id = JSON.parse(r.stdout).crash?.id;
  expect(id, r.stderr).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
  captured = { store, id };
}, 120_000);

afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A copy of the captured store, for a test to damage. */
function copyStore(): { store: string; id: string; dir: string } {
  const store = join(tmp(), ".hotdump");
  cpSync(captured.store, store, { recursive: true });
  return { store, id: captured.id, dir: join(store, "crashes", captured.id) };
}

// Each call's limit is well under a test's (120 s, vitest.config.ts) times the calls it makes.
const cli = (args: string[], timeoutMs = 15_000) => runCli(args, { cwd: tmp(), timeoutMs });
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
const journalRow = (store: string, id: string) => {
  const db = new Database(join(store, "journal.db"), { readonly: true });
  try {
    return db.prepare("SELECT kind, message, culprit FROM crashes WHERE id = ?").get(id) as
      | { kind: string; message: string; culprit: string }
      | undefined;
  } finally {
    db.close();
  }
};

/** One line for people, the stable code, no stack trace and not the CLI's "internal error". */
function expectTypedError(r: CliResult, code: string, file: string) {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toContain(`[${code}]`);
  expect(r.stderr).toContain(file);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
}

describe("finishBundle", () => {
  it("at capture: report.json is the text `report -f json` prints; meta.json and the journal summarise it", async () => {
    const { store, id } = captured;
    const dir = join(store, "crashes", id);
    const onDisk = readFileSync(join(dir, "report.json"), "utf8");
    const printed = await cli(["report", id, "-f", "json", "--store", store]);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toBe(onDisk);
    expect(onDisk).toMatch(/^\{\n {2}"schemaVersion": 1,\n {2}"kind": "panic",/);
    const report = JSON.parse(onDisk);
    const meta = readJson(join(dir, "meta.json"));
    expect(meta).toMatchObject({ state: "complete", kind: "panic", culprit: report.culprit });
    expect(meta.message).toContain("nil pointer dereference");
    expect(journalRow(store, id)).toEqual({
      kind: "panic",
      message: report.message,
      culprit: `${report.culprit.function} ${report.culprit.file}:${report.culprit.line}`,
    });
  });

  it("at re-analysis (`analyze --crash`): report.json, meta.json and the journal row written the same way", async () => {
    const { store, id, dir } = copyStore();
    // What an older hotdump left: report.json in JSON.stringify's order, a stale journal row.
    const old = readJson(join(dir, "report.json"));
    writeFileSync(
      join(dir, "report.json"),
      JSON.stringify(Object.fromEntries(Object.entries(old).reverse())),
    );
    const db = new Database(join(store, "journal.db"));
    db.prepare("UPDATE crashes SET kind = 'unknown', culprit = NULL WHERE id = ?").run(id);
    db.close();
    const r = await cli(
      ["analyze", "--crash", id, "--no-delve", "--no-gdb", "-f", "json", "--store", store],
      80_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const onDisk = readFileSync(join(dir, "report.json"), "utf8");
    expect(r.stdout).toBe(onDisk);
    expect(onDisk).toMatch(/^\{\n {2}"schemaVersion": 1,\n {2}"kind": "panic",/);
    expect((await cli(["report", id, "-f", "json", "--store", store])).stdout).toBe(onDisk);
    const report = JSON.parse(onDisk);
    expect(report.culprit.function).toBe("main.process");
    expect(readJson(join(dir, "meta.json"))).toMatchObject({ state: "complete", kind: "panic" });
    expect(journalRow(store, id)?.culprit).toBe(
      `${report.culprit.function} ${report.culprit.file}:${report.culprit.line}`,
    );
  });
});

describe("openBundle / readBundleReport", () => {
  it("upgrades a report written before races and process facts existed", async () => {
    const { store, id, dir } = copyStore();
    const { races: _r, process: _p, ...old } = readJson(join(dir, "report.json"));
    writeFileSync(join(dir, "report.json"), JSON.stringify(old));
    const r = await cli(["report", id, "-f", "json", "--store", store]);
    expect(r.code, r.stderr).toBe(0);
    const meta = readJson(join(dir, "meta.json"));
    expect(JSON.parse(r.stdout)).toMatchObject({
      races: [],
      process: { pid: meta.pid, generation: null, command: meta.cmdline, startedAt: meta.startedAt },
    });
  });

  it("a meta.json of {} is listed as unreadable by `crashes`, and is E_BUNDLE_CORRUPT naming the file", async () => {
    const { store, id, dir } = copyStore();
    writeFileSync(join(dir, "meta.json"), "{}\n");
    const list = await cli(["crashes", "--json", "--store", store]);
    expect(list.code, list.stderr).toBe(0);
    const row = JSON.parse(list.stdout).find((c: { id: string }) => c.id === id);
    expect(row.error).toContain(join(dir, "meta.json"));
    expect((await cli(["crashes", "--all", "--store", store])).stdout).toMatch(
      new RegExp(`${id}\\s+-\\s+unreadable`),
    );
    // Grouped by signature (the default view) it is never hidden either: a row of its own.
    expect((await cli(["crashes", "--store", store])).stdout).toMatch(
      new RegExp(`unreadable[\\s\\S]*latest ${id}`),
    );
    expectTypedError(await cli(["report", id, "--store", store]), "E_BUNDLE_CORRUPT", join(dir, "meta.json"));
  });

  it("a meta.json of the wrong shape or not JSON is E_BUNDLE_CORRUPT, saying where", async () => {
    const { store, id, dir } = copyStore();
    const meta = readJson(join(dir, "meta.json"));
    writeFileSync(join(dir, "meta.json"), JSON.stringify({ ...meta, core: "core.zst" }));
    const r = await cli(["report", id, "--store", store]);
    expectTypedError(r, "E_BUNDLE_CORRUPT", join(dir, "meta.json"));
    expect(r.stderr).toMatch(/damaged: core: /);
    writeFileSync(join(dir, "meta.json"), '{"id": ');
    expectTypedError(await cli(["report", id, "--store", store]), "E_BUNDLE_CORRUPT", join(dir, "meta.json"));
  });

  it("a damaged report.json is E_REPORT_CORRUPT naming the file and the way to write it again", async () => {
    const { store, id, dir } = copyStore();
    const file = join(dir, "report.json");
    writeFileSync(file, JSON.stringify({ ...readJson(file), culprit: { function: "x" } }));
    const r = await cli(["report", id, "--store", store]);
    expectTypedError(r, "E_REPORT_CORRUPT", file);
    expect(r.stderr).toContain(`hotdump analyze --crash ${id}`);
    writeFileSync(file, "not json");
    expectTypedError(await cli(["report", id, "--store", store]), "E_REPORT_CORRUPT", file);
  });

  it("a damaged journal.db is E_JOURNAL_CORRUPT naming the file, for crashes and history", async () => {
    const { store } = copyStore();
    const file = join(store, "journal.db");
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    writeFileSync(
      file,
      "this is not a database, it is a damaged journal of the right length or so\n".repeat(64),
    );
    expectTypedError(await cli(["crashes", "--store", store]), "E_JOURNAL_CORRUPT", file);
    expectTypedError(await cli(["history", "--store", store]), "E_JOURNAL_CORRUPT", file);
  });
});

describe("commands that only read", () => {
  it("never create a store where --store names none", async () => {
    const { id } = captured;
    const cases: string[][] = [
      ["report", id],
      ["debug", id],
      ["diff", id, id],
      ["scan", id, "--string", "secret"],
      ["eval", id, "1+1"],
      ["mem", id, "0x1000"],
      ["analyze", "--crash", id],
    ];
    for (const args of cases) {
      const store = join(tmp(), "nothing-here");
      const r = await cli([...args, "--store", store]);
      expect(r.code, `${args[0]}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr, args[0]).toContain("[E_NO_STORE]");
      expect(existsSync(store), `${args[0]} created ${store}`).toBe(false);
    }
  });
});
