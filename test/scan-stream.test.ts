/**
 * `hotdump scan` streams the stored (compressed) core through the searcher: the hits are exactly
 * those a scan of the decompressed core finds, with nothing written to disk unless regions are to
 * be named.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parsePattern, scanCoreFile } from "../src/forensics/scanCore.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";

interface ScanJson {
  hits: { address: string; where: string; match: string; before: string }[];
  stats: { capped: boolean };
  notes: string[];
}

const MARK = "HOTDUMP_SCAN_MARK=";
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

async function crashInto(env: NodeJS.ProcessEnv = {}) {
  const cwd = mkdtempSync(join(tmpdir(), "hotdump-scan-"));
  const store = join(cwd, "store");
  const e = await runCli(["exec", "--json", "--store", store, "--", buildGoFixture("exectarget"), "panic"], {
    cwd,
    env,
  });
  return { cwd, store, id: (JSON.parse(e.stdout) as { crash: { id: string } }).crash.id };
}

const scan = async (store: string, args: string[]) =>
  JSON.parse((await runCli(["scan", "--json", "--store", store, ...args])).stdout) as ScanJson;

describe("hotdump scan on a stored core", () => {
  it("finds by streaming the same hits as a scan of the decompressed core", async () => {
    // The process's environment sits in its initial stack, which the kernel dumps.
    const { cwd, store, id } = await crashInto({ HOTDUMP_SCAN_MARK: "x".repeat(40) });
    const streamed = await scan(store, ["--string", MARK, "--no-regions", id]);
    expect(streamed.hits.length).toBeGreaterThanOrEqual(1);
    expect(streamed.notes.join(" ")).toMatch(/only streamed/);
    expect(readdirSync(join(store, "cache"))).toEqual([]);

    // The same core decompressed by hand and scanned from the file: the same addresses and context.
    const core = join(cwd, "core");
    execFileSync("zstd", ["-dq", "-o", core, join(store, "crashes", id, "core.zst")]);
    const direct = await scanCoreFile(core, parsePattern({ text: MARK }));
    expect(streamed.hits.map((h) => h.address)).toEqual(direct.hits.map((h) => `0x${h.addr.toString(16)}`));
    expect(streamed.hits.map((h) => h.before)).toEqual(direct.hits.map((h) => hex(h.before)));
    expect(streamed.hits[0]?.match).toBe(hex(Buffer.from(MARK)));

    // With regions (the default) each hit is named, and the cache is empty again afterwards.
    const named = await scan(store, ["--string", MARK, id]);
    expect(named.hits.map((h) => h.address)).toEqual(streamed.hits.map((h) => h.address));
    expect(named.hits.every((h) => h.where.length > 0)).toBe(true);
    expect(readdirSync(join(store, "cache"))).toEqual([]);
  });

  it("stops at --max and ends the decompressor", async () => {
    const { store, id } = await crashInto();
    // Zero bytes abound in any core.
    const j = await scan(store, ["--pattern", "0000000000000000", "--max", "3", "--no-regions", id]);
    expect(j.hits).toHaveLength(3);
    expect(j.stats.capped).toBe(true);
  });
});
