// How big `hotdump dev`'s store grows: 50 edits of a real service (gin v1.12.0 from the module
// proxy, a 20 MB binary), two of them crashing at start, side by side with air on a copy.
//   npx tsc -p tsconfig.json && node bench/dev-store.mjs [EDITS=50]
//
// Each edit rewrites the version constant in main.go and waits for GET / to answer it (a
// crashing edit: for the crash event). At the end: the store's size on disk (binaries, crash
// bundles, journal), the binaries left and what keeping every build's binary would have cost
// (the sum of each generation's binary, stat'ed when its build-ok arrives), and air's tmp/.
// Target (issue 20): binaries left for the serving generation, the previous one and each crashed
// one only; `hotdump history` lists every generation with its SHA-256.
import { execFileSync } from "node:child_process";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { diskUsage } from "../dist/store/retention.js";
import {
  ensureAir,
  fmtMs,
  freePort,
  HOTDUMP,
  machine,
  onJsonEvents,
  pollUntil,
  runBench,
  spawnTracked,
  stop,
  tempDir,
} from "./lib/common.mjs";
import { AIR_MIN } from "./lib/devsvc.mjs";

const EDITS = Number(process.argv[2] ?? 50);
const CRASH_AT = new Set([Math.round(EDITS * 0.4), Math.round(EDITS * 0.8)]);

const source = (port, v, crash) => `package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

const version = "v${v}"

func main() {
	${crash ? 'panic("bad config at start")' : ""}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, version) })
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"version": version}) })
	r.Run("127.0.0.1:${port}")
}
`;

function ginProject(name, port, extra = {}) {
  const dir = tempDir(name);
  writeFileSync(
    join(dir, "go.mod"),
    "module ginsvc\n\ngo 1.24\n\nrequire github.com/gin-gonic/gin v1.12.0\n",
  );
  writeFileSync(join(dir, "main.go"), source(port, 0, false));
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(dir, f), text);
  execFileSync("go", ["mod", "tidy"], { cwd: dir, stdio: "ignore" });
  return dir;
}

const MiB = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;

async function hotdumpSide() {
  const port = await freePort();
  const dir = ginProject("devstore", port);
  const child = spawnTracked(process.execPath, [HOTDUMP, "dev", "--json-events"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "ignore"],
    env: { ...process.env, NO_COLOR: "1", GOFLAGS: "-buildvcs=false" },
  });
  const events = [];
  const everyBinary = new Map();
  const store = join(dir, ".hotdump");
  onJsonEvents(child, (e) => {
    events.push(e);
    if (e.event === "build-ok") {
      try {
        everyBinary.set(e.sha256, statSync(join(store, "binaries", e.sha256)).blocks * 512);
      } catch {}
    }
  });
  await pollUntil(port, (b) => b === "v0", { timeoutMs: 600_000, everyMs: 50 });
  const t0 = performance.now();
  for (let i = 1; i <= EDITS; i++) {
    const crash = CRASH_AT.has(i);
    const seen = events.length;
    writeFileSync(join(dir, "main.go"), source(port, i, crash));
    if (crash) {
      for (const end = Date.now() + 300_000; !events.slice(seen).some((e) => e.event === "crash"); ) {
        if (Date.now() > end) throw new Error(`edit ${i}: no crash`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } else await pollUntil(port, (b) => b === `v${i}`, { timeoutMs: 300_000, everyMs: 20 });
    process.stderr.write(`\rhotdump edit ${i}/${EDITS}`);
  }
  process.stderr.write("\n");
  const wall = performance.now() - t0;
  // The last build's binary is stored beside its start: wait for its build-ok.
  for (
    const end = Date.now() + 60_000;
    !events.some((e) => e.event === "build-ok" && e.generation === EDITS + 1);
  )
    if (Date.now() > end) break;
    else await new Promise((r) => setTimeout(r, 50));
  await stop(child, "SIGTERM", 15_000);
  const binaries = readdirSync(join(store, "binaries")).filter((f) => /^[0-9a-f]{64}$/.test(f));
  const crashedGens = new Set(events.filter((e) => e.event === "crash").map((e) => e.generation));
  const history = JSON.parse(
    execFileSync(process.execPath, [HOTDUMP, "history", "--json", "--store", store], { encoding: "utf8" }),
  );
  return {
    wall,
    storeBytes: diskUsage(store),
    binariesBytes: diskUsage(join(store, "binaries")),
    binaries: binaries.length,
    everyBinaryBytes: [...everyBinary.values()].reduce((a, b) => a + b, 0),
    generations: history.length,
    withSha: history.filter((g) => /^[0-9a-f]{64}$/.test(g.sha256)).length,
    crashedGens: crashedGens.size,
  };
}

async function airSide() {
  const port = await freePort();
  const dir = ginProject("devstoreair", port, { ".air.toml": AIR_MIN });
  const child = spawnTracked(ensureAir(), ["-c", ".air.toml"], { cwd: dir, stdio: "ignore" });
  await pollUntil(port, (b) => b === "v0", { timeoutMs: 600_000, everyMs: 50 });
  const t0 = performance.now();
  let stalls = 0;
  for (let i = 1; i <= EDITS; i++) {
    // air has no crash capture: its crashing edits are left out, the others are the same.
    if (CRASH_AT.has(i)) continue;
    writeFileSync(join(dir, "main.go"), source(port, i, false));
    try {
      await pollUntil(port, (b) => b === `v${i}`, { timeoutMs: 60_000, everyMs: 20 });
    } catch {
      // air (v1.67.4) sometimes starts the new process before the old one let go of the port
      // ("bind: address already in use") and then serves nothing: written again, it recovers.
      stalls++;
      writeFileSync(join(dir, "main.go"), source(port, i, false));
      await pollUntil(port, (b) => b === `v${i}`, { timeoutMs: 300_000, everyMs: 20 });
    }
    process.stderr.write(`\rair edit ${i}/${EDITS}`);
  }
  process.stderr.write("\n");
  const wall = performance.now() - t0;
  await stop(child, "SIGTERM", 15_000);
  return { wall, stalls, tmpBytes: diskUsage(join(dir, "tmp")) };
}

await runBench(async () => {
  console.log(`machine: ${machine()}`);
  const h = await hotdumpSide();
  // Printed before air runs: an air failure must not lose them.
  console.log(`\n${EDITS} edits of a gin service (${CRASH_AT.size} crashing at start)`);
  console.log("| | store on disk | binaries | every build's binary kept (before) | edits took |");
  console.log("| --- | --- | --- | --- | --- |");
  console.log(
    `| hotdump dev | ${MiB(h.storeBytes)} | ${h.binaries} (${MiB(h.binariesBytes)}) | ${MiB(h.everyBinaryBytes)} | ${fmtMs(h.wall)} |`,
  );
  const want = 2 + h.crashedGens;
  const verdict = (ok) => (ok ? "target met" : "target MISSED");
  console.log(
    `\nbinaries left ${h.binaries} = serving + previous + ${h.crashedGens} crashed (${want}): ${verdict(h.binaries <= want)}`,
  );
  console.log(
    `history lists ${h.generations} generations, ${h.withSha} with a SHA-256: ${verdict(h.generations === EDITS + 1 && h.withSha === h.generations)}`,
  );
  const a = await airSide();
  console.log(
    `| air (delay 1), ${EDITS - CRASH_AT.size} edits | ${MiB(a.tmpBytes)} (tmp/) | 1 | – | ${fmtMs(a.wall)}${a.stalls ? `, ${a.stalls} stall(s) written again` : ""} |`,
  );
});
