/** [supervise] bake, bake_hold_old, watchdog and [supervise.liveness], and the flags over them. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";
import { RUN_BAKE_MS, resolveSuperviseFlags } from "./supervise.js";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});
function config(toml: string) {
  dir = mkdtempSync(join(tmpdir(), "hotdump-config-"));
  writeFileSync(join(dir, "hotdump.toml"), toml);
  return loadConfig({ cwd: dir, configPath: join(dir, "hotdump.toml") });
}

describe("supervise settings (issue 18)", () => {
  it("bakes 60 s in run and not in dev by default; the key and the flag win, in that order", () => {
    expect(resolveSuperviseFlags({}, "run").bakeMs).toBe(RUN_BAKE_MS);
    expect(resolveSuperviseFlags({}, "dev").bakeMs).toBe(0);
    const c = config('[supervise]\nbake = "5s"\nbake_hold_old = true\nwatchdog = "30s"\n');
    expect(resolveSuperviseFlags({}, "run", c)).toMatchObject({
      bakeMs: 5000,
      bakeHoldOld: true,
      watchdogMs: 30_000,
    });
    expect(resolveSuperviseFlags({ bake: "0s" }, "run", c).bakeMs).toBe(0);
    expect(resolveSuperviseFlags({ bake: "2m", watchdog: "1s" }, "dev", c)).toMatchObject({
      bakeMs: 120_000,
      watchdogMs: 1000,
    });
  });

  it("liveness: Kubernetes' defaults, the table's timing, and only kinds that can be repeated", () => {
    expect(resolveSuperviseFlags({ liveness: "tcp:127.0.0.1:8080" }, "run").liveness).toEqual({
      spec: { kind: "tcp", host: "127.0.0.1", port: "8080" },
      timing: {
        initialDelaySeconds: 0,
        periodSeconds: 10,
        timeoutSeconds: 1,
        successThreshold: 1,
        failureThreshold: 3,
      },
    });
    const c = config(
      '[supervise.liveness]\nprobe = "http://127.0.0.1:8080/healthz"\nperiod = "2s"\ntimeout = "500ms"\nfailure_threshold = 5\ninitial_delay = "3s"\n',
    );
    expect(resolveSuperviseFlags({}, "run", c).liveness?.timing).toMatchObject({
      initialDelaySeconds: 3,
      periodSeconds: 2,
      timeoutSeconds: 0.5,
      failureThreshold: 5,
    });
    expect(() => resolveSuperviseFlags({ liveness: "log:ok" }, "run")).toThrow(
      expect.objectContaining({ code: "E_PROBE_SPEC" }),
    );
    expect(() => config('[supervise.liveness]\nprobe = "alive:1s"\n')).toThrow(/liveness probe "alive:1s"/);
    expect(resolveSuperviseFlags({}, "run").liveness).toBeNull();
  });

  it("notify is a readiness kind", () => {
    expect(resolveSuperviseFlags({ probe: "notify" }, "run").probe).toEqual({ kind: "notify" });
    expect(resolveSuperviseFlags({}, "run", config('[supervise]\nprobe = "notify"\n')).probe).toEqual({
      kind: "notify",
    });
  });
});
