/**
 * Issue 24: a panic message is the crashed program's text, and hotdump printed its ESC and NUL bytes
 * raw (`crashes`, the live summary): an escape sequence could recolour or rewrite the reader's
 * terminal. A real crash whose message holds ESC[31m, a C1 CSI (U+009B) and a NUL, analysed by
 * the real Delve; then every terminal output path is read: exec's summary, `report` (text),
 * `crashes`, `history`, and run's own lines. The program's own output is its own and passes
 * through untouched; everything hotdump writes shows the bytes as \xNN.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-tty-");

/** Any C0 control but newline and tab, DEL, or a C1 control (as UTF-8 text). */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/;

/** hotdump's own lines: everything but what the program itself wrote (its stderr, as is). */
const ours = (text: string) =>
  text
    .split("\n")
    .filter((l) => !l.startsWith("panic: red") && !l.startsWith("[app]"))
    .join("\n");

describe("a panic message's control bytes never reach the terminal raw (issue 24)", () => {
  it("exec's summary, report, crashes and history escape ESC[31m, a C1 CSI and NUL", async () => {
    const bin = buildGoFixture("secretcrash");
    const { cwd, store } = scratch.project();
    const x = await runCli(["exec", "--store", store, "--", bin, "red"], { cwd, timeoutMs: 90_000 });
    expect(x.code).toBe(134);
    // The program's own stderr went through as it wrote it.
    expect(x.stderr).toContain("panic: red \x1b[31mALERT");
    const summary = ours(x.stderr);
    expect(summary).toContain("\\x1b[31mALERT\\x1b[0m");
    expect(summary).not.toMatch(CONTROL);

    const id = /crashes\/(\d{8}-\d{6}-[0-9a-f]{4})/.exec(x.stderr)?.[1] ?? "";
    expect(id).not.toBe("");
    for (const args of [["report", id], ["crashes"], ["crashes", "--all"], ["history"]]) {
      const r = await runCli([...args, "--store", store], { cwd, timeoutMs: 60_000 });
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
      expect(r.stdout + r.stderr, args.join(" ")).not.toMatch(CONTROL);
      if (args[0] !== "history") expect(r.stdout, args.join(" ")).toContain("\\x1b[31mALERT\\x1b[0m");
    }
  }, 180_000);

  it("run: the supervisor's own lines about the crash escape them too", async () => {
    const bin = buildGoFixture("secretcrash");
    const { cwd, store } = scratch.project();
    const sup = scratch.start(["run", "--json-events", "--store", store, "--", bin, "red"], { cwd });
    await sup.waitFor((e) => e.event === "crash", 90_000, "the crash");
    await sup.stop("SIGTERM");
    const lines = ours(sup.output());
    expect(lines).toContain("\\x1b[31mALERT");
    expect(lines).not.toMatch(CONTROL);
  }, 180_000);
});
