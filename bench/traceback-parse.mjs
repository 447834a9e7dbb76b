// Throughput of the traceback parser on a real 100,000-goroutine dump.
// Build first (`npx tsc -p tsconfig.json`), then: node bench/traceback-parse.mjs [N] [dump.txt]
// Without a dump file it builds test/fixtures/go/tbmany and runs it with GOTRACEBACK=all to make one.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { groupGoroutines, parseTraceback } from "../dist/analyze/traceback/index.js";

const n = Number(process.argv[2] ?? 100_000);
let text;
if (process.argv[3]) {
  text = readFileSync(process.argv[3], "utf8");
} else {
  const dir = mkdtempSync(join(tmpdir(), "hotdump-bench-"));
  try {
    const bin = join(dir, "tbmany");
    execFileSync("go", ["build", "-o", bin, "./tbmany"], {
      cwd: resolve(import.meta.dirname, "../test/fixtures/go"),
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const run = spawnSync(bin, [String(n)], {
      env: { ...process.env, GOTRACEBACK: "all" },
      encoding: "utf8",
      maxBuffer: 1 << 30,
    });
    text = run.stderr;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = Buffer.byteLength(text) / 1e6;
const runs = [];
let tb = null;
for (let i = 0; i < 5; i++) {
  const t0 = process.hrtime.bigint();
  tb = parseTraceback(text);
  const groups = groupGoroutines(tb?.goroutines ?? []);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  runs.push({ ms, groups: groups.length });
}
runs.sort((a, b) => a.ms - b.ms);
const med = runs[2];
const total = tb?.goroutines.length ?? 0;
process.stdout.write(
  `${total} goroutines, ${mb.toFixed(1)} MB, ${med.groups} groups: median of 5 ${med.ms.toFixed(0)} ms ` +
    `(${Math.round(total / (med.ms / 1000)).toLocaleString("en")} goroutines/s, ${(mb / (med.ms / 1000)).toFixed(0)} MB/s; ` +
    `min ${runs[0].ms.toFixed(0)} ms, max ${runs[4].ms.toFixed(0)} ms)\n`,
);
