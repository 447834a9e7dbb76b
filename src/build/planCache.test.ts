import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureStore } from "../store/layout.js";
import { type GoBuildPlan, OUTPUT } from "./goBuildPlan.js";
import { readStartPlan, startPlanPath, writeStartPlan } from "./planCache.js";

/** A project with a hotdump.toml and a store, and a cache directory of its own. */
function project() {
  const dir = mkdtempSync(join(tmpdir(), "hotdump-plan-"));
  const env = { XDG_CACHE_HOME: join(dir, "cache") };
  writeFileSync(join(dir, "hotdump.toml"), '[build]\nldflags = "-X main.v=1"\n');
  const store = ensureStore(join(dir, ".hotdump")).root;
  const build: GoBuildPlan = {
    go: "go",
    args: ["build", "-ldflags=-X main.v=1", "-o", OUTPUT, "."],
    cwd: dir,
    env: {},
    storeDir: store,
    programName: "svc",
  };
  const inputs = [join(dir, "hotdump.toml"), join(dir, ".air.toml")];
  return { dir, env, build, inputs, path: startPlanPath(dir, ["dev"], env) };
}

describe("the dev start plan", () => {
  it("is kept per user, directory, argv and set of HOTDUMP_ variables, not their values", () => {
    const env = { XDG_CACHE_HOME: "/c" };
    const a = startPlanPath("/p", ["dev"], env);
    expect(a.startsWith("/c/hotdump/dev-start/")).toBe(true);
    expect(startPlanPath("/p", ["dev"], { XDG_CACHE_HOME: "rel" }).startsWith(homedir())).toBe(true);
    expect(startPlanPath("/q", ["dev"], env)).not.toBe(a);
    expect(startPlanPath("/p", ["dev", "--redact"], env)).not.toBe(a);
    const stage2 = { ...env, HOTDUMP_LISTEN_FDS: "1", HOTDUMP_STAGE1_PID: "10" };
    expect(startPlanPath("/p", ["dev"], stage2)).not.toBe(a);
    expect(startPlanPath("/p", ["dev"], { ...stage2, HOTDUMP_STAGE1_PID: "11" })).toBe(
      startPlanPath("/p", ["dev"], stage2),
    );
  });

  it("is read back while its config files are unchanged, with its seed, and written owner-only", async () => {
    const p = project();
    await writeStartPlan(p.path, p.build, p.inputs, "/seed/bin");
    expect(statSync(p.path).mode & 0o777).toBe(0o600);
    const plan = readStartPlan(p.path);
    expect(plan?.build).toEqual(p.build);
    expect(plan?.seed).toBe("/seed/bin");
    // An absent file is an input too: an .air.toml appearing changes the config.
    expect(plan?.inputs.map((i) => i.sha256 === null)).toEqual([false, true]);
  });

  it("is not used once a config file changed, appeared or the plan is not the user's alone", async () => {
    const p = project();
    await writeStartPlan(p.path, p.build, p.inputs);
    writeFileSync(join(p.dir, "hotdump.toml"), '[build]\nldflags = "-X main.v=2"\n');
    expect(readStartPlan(p.path)).toBeNull();

    await writeStartPlan(p.path, p.build, p.inputs);
    expect(readStartPlan(p.path)).not.toBeNull();
    writeFileSync(join(p.dir, ".air.toml"), 'root = "."\n');
    expect(readStartPlan(p.path)).toBeNull();

    await writeStartPlan(p.path, p.build, p.inputs);
    expect(readStartPlan(p.path)).not.toBeNull();
    chmodSync(p.path, 0o666); // whoever can write it chooses what hotdump runs
    expect(readStartPlan(p.path)).toBeNull();
  });

  it.runIf(process.getuid?.() === 0)("is not used when it or its store belongs to another user", async () => {
    const p = project();
    await writeStartPlan(p.path, p.build, p.inputs);
    expect(readStartPlan(p.path)).not.toBeNull();
    chownSync(p.path, 65534, 65534); // planted by nobody
    expect(readStartPlan(p.path)).toBeNull();
    chownSync(p.path, 0, 0);
    expect(readStartPlan(p.path)).not.toBeNull();
    chownSync(p.build.storeDir, 65534, 65534);
    expect(readStartPlan(p.path)).toBeNull();
  });

  it("is not read when it is not a plan", async () => {
    const p = project();
    mkdirSync(join(p.path, ".."), { recursive: true });
    writeFileSync(p.path, "{not json");
    expect(readStartPlan(p.path)).toBeNull();
    writeFileSync(p.path, JSON.stringify({ format: 99 }));
    expect(readStartPlan(p.path)).toBeNull();
    await writeStartPlan(p.path, p.build, p.inputs);
    expect(JSON.parse(readFileSync(p.path, "utf8")).format).toBe(1);
  });
});
