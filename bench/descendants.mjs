// Cost of following a program's descendants (src/supervise/descendants.ts): one /proc pass over a
// small tree, and the CPU the 20 ms poll costs hotdump while a service runs.
// Build first (`npx tsc -p tsconfig.json`), then: node bench/descendants.mjs
import { spawn } from "node:child_process";
import { trackDescendants } from "../dist/supervise/descendants.js";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A tree like `make run` → sh → server, plus a sibling: 5 processes.
// Its own process group, so the whole tree is ended by the group id at the end.
const root = spawn("/bin/sh", ["-c", "sh -c 'sleep 120 & sleep 120; wait' & sleep 120; wait"], {
  stdio: "ignore",
  detached: true,
});
await sleep(300);
const t = trackDescendants(root.pid, { intervalMs: 1e9 });
await t.poll();
const size = t.list().length;

const pass = [];
for (let round = 0; round < 5; round++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 1000; i++) await t.poll();
  pass.push(Number(process.hrtime.bigint() - t0) / 1e6 / 1000);
}
await t.stop();

// CPU of this process over 3 s: no tracker; the 20 ms poll of a changing tree (the tracker never
// settles when idleIntervalMs is left out); dev/run's tracker once the tree has settled (50 ms for
// the first 3 s, then 500 ms; measured after 3.5 s).
async function cpuOver(ms, opts) {
  const tr = opts ? trackDescendants(root.pid, opts) : null;
  if (opts?.idleIntervalMs) await sleep(3500);
  const c0 = process.cpuUsage();
  await sleep(ms);
  const c = process.cpuUsage(c0);
  await tr?.stop();
  return (c.user + c.system) / 1000 / ms;
}
const idle = [];
const tracked = [];
const settled = [];
for (let round = 0; round < 5; round++) {
  idle.push(await cpuOver(3000, null));
  tracked.push(await cpuOver(3000, {}));
  settled.push(await cpuOver(3000, { intervalMs: 50, idleIntervalMs: 500 }));
}
process.kill(-root.pid, "SIGKILL");

console.log(`tree of ${size} processes`);
console.log(`one pass (median of 5 × 1000): ${median(pass).toFixed(3)} ms`);
console.log(
  `CPU share of one core, median of 5 × 3 s: idle ${(median(idle) * 100).toFixed(2)}%, polling every 20 ms ${(median(tracked) * 100).toFixed(2)}%, dev/run settled (every 500 ms) ${(median(settled) * 100).toFixed(2)}%`,
);
