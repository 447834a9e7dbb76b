/**
 * `hotdump diff` on a real goroutine leak: two `hotdump snapshot`s of a running service
 * (test/fixtures/go/fxmem) around leaking requests, compared through the CLI. Groups are formed the
 * one way (src/analyze/goroutineGroups.ts): the leak is one line per wait reason, goroutines parked on the
 * same line with different wait reasons are two lines, and so are the runtime's own goroutines.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CaptureDiff, GroupCount } from "../src/forensics/diffCaptures.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { fetchText } from "./helpers/http.js";
import { expectRuntimeHelpers, FORCE_GC, SCAVENGER, SWEEPER } from "./helpers/runtimeGroups.js";

let bin: string;
let service: ChildProcess | undefined;
let store: string | undefined;

beforeAll(() => {
  bin = buildGoFixture("fxmem");
});
afterEach(() => {
  service?.kill("SIGKILL");
  service = undefined;
  if (store) rmSync(store, { recursive: true, force: true });
  store = undefined;
});

async function startService(): Promise<string> {
  const p = spawn(bin, [], { stdio: ["ignore", "pipe", "pipe"] });
  service = p;
  let out = "";
  return new Promise<string>((resolve, reject) => {
    p.stdout!.on("data", (c) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(`http://${m[1]}`);
    });
    p.once("exit", () => reject(new Error(`fixture exited: ${out}`)));
  });
}

async function snapshot(dir: string, pid: number): Promise<string> {
  const r = await runCli(["snapshot", "--json", "--store", dir, "--pid", String(pid)], {
    timeoutMs: 120_000,
  });
  expect(r.code, r.stderr).toBe(0);
  const id = (JSON.parse(r.stdout) as { id: string | null }).id;
  expect(id).toBeTruthy();
  return id!;
}

async function diff(dir: string, a: string, b: string, ...flags: string[]): Promise<CaptureDiff> {
  const r = await runCli(["diff", "--json", "--store", dir, ...flags, a, b], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as CaptureDiff;
}

const sig = (g: GroupCount) => `${g.count} ${g.state} ${g.function} ${g.file}:${g.line}`;

describe("hotdump diff", () => {
  it("names the leaking group with its growth, one line per wait reason, runtime groups kept apart", async () => {
    store = mkdtempSync(join(tmpdir(), "hotdump-diff-"));
    const url = await startService();
    const pid = service!.pid!;
    const a = await snapshot(store, pid);
    expect(await fetchText(`${url}/leak?n=300`)).toBe("leaked 300\n");
    const b = await snapshot(store, pid);
    expect(await fetchText(`${url}/leak?n=500`)).toBe("leaked 500\n");
    expect(await fetchText(`${url}/leak?n=200&nil=1`)).toBe("leaked 200\n");
    const c = await snapshot(store, pid);

    const ab = await diff(store, a, b);
    expect(ab.a.source).toBe("report");
    expect(ab.changes[0]).toMatchObject({
      function: "main.leakyWorker",
      state: "chan receive",
      before: 0,
      after: 300,
      delta: 300,
      change: "appeared",
    });
    expect(ab.changes[0]?.file).toMatch(/fxmem\/main\.go$/);

    // Same line, two wait reasons: two lines, never one group labelled with one member's state.
    const bc = await diff(store, b, c);
    const leak = bc.changes.filter((x) => x.function === "main.leakyWorker");
    expect(leak).toHaveLength(2);
    expect(leak).toContainEqual(
      expect.objectContaining({ state: "chan receive", before: 300, after: 800, delta: 500, change: "grew" }),
    );
    expect(leak).toContainEqual(
      expect.objectContaining({
        state: "chan receive (nil chan)",
        before: 0,
        after: 200,
        delta: 200,
        change: "appeared",
      }),
    );
    expect(leak[0]?.line).toBe(leak[1]?.line);
    expect(bc.goroutinesDelta).toBeGreaterThanOrEqual(700);

    // The runtime's own goroutines: one group per wait reason, none labelled for the others.
    const runtime = bc.b.groups.filter((g) => g.class === "runtime");
    expectRuntimeHelpers(runtime, [FORCE_GC, SWEEPER, SCAVENGER]);

    // Regrouping from the cores with the same group function gives the stored groups exactly.
    const again = await diff(store, b, c, "--regroup");
    expect(again.a.source).toBe("delve");
    expect(again.b.source).toBe("delve");
    expect(again.b.groups.map(sig).sort()).toEqual(bc.b.groups.map(sig).sort());
    expect(again.a.groups.map(sig).sort()).toEqual(bc.a.groups.map(sig).sort());
    expect(again.changes).toEqual(bc.changes);

    const text = await runCli(["diff", "--store", store, b, c], { timeoutMs: 120_000 });
    expect(text.stdout).toMatch(/\+500 {2}grew {5}main\.leakyWorker \[chan receive\] /);
    expect(text.stdout).toMatch(/\+200 {2}appeared main\.leakyWorker \[chan receive \(nil chan\)\] /);
  }, 240_000);
});
