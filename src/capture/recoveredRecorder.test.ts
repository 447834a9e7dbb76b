import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { signatureOf } from "../analyze/signature.js";
import { findRecoveredPanics } from "../analyze/traceback/index.js";
import { ensureStore, openJournal } from "../store/index.js";
import { createLogger } from "../util/log.js";
import { type Captured, type CrashFacts, captureCrash } from "./capture.js";
import { createRecoveredRecorder } from "./recoveredRecorder.js";

// Recorded from a real gin service (test/fixtures/recovered/record.sh).
const GIN = readFileSync(
  resolve(import.meta.dirname, "../../test/fixtures/tracebacks/recovered-gin.txt"),
  "utf8",
);

describe("recovered-panic records", () => {
  it("a storm of a thousand of the same panic is one bundle with its count; another process is another", async () => {
    const layout = ensureStore(join(mkdtempSync(join(tmpdir(), "hotdump-rec-")), ".hotdump"));
    const journal = openJournal(layout);
    const captured: CrashFacts[] = [];
    const events: unknown[] = [];
    const recorder = createRecoveredRecorder({
      layout,
      journal,
      capture: (f): Promise<Captured> => {
        captured.push(f);
        return captureCrash(f, { layout, journal, runAnalysis: false });
      },
      emit: (e) => events.push(e),
      logger: createLogger({ level: "error", stream: process.stderr }),
      fingerprint: (r) => signatureOf(r).fingerprint,
      countEveryMs: 10,
    });
    const p = findRecoveredPanics(GIN)[0]!;
    const ctx = (pid: number) => ({
      generation: 3,
      pid,
      startedAt: new Date(),
      cmdline: ["/srv/shop"],
      cwd: "/",
      envNames: [],
      binary: null,
      stdoutTail: "",
    });
    for (let i = 0; i < 1000; i++) recorder.record(p, GIN, ctx(100));
    recorder.record(p, GIN, ctx(200));
    await recorder.flush();
    expect(captured.map((f) => f.pid)).toEqual([100, 200]);
    expect(events).toHaveLength(2);
    const rows = journal.crashes();
    expect(rows.map((r) => r.count).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([1, 1000]);
    const big = rows.find((r) => r.count === 1000)!;
    expect(big.kind).toBe("recovered");
    expect(big.fingerprint).toMatch(/^v\d+-[0-9a-f]{16}$/);
    const meta = JSON.parse(readFileSync(join(layout.crashes, big.id, "meta.json"), "utf8"));
    expect(meta).toMatchObject({ kind: "recovered", outcome: "recovered", recoveredBy: "gin", count: 1000 });
    expect(Date.parse(meta.lastSeen)).toBeGreaterThanOrEqual(Date.parse(meta.createdAt) - 1000);
    journal.close();
  });
});
