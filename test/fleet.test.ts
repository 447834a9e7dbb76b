/**
 * The fleet against a real versitygw and a real PostgreSQL, started by `hotdump fleet up` on free
 * loopback ports: real Go crashes captured by `hotdump exec` on two "hosts" (two stores,
 * HOTDUMP_HOST), delivered, grouped, pulled back; the fleet going down while a host crashes; an
 * upload killed mid-way.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { beforeAll, describe, expect, it } from "vitest";
import { SIGNATURE_VERSION } from "../src/analyze/signature.js";
import type { FleetCrash, FleetIssue } from "../src/fleet/catalog.js";
import { enforceBudget, openJournal, storeLayout } from "../src/store/index.js";
import { launchChromium } from "./helpers/browser.js";
import { gather, HOTDUMP, runCli } from "./helpers/cli.js";
import { useFleet } from "./helpers/fleet.js";
import { buildGoFixture } from "./helpers/go.js";
import { useScratch } from "./helpers/scratch.js";

const fleet = useFleet("hotdump-fleet-");
const scratch = useScratch("hotdump-fleet-t-");
let panicBin: string;

beforeAll(async () => {
  panicBin = buildGoFixture("gdbpanic");
  await fleet.up();
});

/** `hotdump exec` of the panicking fixture as `host` into `store`; returns the crash id. */
async function crashOn(host: string, store: string, env: NodeJS.ProcessEnv = fleet.env) {
  const r = await runCli(["exec", "--json", "--store", store, "--", panicBin], {
    cwd: scratch.dir(),
    env: { ...env, HOTDUMP_HOST: host },
  });
  const json = JSON.parse(r.stdout) as { crash: { id: string } | null };
  expect(json.crash, r.stderr).not.toBeNull();
  return { id: json.crash!.id, stderr: r.stderr };
}

