/**
 * README's command table against the CLI itself (the commander tree `hotdump --help` prints): every
 * command has a row, every row names a command that exists, and each row lists exactly the
 * command's flags, leaving out only --store and -v/--verbose, which the line under the table covers.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createProgram } from "../src/cli/program.js";
import { runCli } from "./helpers/cli.js";

const ROOT = join(import.meta.dirname, "..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
/** Said once under the table, not in every row. */
const COMMON = new Set(["--store", "--verbose"]);

/** `hotdump NAME ...` code spans of the table's first column, flags and all, by command. */
function tableRows(): Map<string, { longs: Set<string>; shorts: Set<string> }> {
  const start = readme.indexOf("| command | what it does |");
  const table = readme.slice(start, readme.indexOf("\n\n", start));
  const rows = new Map<string, { longs: Set<string>; shorts: Set<string> }>();
  for (const line of table.split("\n").slice(2)) {
    const first = line.split(/(?<!\\)\|/)[1] ?? "";
    for (const span of first.match(/`hotdump [^`]+`/g) ?? []) {
      const name = /^`hotdump ([a-z]+)/.exec(span)?.[1];
      if (!name) continue;
      const row = rows.get(name) ?? { longs: new Set<string>(), shorts: new Set<string>() };
      for (const f of span.match(/--[a-z][a-z0-9-]*/g) ?? []) row.longs.add(f);
      for (const f of span.match(/(?<![\w-])-[a-zA-Z](?![\w-])/g) ?? []) row.shorts.add(f);
      rows.set(name, row);
    }
  }
  return rows;
}

const program = await createProgram();

describe("README command table", () => {
  const rows = tableRows();

  it("has one row per command, and no command that does not exist", () => {
    expect([...rows.keys()].sort()).toEqual(program.commands.map((c) => c.name()).sort());
  });

  for (const cmd of program.commands) {
    it(`lists exactly the flags of hotdump ${cmd.name()}`, () => {
      const longs = cmd.options
        .filter((o) => !o.hidden)
        .map((o) => o.long)
        .filter((l): l is string => !!l && !COMMON.has(l));
      const shorts = cmd.options.map((o) => o.short).filter((s): s is string => !!s && s !== "-v");
      const row = rows.get(cmd.name());
      expect([...(row?.longs ?? [])].sort(), "README row vs the CLI's long flags").toEqual(
        [...new Set(longs)].sort(),
      );
      for (const s of row?.shorts ?? []) expect(shorts, `README's ${s} for ${cmd.name()}`).toContain(s);
    });
  }

  it("agrees with the help the built CLI prints", async () => {
    // The same tree, as a user sees it: every README command is in `hotdump --help`, and a row's
    // flags are in that command's --help. Run asynchronously: a loaded machine's 25 CLI starts in a
    // row must not block the test worker.
    const help = (await runCli(["--help"])).stdout;
    for (const [name, row] of rows) {
      expect(help).toMatch(new RegExp(`^  ${name}\\b`, "m"));
      const sub = (await runCli([name, "--help"])).stdout;
      for (const f of row.longs) expect(sub, `${name} --help`).toContain(f);
    }
  });

  it("--version prints package.json's version", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const out = (await runCli(["--version"])).stdout;
    expect(out.trim()).toBe(pkg.version);
  });
});
