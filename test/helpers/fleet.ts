/**
 * A real local fleet for a test file, started the way users start one (`hotdump fleet up --json`:
 * versitygw + PostgreSQL on free loopback ports) in a temp dir, stopped and removed in afterAll
 * even when a test failed.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { createObjectStore, type ObjectStore } from "../../src/fleet/objects.js";
import { resolveFleetSettings } from "../../src/fleet/settings.js";
import { runCli } from "./cli.js";

export interface TestFleet {
  /** The settings `fleet up` printed (they change when it is brought up again: new ports). */
  env: NodeJS.ProcessEnv;
  dir: string;
  /** A fresh dir that lives as long as the fleet (for what one test leaves to the next). */
  tmp(): string;
  up(): Promise<NodeJS.ProcessEnv>;
  down(): Promise<void>;
  /** The bucket as the fleet's own settings see it. */
  objects(): ObjectStore;
  /** Every key under the fleet's prefix. */
  keys(prefix?: string): Promise<string[]>;
}

export function useFleet(prefix: string): TestFleet {
  const base = mkdtempSync(join(tmpdir(), prefix));
  // The postgres user (PostgreSQL refuses root) must traverse to DIR/pg.
  chmodSync(base, 0o711);
  const dir = join(base, "fleet");
  const opened: ObjectStore[] = [];
  const fleet: TestFleet = {
    env: {},
    dir,
    tmp: () => mkdtempSync(join(base, "t-")),
    async up() {
      const r = await runCli(["fleet", "up", "--dir", dir, "--json"], { timeoutMs: 20 * 60_000 });
      if (r.code !== 0) throw new Error(`fleet up failed (${r.code}): ${r.stderr}`);
      fleet.env = (JSON.parse(r.stdout) as { env: Record<string, string> }).env;
      return fleet.env;
    },
    async down() {
      const r = await runCli(["fleet", "down", "--dir", dir]);
      if (r.code !== 0) throw new Error(`fleet down failed (${r.code}): ${r.stderr}`);
    },
    objects() {
      const s = resolveFleetSettings({ ...fleet.env, HOTDUMP_HOST: "test" })!;
      const o = createObjectStore({
        ...s,
        credentials: {
          accessKeyId: fleet.env.AWS_ACCESS_KEY_ID!,
          secretAccessKey: fleet.env.AWS_SECRET_ACCESS_KEY!,
        },
      });
      opened.push(o);
      return o;
    },
    async keys(under = "") {
      const o = fleet.objects();
      const out: string[] = [];
      for await (const k of o.list(o.key(under))) out.push(k);
      return out.sort();
    },
  };
  afterAll(async () => {
    for (const o of opened) o.close();
    await fleet.down().catch(() => {});
    rmSync(base, { recursive: true, force: true });
  });
  return fleet;
}
