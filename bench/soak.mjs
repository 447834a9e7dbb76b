// Soak: reloads and crashes under load against `hotdump run`, for a long time (not in CI).
//   npx tsc -p tsconfig.json && node bench/soak.mjs [--minutes 60] [--sample 10]
//
// test/fixtures/go/runsvc under `hotdump run --listen 127.0.0.1:PORT --probe http://…/healthz`, a
// store budget of 200 MB (--max-use). Load: 2 loops of GET / without keep-alive, 5 ms apart.
// Every 5 s one deploy, cycling: good, good, crash-on-start (rolled back after a capture), good.
// Every --sample seconds: hotdump's own RSS and open fds (both stages, /proc/PID/status and
// /proc/PID/fd; the services and helpers are not counted), the store's size on disk, and the
// counts so far. Growth of RSS or fds across the table is what a leak looks like.
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { diskUsage } from "../dist/store/retention.js";
import { comm, HOTDUMP, processTree, rssKiB, runBench, sleep, tempDir } from "./lib/common.mjs";
import { startLoad } from "./lib/load.mjs";
import { startRunsvc } from "./lib/runsvc.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MINUTES = arg("minutes", 60);
const SAMPLE_S = arg("sample", 10);
const DEPLOY_EVERY_MS = 5000;
const run = promisify(execFile);

const fdCount = (pids) =>
  pids.reduce((n, p) => {
    try {
      return n + readdirSync(`/proc/${p}/fd`).length;
    } catch {
      return n;
    }
  }, 0);

await runBench(async () => {
  const dir = tempDir("soak");
  const counts = { switch: 0, rollback: 0, crash: 0, started: 0 };
  const { store, port, sup, variant, deploy } = await startRunsvc({
    dir,
    args: ["--max-use", "200MB", "--ready-timeout", "5s", "--drain", "3s"],
    onEvent: (e) => {
      if (e.event in counts) counts[e.event]++;
    },
  });
  const good = [variant("", "1"), variant("", "2")];
  const crash = variant("crash", "c");
  // hotdump's own processes: both stages (node), not the services, sh wrappers, zstd or dlv.
  const hotdumpPids = () =>
    processTree(sup.pid).filter((p) => comm(p) === "node" || comm(p).startsWith("MainThread"));
  const load = startLoad(port, { concurrency: 2, pauseMs: 5, maxMs: MINUTES * 60_000 + 60_000 });
  const t0 = Date.now();
  const end = t0 + MINUTES * 60_000;
  const rows = [];
  let deploys = 0;
  let nextSample = t0;
  let nextDeploy = t0 + DEPLOY_EVERY_MS;
  const cycle = [good[1], good[0], crash, good[1]];
  console.log(`soak: ${MINUTES} min, sample every ${SAMPLE_S} s, store ${store}`);
  console.log("| t (s) | hotdump RSS (MiB) | fds | store (MiB) | deploys | switches | rollbacks | crashes |");
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  while (Date.now() < end) {
    const now = Date.now();
    if (now >= nextSample) {
      const pids = hotdumpPids();
      const row = {
        t: Math.round((now - t0) / 1000),
        rss: rssKiB(pids) / 1024,
        fds: fdCount(pids),
        store: diskUsage(store) / 1024 ** 2,
        deploys,
        ...counts,
      };
      rows.push(row);
      console.log(
        `| ${row.t} | ${row.rss.toFixed(1)} | ${row.fds} | ${row.store.toFixed(1)} | ${deploys} | ${row.switch} | ${row.rollback} | ${row.crash} |`,
      );
      nextSample += SAMPLE_S * 1000;
    }
    if (now >= nextDeploy) {
      deploy(cycle[deploys % cycle.length]);
      deploys++;
      await run(process.execPath, [HOTDUMP, "reload", "--json", "--store", store], { timeout: 60_000 }).catch(
        () => {},
      );
      nextDeploy = Date.now() + DEPLOY_EVERY_MS;
    }
    await sleep(200);
  }
  const rec = await load.stop();
  const failed = rec.failed.reduce((a, b) => a + b, 0);
  const first = rows[1] ?? rows[0];
  const last = rows.at(-1);
  console.log(
    `\nrequests ${rec.starts.length}, failed ${failed}; RSS ${first.rss.toFixed(1)} → ${last.rss.toFixed(1)} MiB (max ${Math.max(...rows.map((r) => r.rss)).toFixed(1)}), fds ${first.fds} → ${last.fds}, store max ${Math.max(...rows.map((r) => r.store)).toFixed(1)} MiB`,
  );
  const crashes = JSON.parse(
    (await run(process.execPath, [HOTDUMP, "crashes", "--json", "--store", store])).stdout,
  );
  console.log(
    `crashes listed ${crashes.length} (evicted ${crashes.filter((c) => c.evicted).length}), crash events ${counts.crash}`,
  );
});