async function fleetJson<T>(args: string[]): Promise<T> {
  const r = await runCli(["fleet", ...args, "--json"], { env: fleet.env });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

describe("hotdump fleet", () => {
  let alpha: { id: string; store: string };
  /** The crash with the 300 MB core (the resume test), and that core's first bytes. */
  let big: { id: string; head: Buffer } | null = null;

  it("the same crash on two hosts is one issue with both hosts; the binary is stored once", async () => {
    const a = { store: join(fleet.tmp(), "store") }; // the next test pulls from it
    const b = { store: join(scratch.dir(), "store") };
    const ca = await crashOn("alpha", a.store);
    const cb = await crashOn("beta", b.store);
    expect(ca.stderr).toContain(`fleet: delivered ${ca.id}`);
    expect(cb.stderr).toContain(`fleet: delivered ${cb.id}`);
    alpha = { id: ca.id, store: a.store };

    const crashes = await fleetJson<FleetCrash[]>(["crashes"]);
    const ours = crashes.filter((c) => c.id === ca.id || c.id === cb.id);
    expect(ours.map((c) => `${c.host}/${c.id}`).sort()).toEqual([`alpha/${ca.id}`, `beta/${cb.id}`].sort());
    expect(ours[0]!.fingerprint).toBe(ours[1]!.fingerprint);
    // src/analyze/signature.ts's, of the version this hotdump makes
    expect(ours[0]!.fingerprint).toMatch(new RegExp(`^v${SIGNATURE_VERSION}-[0-9a-f]{16}$`));
    expect(ours[0]!.culprit).toMatch(/^main\.checkout .*main\.go:19$/);

    const issues = await fleetJson<FleetIssue[]>(["issues"]);
    const issue = issues.find((i) => i.fingerprint === ours[0]!.fingerprint)!;
    expect(issue).toMatchObject({ count: 2, hosts: ["alpha", "beta"], kind: "panic", status: "new" });
    expect(issue.message).toBe("cart of ada over limit: 21 > 10");
    expect(issue.firstSeen.build).toBe(ours[0]!.buildId);
    expect(Date.parse(issue.lastSeen.time)).toBeGreaterThanOrEqual(Date.parse(issue.firstSeen.time));

    // One binary for the fleet, whatever the number of hosts that crashed with it.
    const sha = ours[0]!.binarySha256!;
    expect(await fleet.keys("binaries/")).toEqual([`binaries/${sha}`]);
    // Each bundle's manifest is there, and names only objects that exist.
    for (const c of ours) {
      const m = JSON.parse((await fleet.objects().get(c.manifestKey)).toString()) as {
        files: { key: string }[];
      };
      const all = await fleet.keys();
      for (const f of m.files) expect(all).toContain(f.key);
    }
  });

  it("fleet init checks the deployment and says what is missing; fleet up again finds it running", async () => {
    const r = await runCli(["fleet", "init", "--json"], { env: fleet.env });
    const checks = JSON.parse(r.stdout) as { name: string; status: string; detail: string }[];
    expect(Object.fromEntries(checks.map((c) => [c.name, c.status]))).toEqual({
      bucket: "ok",
      "conditional create": "ok",
      multipart: "ok",
      presign: "ok",
      // versitygw's posix back end has no lifecycle rules: said, with the rule to add elsewhere.
      lifecycle: "missing",
      schema: "ok",
    });
    expect(r.code).toBe(1);
    expect(checks.find((c) => c.name === "lifecycle")!.detail).toMatch(/abort.*incomplete multipart/i);
    // Nothing of the checks is left in the bucket.
    expect((await fleet.keys()).filter((k) => k.includes("_hotdump-check"))).toEqual([]);

    const again = await runCli(["fleet", "up", "--dir", fleet.dir, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ reused: true, env: fleet.env });

    // A half-set fleet is one line with a code, never a stack trace.
    const bad = await runCli(["push"], { env: { HOTDUMP_FLEET_S3: "s3://bucket-x", HOTDUMP_FLEET_PG: "" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^hotdump: HOTDUMP_FLEET_PG: missing .*\[E_FLEET_SETTING\]$/);
  });

  it("status by build: resolved stays resolved for the builds that had it, a new build regresses it", async () => {
    const [issue] = (await fleetJson<FleetIssue[]>(["issues"])).filter((i) => i.hosts.includes("alpha"));
    const r = await runCli(["fleet", "resolve", issue!.fingerprint], { env: fleet.env });
    expect(r.code, r.stderr).toBe(0);
    const status = async () =>
      (await fleetJson<FleetIssue[]>(["issues"])).find((i) => i.fingerprint === issue!.fingerprint)!;
    expect((await status()).status).toBe("resolved");
    // A host still on the old build crashes again: still resolved.
    await crashOn("beta", join(scratch.dir(), "store"));
    expect(await status()).toMatchObject({ status: "resolved", count: 3 });
    // The same bug in another build (-trimpath: other build ID, same functions): regressed.
    const rebuilt = buildGoFixture("gdbpanic", { flags: ["-trimpath"] });
    const r2 = await runCli(["exec", "--json", "--store", join(scratch.dir(), "store"), "--", rebuilt], {
      cwd: scratch.dir(),
      env: { ...fleet.env, HOTDUMP_HOST: "beta" },
    });
    expect(r2.stderr).toContain("fleet: delivered");
    const now = await status();
    expect(now).toMatchObject({ status: "regressed", count: 4, builds: 2 });
    expect(now.lastSeen.build).not.toBe(now.firstSeen.build);
  });

  it("a pulled bundle gives the same report as on its host", async () => {
    const local = await runCli(["report", alpha.id, "--store", alpha.store, "-f", "json"]);
    expect(local.code, local.stderr).toBe(0);
    const into = join(scratch.dir(), "pulled");
    const p = await runCli(["fleet", "pull", `alpha/${alpha.id}`, "--store", into], { env: fleet.env });
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain(`pulled alpha/${alpha.id}`);
    const pulled = await runCli(["report", alpha.id, "--store", into, "-f", "json"]);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(JSON.parse(pulled.stdout)).toEqual(JSON.parse(local.stdout));
    const text = await runCli(["report", alpha.id, "--store", into]);
    expect(text.stdout).toContain("main.checkout");
    // Delve on the pulled core and binary reads what it reads on the host.
    const meta = JSON.parse(readFileSync(join(into, "crashes", alpha.id, "meta.json"), "utf8"));
    expect(meta.core.stored, "this run's core_pattern let hotdump keep the core").toBe("core.zst");
    const evalOn = (store: string) => runCli(["eval", alpha.id, "c.Owner", "--store", store, "--json"]);
    const [here, there] = await Promise.all([evalOn(into), evalOn(alpha.store)]);
    expect(here.code, here.stderr).toBe(0);
    expect(JSON.parse(here.stdout)).toEqual(JSON.parse(there.stdout));
    expect(here.stdout).toContain("ada");
    const scanOn = async (store: string) => {
      const r = await runCli([
        "scan",
        alpha.id,
        "--string",
        "ada",
        "--no-regions",
        "--json",
        "--store",
        store,
      ]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { hits: { address: string }[] }).hits.map((x) => x.address);
    };
    const hits = await scanOn(into);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits).toEqual(await scanOn(alpha.store));
    // It is listed like any local crash, and is never sent back under this host's name.
    const listed = await runCli(["crashes", "--store", into, "--json"]);
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((c) => c.id)).toEqual([alpha.id]);
    const push = await runCli(["push", "--store", into, "--json"], {
      env: { ...fleet.env, HOTDUMP_HOST: "puller" },
    });
    expect(JSON.parse(push.stdout)).toMatchObject({ delivered: [], left: [] });
  }, 180_000);

  it("the fleet goes down while a host crashes: queued, kept by retention, delivered once by push --wait", async () => {
    await fleet.down();
    const store = join(scratch.dir(), "store");
    const c = await crashOn("gamma", store);
    expect(c.stderr).toMatch(/fleet: 1 crash\(es\) queued, not delivered yet/);
    const push = await runCli(["push", "--store", store], { env: { ...fleet.env, HOTDUMP_HOST: "gamma" } });
    expect(push.code).toBe(1);
    expect(push.stderr).toContain("[E_FLEET_BACKLOG]");

    // The store is the outbox: even a budget of nothing keeps an undelivered bundle.
    const layout = storeLayout(store);
    const journal = openJournal(layout);
    try {
      expect(journal.outboxRow(c.id)).toMatchObject({ deliveredAt: null });
      expect(journal.outboxRow(c.id)!.attempts).toBeGreaterThanOrEqual(2);
      const ev = enforceBudget(layout, { maxUse: 0, keepFree: 0 }, { undelivered: journal.undelivered() });
      expect(ev.evicted).not.toContain(c.id);
    } finally {
      journal.close();
    }

    await fleet.up(); // data survives down/up; the ports may be new
    const before = await fleetJson<FleetCrash[]>(["crashes"]);
    expect(before.some((x) => x.id === alpha.id)).toBe(true);
    const wait = await runCli(["push", "--wait", "--timeout", "90s", "--store", store], {
      env: { ...fleet.env, HOTDUMP_HOST: "gamma" },
      timeoutMs: 150_000,
    });
    expect(wait.code, wait.stderr).toBe(0);
    expect(wait.stderr).toContain(`delivered ${c.id}`);
    const again = await runCli(["push", "--store", store], { env: { ...fleet.env, HOTDUMP_HOST: "gamma" } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("nothing to deliver");

    const after = await fleetJson<FleetCrash[]>(["crashes"]);
    expect(after.filter((x) => x.id === c.id).map((x) => x.host)).toEqual(["gamma"]);
    expect(after.length).toBe(before.length + 1);
    // The index rebuilt from the manifests alone is the same index: nothing lost, nothing doubled.
    const re = await fleetJson<{ indexed: number; bad: unknown[] }>(["reindex"]);
    expect(re).toEqual({ indexed: after.length, bad: [] });
    expect((await fleetJson<FleetCrash[]>(["crashes"])).length).toBe(after.length);
  }, 240_000);

  it("an upload killed mid-way resumes from the parts the server acknowledged", async () => {
    // A crash captured without a fleet, then a 300 MB core file in its bundle: the transport is
    // what is tested here (the core a kernel writes depends on this machine's core_pattern).
    const store = join(scratch.dir(), "store");
    const { id } = await crashOn("delta", store, {});
    const dir = join(store, "crashes", id);
    const core = join(dir, "core.zst");
    rmSync(core, { force: true }); // the kernel's real core, where core_pattern let hotdump have one
    const h = createHash("sha256");
    for (let i = 0; i < 300 / 4; i++) {
      const chunk = randomBytes(4 * 1024 * 1024);
      h.update(chunk);
      appendFileSync(core, chunk);
    }
    const sha = h.digest("hex");
    big = { id, head: readFileSync(core).subarray(0, 16) };
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
    meta.core = { ...meta.core, found: true, stored: "core.zst", compression: "zstd" };
    writeFileSync(join(dir, "meta.json"), JSON.stringify(meta));

    const env = { ...process.env, ...fleet.env, HOTDUMP_HOST: "delta" };
    const p = scratch.track(spawn(process.execPath, [HOTDUMP, "push", "--store", store], { env }));
    const out = gather(p);
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    let parts = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && p.exitCode === null) {
      const db = new Database(join(store, "journal.db"), { readonly: true, fileMustExist: true });
      try {
        const row = db.prepare("SELECT upload FROM outbox WHERE crash_id = ?").get(id) as
          | { upload: string | null }
          | undefined;
        parts = row?.upload ? (JSON.parse(row.upload) as { parts: unknown[] }).parts.length : 0;
      } catch {
        // the table is made by the push itself
      } finally {
        db.close();
      }
      if (parts > 0) break;
      await Promise.race([new Promise((r) => setTimeout(r, 10)), exited]);
    }
    expect(parts, out.stderr).toBeGreaterThan(0);
    p.kill("SIGKILL");
    await exited;
    const objects = fleet.objects();
    const list = () => objects.client.send(new ListMultipartUploadsCommand({ Bucket: objects.bucket }));
    const pending = (await list()).Uploads ?? [];
    expect(pending.map((u) => u.Key)).toEqual([objects.key(`blobs/sha256/${sha}`)]);

    const resumed = await runCli(["push", "--wait", "--timeout", "120s", "--store", store], {
      env: { ...fleet.env, HOTDUMP_HOST: "delta" },
      timeoutMs: 180_000,
    });
    expect(resumed.code, resumed.stderr).toBe(0);
    // The upload that was cut is the one completed: none is left behind, none was started anew.
    expect((await list()).Uploads ?? []).toEqual([]);
    const crash = (await fleetJson<FleetCrash[]>(["crashes", "--host", "delta"])).find((c) => c.id === id)!;
    expect(crash.coreKey).toBe(objects.key(`blobs/sha256/${sha}`));
    expect(crash.coreBytes).toBe(300 * 1024 * 1024);
    // And the bytes are the bytes: pulled back, the core has the same SHA-256.
    const into = join(scratch.dir(), "pulled");
    const pull = await runCli(["fleet", "pull", `delta/${id}`, "--store", into], {
      env: fleet.env,
      timeoutMs: 150_000,
    });
    expect(pull.code, pull.stderr).toBe(0);
    const back = createHash("sha256")
      .update(readFileSync(join(into, "crashes", id, "core.zst")))
      .digest("hex");
    expect(back).toBe(sha);
  }, 300_000);

  it("the dashboard over the fleet in Chromium: issues across hosts, a host column, crash pages, cores by short presigned URL", async () => {
    const token = "fleet-dashboard-test-token-0123456789";
    const ui = scratch.track(
      spawn(process.execPath, [HOTDUMP, "ui", "--fleet", "--port", "0"], {
        env: { ...process.env, ...fleet.env, HOTDUMP_UI_TOKEN: token },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    const out = gather(ui);
    const url = await new Promise<string>((ok, fail) => {
      ui.stdout!.on("data", () => {
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(out.stdout);
        if (m) ok(m[1]!);
      });
      ui.once("exit", (code) => fail(new Error(`hotdump ui --fleet exited ${code}: ${out.stderr}`)));
    });
    const origin = new URL(url).origin;
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(url);
      const issue = page.locator("#issues tbody tr", { hasText: "cart of ada over limit" });
      await issue.first().waitFor({ timeout: 30_000 });
      // Every host that had it (the later tests' hosts crashed with the same bug).
      expect(await issue.first().locator("td").nth(2).textContent()).toMatch(/^alpha, beta(, [a-z]+)*$/);
      expect(await page.locator("#crashes thead th").allTextContents()).toEqual([
        "Time",
        "Host",
        "Kind",
        "Message",
        "Culprit",
      ]);
      const row = page.locator(`#crashes tr[data-id="alpha~${alpha.id}"]`);
      expect(await row.locator("td.host").textContent()).toBe("alpha");
      await row.locator("a").click();
      await page.locator("#crash-message").waitFor({ timeout: 30_000 });
      const main = page.locator("main");
      expect(await page.locator("#crash-message").textContent()).toBe("cart of ada over limit: 21 > 10");
      expect(await main.textContent()).toContain(`alpha~${alpha.id}`);
      expect(await main.textContent()).toContain("main.checkout");
      // The crash with a core: its download link and the command that debugs it here.
      await page.goto(`${origin}/#/crash/delta~${big!.id}`);
      await page.locator("#crash-message").waitFor({ timeout: 30_000 });
      await page.getByText(`delta~${big!.id}`).first().waitFor({ timeout: 30_000 });
      expect(await page.getByRole("link", { name: "Core (compressed)" }).getAttribute("href")).toBe(
        `/api/crashes/delta~${big!.id}/core`,
      );
      expect(await main.textContent()).toContain(`hotdump fleet pull delta/${big!.id}`);
    } finally {
      await browser.close();
    }
    // The same token rules as the local dashboard: nothing without it.
    expect((await fetch(`${origin}/api/overview`)).status).toBe(401);
    // A core is a redirect to a presigned URL that expires in 5 minutes, never proxied.
    expect(big).not.toBeNull();
    const r = await fetch(`${origin}/api/crashes/delta~${big!.id}/core?token=${token}`, {
      redirect: "manual",
    });
    expect(r.status).toBe(302);
    const location = r.headers.get("location")!;
    expect(new URL(location).searchParams.get("X-Amz-Expires")).toBe("300");
    const head = await fetch(location, { headers: { Range: "bytes=0-15" } });
    expect(head.status).toBe(206);
    expect(Buffer.from(await head.arrayBuffer())).toEqual(big!.head);
  });
});
