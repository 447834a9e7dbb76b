/**
 * Memory forensics on real processes and real cores: a live snapshot that leaves the service
 * serving, a scan that finds planted words on a goroutine's stack and in a heap object and names
 * both, a diff around a leak of 1,000 goroutines, and eval/mem on a real crash bundle.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureCrash } from "../src/capture/capture.js";
import { readBinaryIdentity } from "../src/elf/index.js";
import { diffCaptures } from "../src/forensics/diffCaptures.js";
import { evalInCapture, memInCapture } from "../src/forensics/inspect.js";
import { snapshotProcess } from "../src/forensics/liveDump.js";
import { parsePattern, scanStoredCapture } from "../src/forensics/scanCore.js";
import { archiveBinary, ensureStore } from "../src/store/index.js";
import { produceCore } from "./helpers/crash.js";
import { buildGoFixture } from "./helpers/go.js";
import { fetchText } from "./helpers/http.js";

let store: string;
let service: ChildProcess | undefined;
let bin: string;

beforeAll(() => {
  bin = buildGoFixture("fxmem");
  store = mkdtempSync(join(tmpdir(), "hotdump-forensics-"));
});
afterAll(() => {
  service?.kill("SIGKILL");
  rmSync(store, { recursive: true, force: true });
});

describe("live service", () => {
  it("snapshots without stopping it, scans and names planted words, diffs a goroutine leak", async () => {
    service = spawn(bin, [], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const url = await new Promise<string>((resolve, reject) => {
      service!.stdout!.on("data", (c) => {
        out += c;
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(`http://${m[1]}`);
      });
      service!.once("exit", () => reject(new Error(`fixture exited: ${out}`)));
    });
    const goroutine = Number(/stackholder goroutine (\d+)/.exec(out)?.[1]);
    const heapAddr = /heap object (0x[0-9a-f]+)/.exec(out)?.[1];

    const a = await snapshotProcess({ storeDir: store, pid: service.pid! });
    expect(await fetchText(`${url}/ping`)).toBe("pong\n");
    expect(a.bundle?.meta.type).toBe("snapshot");
    expect(a.pauseMs).toBeGreaterThan(0);
    expect(await fetchText(`${url}/leak?n=1000`)).toBe("leaked 1000\n");
    const b = await snapshotProcess({ storeDir: store, pid: service.pid! });
    expect(await fetchText(`${url}/ping`)).toBe("pong\n");

    const d = await diffCaptures(store, a.bundle!.id, b.bundle!.id);
    expect(d.changes[0]).toMatchObject({
      function: "main.leakyWorker",
      state: "chan receive",
      delta: 1000,
      change: "appeared",
    });
    expect(d.goroutinesDelta).toBeGreaterThanOrEqual(1000); // plus the keep-alive connection's goroutine
    expect(d.a.heapInUse).toBeGreaterThan(0);
    expect(d.heapInUseDelta).not.toBeNull();

    const scan = await scanStoredCapture(store, b.bundle!.id, parsePattern({ hex: "efbeadde" }));
    const onStack = scan.hits.find(
      (h) => h.after.startsWith("01 00 ac 57") && h.region.kind === "goroutine-stack",
    );
    expect(onStack?.region).toMatchObject({ kind: "goroutine-stack", goroutine });
    expect(onStack?.where).toContain(`goroutine ${goroutine} stack`);
    const onHeap = scan.hits.find((h) => h.after.startsWith("02 00 a9 4e"));
    expect(onHeap?.address).toBe(heapAddr);
    expect(onHeap?.region).toMatchObject({ kind: "heap", object: heapAddr, offset: 0 });
    // the same word as an 8-byte pointer finds the global that points at the heap object
    const ptr = await scanStoredCapture(store, b.bundle!.id, parsePattern({ pointer: heapAddr! }));
    expect(ptr.hits.some((h) => h.region.kind === "bss" || h.region.kind === "data")).toBe(true);
    expect(ptr.hits.map((h) => h.where).join("\n")).toContain("main.heapObj");
  });
});

describe("crash bundle", () => {
  it("eval and mem read a real crash's core through Delve", async () => {
    const c = await produceCore(bin, ["crash"]);
    try {
      const layout = ensureStore(store);
      const archived = await archiveBinary(layout, bin);
      const captured = await captureCrash(
        {
          pid: c.pid,
          ended: { outcome: "crash", exitCode: null, signal: "SIGABRT", status: 134 },
          startedAt: new Date(),
          endedAt: new Date(),
          cmdline: [bin, "crash"],
          cwd: c.dir,
          envNames: [],
          binary: {
            path: bin,
            archived: archived.path,
            sha256: archived.sha256,
            identity: await readBinaryIdentity(bin),
          },
          stdoutTail: c.stdout,
          stderrTail: c.stderr,
          traceback: null,
          corePath: c.core,
        },
        { layout },
      );
      const id = captured.bundle!.id;
      const heapAddr = /heap object (0x[0-9a-f]+)/.exec(c.stdout)![1]!;
      const name = await evalInCapture(store, id, "main.heapObj.Name");
      expect(name.text).toBe('"heap-marker"');
      const obj = await evalInCapture(store, id, "*main.heapObj");
      expect(obj.text).toContain("Count: 42");
      const mem = await memInCapture(store, id, BigInt(heapAddr), 16);
      expect(mem.bytes.subarray(0, 8).toString("hex")).toBe("efbeadde0200a94e");
      expect(mem.region).toMatchObject({ kind: "heap", object: heapAddr });
      await expect(evalInCapture(store, id, "main.noSuchThing")).rejects.toMatchObject({ code: "E_EVAL" });
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
});
