import type { Command } from "commander";
import {
  type Check,
  checkDeployment,
  connectFleet,
  DEFAULT_FLEET_DIR,
  type FleetConnection,
  type FleetSettings,
  fleetDown,
  fleetNotConfigured,
  fleetUp,
  loadFleetSettings,
  pullCrash,
  reindex,
} from "../fleet/index.js";
import {
  type CommonOptions,
  formatBytes,
  loggerFor,
  printJson,
  storeDirFrom,
  storeFlagFor,
  storeOption,
} from "./common.js";

const settingsOrFail = (): FleetSettings => {
  const s = loadFleetSettings(process.cwd(), process.env);
  if (!s) throw fleetNotConfigured();
  return s;
};

async function withFleet<T>(fn: (c: FleetConnection) => Promise<T>): Promise<T> {
  const conn = await connectFleet(settingsOrFail());
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

const table = (head: string[], rows: string[][]) => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return `${[fmt(head), ...rows.map(fmt)].join("\n")}\n`;
};

export function registerFleet(program: Command): void {
  registerFleetCommands(program);
  const fleet = program.commands.find((c) => c.name() === "fleet")!;
  for (const c of fleet.commands) c.option("-v, --verbose", "print the full error chain and debug logs");
}

function registerFleetCommands(program: Command): void {
  const fleet = program
    .command("fleet")
    .description("every host's crashes in one place: S3-compatible storage + PostgreSQL (see README, Fleet)");

  fleet
    .command("up")
    .description(
      "start a local fleet (versitygw + PostgreSQL) in DIR on free loopback ports and print its settings",
    )
    .option("--dir <dir>", `where its data lives (default ${DEFAULT_FLEET_DIR}); it survives fleet down`)
    .option("--json", 'print {"env": {...}}')
    .action(async (opts: { dir?: string; json?: boolean }, cmd: Command) => {
      const f = await fleetUp(opts.dir ?? DEFAULT_FLEET_DIR, loggerFor(cmd));
      if (opts.json) return printJson({ env: f.env, dir: f.dir, reused: f.reused });
      process.stdout.write(
        `# local fleet in ${f.dir}${f.reused ? " (already running)" : ""}: S3 ${f.s3.endpoint}, PostgreSQL 127.0.0.1:${f.pg.port}\n`,
      );
      for (const [k, v] of Object.entries(f.env)) process.stdout.write(`export ${k}='${v}'\n`);
    });

  fleet
    .command("down")
    .description("stop the local fleet started by fleet up (its data stays in DIR)")
    .option("--dir <dir>", `the fleet's directory (default ${DEFAULT_FLEET_DIR})`)
    .action(async (opts: { dir?: string }) => {
      const r = await fleetDown(opts.dir ?? DEFAULT_FLEET_DIR);
      process.stdout.write(
        r.stopped.length ? `stopped ${r.stopped.join(" and ")}\n` : "nothing was running\n",
      );
    });

  fleet
    .command("init")
    .description(
      "check a deployment: bucket, multipart, presign, conditional create, lifecycle rule; migrate the schema",
    )
    .option("--json", "print the checks as JSON")
    .action(async (opts: { json?: boolean }) => {
      const checks: Check[] = await checkDeployment(settingsOrFail());
      if (opts.json) printJson(checks);
      else
        for (const c of checks)
          process.stdout.write(`${c.status.padEnd(7)}  ${c.name.padEnd(18)}  ${c.detail}\n`);
      if (checks.some((c) => c.status === "missing")) process.exitCode = 1;
    });

  fleet
    .command("issues")
    .description("crashes grouped by fingerprint across hosts: count, hosts, first/last seen, status")
    .option("--json", "print a JSON array")
    .action(async (opts: { json?: boolean }) => {
      const issues = await withFleet((c) => c.catalog.issues());
      if (opts.json) return printJson(issues);
      if (issues.length === 0) return void process.stdout.write("no crashes in the fleet\n");
      process.stdout.write(
        table(
          ["FINGERPRINT", "STATUS", "COUNT", "HOSTS", "KIND", "MESSAGE"],
          issues.map((i) => [
            i.fingerprint,
            i.status,
            String(i.count),
            i.hosts.join(","),
            i.kind ?? "?",
            (i.message ?? "").slice(0, 60),
          ]),
        ),
      );
    });

  fleet
    .command("resolve")
    .description(
      "mark an issue resolved in the builds that had it; a crash from another build reopens it (regressed)",
    )
    .argument("<fingerprint>", "from hotdump fleet issues")
    .action(async (fingerprint: string) => {
      const ok = await withFleet((c) => c.catalog.resolve(fingerprint));
      if (!ok) {
        process.stderr.write(`hotdump: no issue ${fingerprint} in the fleet [E_FLEET_ISSUE_NOT_FOUND]\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`resolved ${fingerprint}\n`);
    });

  fleet
    .command("crashes")
    .description("every host's crashes, newest first")
    .option("--host <name>", "only this host's")
    .option("--fingerprint <fp>", "only this issue's")
    .option("--json", "print a JSON array")
    .action(async (opts: { host?: string; fingerprint?: string; json?: boolean }) => {
      const list = await withFleet((c) =>
        c.catalog.crashes({
          ...(opts.host ? { host: opts.host } : {}),
          ...(opts.fingerprint ? { fingerprint: opts.fingerprint } : {}),
        }),
      );
      if (opts.json) return printJson(list);
      if (list.length === 0) return void process.stdout.write("no crashes in the fleet\n");
      process.stdout.write(
        table(
          ["ID", "HOST", "KIND", "MESSAGE", "CULPRIT"],
          list.map((c) => [c.id, c.host, c.kind ?? "?", (c.message ?? "").slice(0, 50), c.culprit ?? ""]),
        ),
      );
    });

  storeOption(
    fleet
      .command("pull")
      .description("bring a fleet crash into a local store, so report, debug, eval and scan work on it")
      .argument("<id>", "a crash id, or HOST/ID when several hosts have that id")
      .option("--json", "print where it went as JSON"),
  ).action(async (id: string, opts: CommonOptions) => {
    const store = storeDirFrom(opts);
    const p = await withFleet((c) => pullCrash(c, store, id));
    if (opts.json) return printJson(p);
    process.stdout.write(
      p.present
        ? `${p.id} is already in ${store}\n`
        : `pulled ${p.host}/${p.id} into ${p.dir} (${formatBytes(p.bytes)})\nnext: hotdump report ${p.id}${storeFlagFor(store)}\n`,
    );
  });

  fleet
    .command("reindex")
    .description("rebuild the PostgreSQL index from the manifests in the bucket")
    .option("--json", "print the counts as JSON")
    .action(async (opts: { json?: boolean }) => {
      const r = await withFleet((c) => reindex(c.objects, c.catalog));
      if (opts.json) return printJson(r);
      process.stdout.write(
        `indexed ${r.indexed} crash(es)${r.bad.length ? `; ${r.bad.length} unreadable manifest(s)` : ""}\n`,
      );
      for (const b of r.bad) process.stdout.write(`  ${b.key}: ${b.why}\n`);
      if (r.bad.length) process.exitCode = 1;
    });
}
