/**
 * `hotdump snapshot` of a real running service (test/fixtures/go/fxmem): listed as a snapshot, not
 * a crash; no culprit claimed; the report's paths exist; and `hotdump scan` on it is as quick as
 * on a crash core of the same program (a Delve core carries its program headers at its end, which
 * once made the streaming scan copy the whole core per pipe chunk: 80 s against 0.4 s).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeCrash } from "../src/analyze/analyzeCrash.js";
import { readCoreFacts } from "../src/analyze/coreFacts.js";
import type { Report } from "../src/contracts/reportModel.js";
import { dumpLiveProcess, snapshotProcess } from "../src/forensics/liveDump.js";
import { hexBytes, parsePattern, scanCoreFile, scanStoredCapture } from "../src/forensics/scanCore.js";
import { openStoredCapture } from "../src/forensics/stored.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";

let dir: string;
let service: ChildProcess | undefined;
let bin: string;

beforeAll(() => {
  bin = buildGoFixture("fxmem");
  dir = mkdtempSync(join(tmpdir(), "hotdump-snapshot-"));
});
afterAll(() => {
  service?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function startService(): Promise<number> {
  service?.kill("SIGKILL");
  service = spawn(bin, [], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    service!.stdout!.on("data", (c) => {
      out += c;
      if (/listening on \S+/.test(out)) resolve();
    });
    service!.once("exit", () => reject(new Error(`fixture exited: ${out}`)));
  });
  return service.pid!;
}

/** Best of n runs (a shared machine: the minimum is the least disturbed). */
async function bestMs(n: number, f: () => Promise<unknown>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

describe("hotdump snapshot", () => {
  it("is its own kind with no culprit, its report's paths exist, and scan is as quick as on a crash core", async () => {
    const store = join(dir, "store");
    const pid = await startService();
    const snap = await runCli(["snapshot", "--json", "--store", store, "--pid", String(pid)]);
    expect(snap.code, snap.stderr).toBe(0);
    const snapId = (JSON.parse(snap.stdout) as { id: string }).id;
    // hotdump's tracer wrote it (no Delve standing in, and so no reason given).
    expect(JSON.parse(snap.stdout)).toMatchObject({ writer: "tracer" });
    expect(JSON.parse(snap.stdout)).not.toHaveProperty("tracerFailed");
    expect(service!.exitCode).toBeNull(); // it kept running

    const list = JSON.parse((await runCli(["crashes", "--json", "--store", store])).stdout) as {
      id: string;
      kind: string;
      culprit: string | null;
      message: string;
    }[];
    const listed = list.find((c) => c.id === snapId);
    expect(listed).toMatchObject({ kind: "snapshot", culprit: null });
    expect(listed?.message).toMatch(
      new RegExp(`^snapshot of pid ${pid} with \\d+ goroutines: the process kept running$`),
    );

    const report = JSON.parse(
      (await runCli(["report", snapId, "--store", store, "-f", "json"])).stdout,
    ) as Report;
    expect(report.kind).toBe("snapshot");
    expect(report.culprit).toBeNull();
    expect(report.core?.path).toBeTruthy();
    expect(existsSync(report.core!.path!)).toBe(true);
    expect(report.binary?.path && existsSync(report.binary.path)).toBe(true);
    // Every path a "next" command names exists.
    for (const n of report.next)
      for (const p of n.split(" ").filter((w) => w.startsWith("/"))) expect(existsSync(p), n).toBe(true);
    expect(report.process).toMatchObject({ pid, command: [bin] });
    const text = (await runCli(["report", snapId, "--store", store])).stdout;
    expect(text).toContain("None: a snapshot of a running process, not a crash.");
    expect(text).toMatch(/^Where goroutine \d+ was/m);
    expect(text).toMatch(/^ {2}Taken: 20\d\d-/m);
    const html = (await runCli(["report", snapId, "--store", store, "-f", "html"])).stdout;
    expect(html).toContain("None: a snapshot of a running process, not a crash.");

    // A crash core of the same program, through exec as a user would.
    const crashed = await runCli(["exec", "--json", "--store", store, "--", bin, "crash"], { cwd: dir });
    const crashId = (JSON.parse(crashed.stdout) as { crash: { id: string } }).crash.id;
    // fxmem plants 0xdeadbeef words on a goroutine stack and in a heap object, alive in both.
    const marker = parsePattern({ hex: "efbeadde" });
    const s0 = await scanStoredCapture(store, snapId, marker);
    const c0 = await scanStoredCapture(store, crashId, marker);
    for (const r of [s0, c0]) expect(r.hits.some((h) => h.region.kind === "heap")).toBe(true);
    expect(s0.hits.some((h) => h.region.kind === "goroutine-stack")).toBe(true);
    // Streaming the snapshot finds what a scan of the decompressed file finds, with the same
    // addresses and context; and --max still stops it (a Delve core, headers at its end: below).
    const streamed = await scanStoredCapture(store, snapId, marker, { regions: false });
    const opened = await openStoredCapture(store, snapId);
    try {
      const direct = await scanCoreFile(opened.core, marker);
      const key = (h: { address: string; before: string; after: string }) =>
        `${h.address} ${h.before}|${h.after}`;
      expect(streamed.hits.map(key)).toEqual(
        direct.hits.map((h) =>
          key({ address: `0x${h.addr.toString(16)}`, before: hexBytes(h.before), after: hexBytes(h.after) }),
        ),
      );
      expect(streamed.stats.bytes).toBe(direct.stats.bytes);
    } finally {
      await opened.release();
    }
    const one = await scanStoredCapture(store, snapId, marker, { regions: false, max: 1 });
    expect(one.hits).toHaveLength(1);
    expect(one.stats.capped).toBe(true);

    const snapMs = await bestMs(3, () => scanStoredCapture(store, snapId, marker));
    const crashMs = await bestMs(3, () => scanStoredCapture(store, crashId, marker));
    // The acceptance bound is 2x; 300 ms absorbs a loaded machine's jitter on these sub-second scans.
    expect(
      snapMs,
      `snapshot ${snapMs.toFixed(0)} ms, crash core ${crashMs.toFixed(0)} ms`,
    ).toBeLessThanOrEqual(2 * crashMs + 300);
  });
});

describe("the snapshot's writer", () => {
  it("hotdump's tracer writes a core Delve reads, naming the mapped files; Delve's dump stands in when asked", async () => {
    const pid = await startService();
    const byTracer = await dumpLiveProcess({ pid, dest: join(dir, "tracer.core") });
    const byDelve = await dumpLiveProcess({ pid, dest: join(dir, "delve.core"), method: "delve" });
    expect(byTracer.writer).toBe("tracer");
    expect(byTracer.tracerFailed).toBeUndefined();
    expect(byDelve.writer).toBe("delve");
    expect(service!.exitCode).toBeNull(); // it kept running through both
    for (const d of [byTracer, byDelve]) {
      const r = await analyzeCrash({ binary: bin, core: d.core, useGdb: false });
      expect(r.sources.delve, d.writer).toMatchObject({ used: true });
      expect(r.goroutines.total, d.writer).toBeGreaterThan(1);
    }
    // The tracer writes NT_FILE as the kernel does; Delve's dump names no file.
    const mapped = (core: string) =>
      readCoreFacts(core).then((f) => f.memoryMap.filter((m) => m.file === bin).length);
    expect(await mapped(byTracer.core)).toBeGreaterThan(0);
    expect(await mapped(byDelve.core)).toBe(0);

    // A Delve core carries its program headers at its end, which once made the streaming scan copy
    // the whole core per pipe chunk (80 s against 0.4 s): streamed, it finds what a direct scan finds.
    const store = join(dir, "store-delve");
    const snap = await snapshotProcess({ storeDir: store, pid, method: "delve", analyze: false });
    const marker = parsePattern({ hex: "efbeadde" });
    const streamed = await scanStoredCapture(store, snap.bundle!.meta.id, marker, { regions: false });
    const opened = await openStoredCapture(store, snap.bundle!.meta.id);
    try {
      const direct = await scanCoreFile(opened.core, marker);
      expect(streamed.hits.map((h) => h.address)).toEqual(direct.hits.map((h) => `0x${h.addr.toString(16)}`));
      expect(streamed.hits.length).toBeGreaterThan(0);
    } finally {
      await opened.release();
    }
  });
});
