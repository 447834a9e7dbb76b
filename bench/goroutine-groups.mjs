// What exact goroutine groups cost on a big core, and whether Delve offers a cheaper way to the
// same groups.
//   npx tsc -p tsconfig.json && node bench/goroutine-groups.mjs [GOROUTINES=10000] [RUNS=7]
//
// bench/fixtures/crasher parks GOROUTINES goroutines and panics (GOTRACEBACK=crash, core limit
// raised, core_pattern `core`: the core lands in a temp dir). One Delve session on that core, then,
// alternating, RUNS times each:
//   ungrouped   ListGoroutines GroupBy None: every goroutine with its state (what the analysis uses)
//   paged       the same in pages of Count 2000, one after the other
//   parallel    the same pages all sent at once (Delve serves RPCs concurrently, Node parses as
//               replies come)
//   userloc     Delve's own grouping (GroupBy UserLoc, 5 members): no states, so not the same
//               groups, but the floor: Delve still walks every stack to find the user location
//   shared      listGoroutineGroups: the ungrouped list + the shared grouping (src/analyze/goroutineGroups.ts)
//               + the stack reads it needs: exactly what report.json gets
// Reply sizes, medians and min/max are printed; the machine's load is printed with them.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { listGoroutineGroups } from "../dist/analyze/delve/goroutines.js";
import { createDelveSession } from "../dist/analyze/delve/index.js";
import { goBuild, machine, median, runBench, tempDir } from "./lib/common.mjs";

const N = Number(process.argv[2] ?? 10000);
const RUNS = Number(process.argv[3] ?? 7);
const base = { GroupByKey: "", MaxGroups: 0 };

runBench(async () => {
  console.log(machine());
  const dir = tempDir("groups");
  const bin = join(dir, "crasher");
  goBuild(".", bin, ["-gcflags=all=-N -l"], join(import.meta.dirname, "fixtures/crasher"));
  try {
    execFileSync("sh", ["-c", 'ulimit -c unlimited; exec "$0" "$@"', bin, "-goroutines", String(N)], {
      cwd: dir,
      env: { ...process.env, GOTRACEBACK: "crash" },
      stdio: "ignore",
    });
  } catch {
    // it panics: that is the point
  }
  const core = join(dir, "core");
  if (!existsSync(core)) throw new Error(`no core in ${dir} (core_pattern must be "core")`);
  const s = await createDelveSession({ binary: bin, core, timeoutMs: 300_000 });
  try {
    const list = (extra) => s.call("ListGoroutines", { ...base, GroupBy: 0, MaxGroupMembers: 0, ...extra });
    const sizes = {};
    const cases = {
      ungrouped: async () => {
        const o = await list({ Start: 0, Count: 0 });
        sizes.ungrouped = JSON.stringify(o).length;
        return o.Goroutines.length;
      },
      paged: async () => {
        let n = 0;
        for (let st = 0; st >= 0; ) {
          const o = await list({ Start: st, Count: 2000 });
          n += o.Goroutines?.length ?? 0;
          st = o.Nextg;
        }
        return n;
      },
      parallel: async () => {
        const ps = [];
        for (let st = 0; st < N + 20; st += 2000) ps.push(list({ Start: st, Count: 2000 }));
        return (await Promise.all(ps)).reduce((n, o) => n + (o.Goroutines?.length ?? 0), 0);
      },
      userloc: async () => {
        const o = await s.call("ListGoroutines", {
          ...base,
          Start: 0,
          Count: 0,
          GroupBy: 2,
          MaxGroupMembers: 5,
        });
        sizes.userloc = JSON.stringify(o).length;
        return o.Groups.reduce((n, g) => n + g.Total, 0);
      },
      shared: async () => {
        const g = await listGoroutineGroups(s, {
          goVersion: /go\d+\.\d+(\.\d+)?/.exec(s.version.TargetGoVersion)?.[0] ?? null,
          classify: { modulePath: null },
          maxGroups: 50,
        });
        sizes.sharedGroups = g.groups.length;
        return g.total;
      },
    };
    await cases.ungrouped(); // Delve loads the goroutines once
    const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    let total = null;
    for (let r = 0; r < RUNS; r++)
      for (const [k, f] of Object.entries(cases)) {
        const t0 = performance.now();
        const n = await f();
        times[k].push(performance.now() - t0);
        if (total === null) total = n;
        if (n !== total) throw new Error(`${k} saw ${n} goroutines, not ${total}`);
      }
    console.log(
      `\n${total} goroutines; load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(
          " ",
        )}; ungrouped reply ${(sizes.ungrouped / 1e6).toFixed(1)} MB, userloc reply ${(sizes.userloc / 1e3).toFixed(1)} KB, shared: ${sizes.sharedGroups} groups\n`,
    );
    console.log(`| way (median of ${RUNS}) | median | min / max | vs ungrouped |`);
    console.log("| --- | --- | --- | --- |");
    const m0 = median(times.ungrouped);
    for (const [k, v] of Object.entries(times))
      console.log(
        `| ${k} | ${median(v).toFixed(0)} ms | ${Math.min(...v).toFixed(0)} / ${Math.max(...v).toFixed(0)} ms | ${(median(v) / m0).toFixed(2)}× |`,
      );
  } finally {
    await s.close();
  }
});
