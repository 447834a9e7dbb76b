#!/usr/bin/env node
// `npx tsc -p tsconfig.json && node bench/fleet-upload.mjs [RUNS=3] [MIB=1024]`: a 1 GiB core sent to
// a local fleet (`hotdump fleet up`: versitygw + PostgreSQL on loopback), side by side with the
// plain AWS SDK upload (@aws-sdk/lib-storage's Upload, 16 MiB parts, 4 at a time: what a
// hand-written integration would do) of the same file. Each run: a real crash captured by
// `hotdump exec` into a fresh store without a fleet, its core.zst replaced by MIB MiB of random
// bytes (incompressible: the worst case; what is sent is the stored file), then `hotdump push`
// timed with its peak RSS (/usr/bin/time), and the SDK upload of the same file in its own process.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { HOTDUMP, machine, median, runBench, TEST_FIXTURES, tempDir } from "./lib/common.mjs";

const RUNS = Number(process.argv[2] ?? 3);
const MIB = Number(process.argv[3] ?? 1024);

function hotdump(args, env, opts = {}) {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, HOTDUMP, ...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    maxBuffer: 64 << 20,
    ...opts,
  });
  const last = r.stderr.trim().split("\n").at(-1) ?? "";
  const [secs, kb] = last.split(" ").map(Number);
  return { ...r, secs, rssMiB: kb / 1024 };
}

await runBench(async () => {
  const base = tempDir("fleet");
  chmodSync(base, 0o711); // PostgreSQL runs as the postgres user: it must reach base/fleet/pg
  const fleetDir = join(base, "fleet");
  const up = hotdump(["fleet", "up", "--dir", fleetDir, "--json"], {});
  if (up.status !== 0) throw new Error(`fleet up: ${up.stderr}`);
  const env = { ...JSON.parse(up.stdout).env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
  const sdkScript = join(import.meta.dirname, "lib", "sdk-upload.mjs");
  execFileSync("go", ["build", "-o", join(base, "gdbpanic"), "./gdbpanic"], {
    cwd: TEST_FIXTURES,
    env: { ...process.env, CGO_ENABLED: "0" },
  });
  const rows = { hotdump: [], sdk: [] };
  try {
    for (let run = 1; run <= RUNS; run++) {
      const store = join(base, `store-${run}`);
      const ex = hotdump(["exec", "--json", "--no-analyze", "--store", store, "--", join(base, "gdbpanic")], {
        HOTDUMP_FLEET_S3: "",
        HOTDUMP_FLEET_PG: "",
      });
      const id = JSON.parse(ex.stdout).crash.id;
      const dir = join(store, "crashes", id);
      const core = join(dir, "core.zst");
      rmSync(core, { force: true });
      const fd = openSync(core, "w", 0o600);
      for (let i = 0; i < MIB / 16; i++) writeSync(fd, randomBytes(16 << 20));
      closeSync(fd);
      const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
      meta.core = { ...meta.core, found: true, stored: "core.zst", compression: "zstd" };
      writeFileSync(join(dir, "meta.json"), JSON.stringify(meta));
      spawnSync("sync");

      const push = hotdump(["push", "--store", store], { ...env, HOTDUMP_HOST: `bench-${run}` });
      if (push.status !== 0) throw new Error(`push: ${push.stderr}`);
      rows.hotdump.push(push);
      const sdk = spawnSync(
        "/usr/bin/time",
        ["-f", "%e %M", process.execPath, sdkScript, core, "hotdump", `bench/sdk-${run}`],
        {
          env: { ...process.env, ...env },
          encoding: "utf8",
          cwd: process.cwd(),
        },
      );
      if (sdk.status !== 0) throw new Error(`sdk upload: ${sdk.stderr}`);
      const [secs, kb] = (sdk.stderr.trim().split("\n").at(-1) ?? "").split(" ").map(Number);
      rows.sdk.push({ secs, rssMiB: kb / 1024 });
      console.error(
        `run ${run}: hotdump push ${push.secs.toFixed(2)} s, ${push.rssMiB.toFixed(0)} MiB RSS; SDK Upload ${secs.toFixed(2)} s, ${(kb / 1024).toFixed(0)} MiB RSS`,
      );
      rmSync(core, { force: true });
    }
  } finally {
    hotdump(["fleet", "down", "--dir", fleetDir], {});
  }
  const line = (name, xs) => {
    const s = median(xs.map((x) => x.secs));
    return `| ${name} | ${s.toFixed(2)} s | ${(MIB / s).toFixed(0)} MiB/s | ${median(xs.map((x) => x.rssMiB)).toFixed(0)} MiB | ${xs.map((x) => x.secs.toFixed(2)).join(" / ")} s |`;
  };
  console.log(`${machine()}; ${MIB} MiB core, ${RUNS} runs, ${new Date().toISOString()}`);
  console.log("| upload of the core | median time | throughput | peak RSS (median) | runs |");
  console.log("| --- | --- | --- | --- | --- |");
  console.log(line("hotdump push (whole bundle: core, binary, report, manifest, index)", rows.hotdump));
  console.log(line("@aws-sdk/lib-storage Upload (the core alone)", rows.sdk));
});
