/**
 * `hotdump dev` starts its first go build before the command tree, the config reader and the store
 * load (~0.1 s of a start that is ~0.35 s to the first response, bench/watch-idle.mjs), from the
 * plan the last dev session in this directory wrote down (build/planCache.ts). main.ts calls
 * startEarlyBuild first; the dev action takes the build over when the plan it resolves is the same,
 * and main.ts stops it when nobody did (a changed config, a usage error, stage 1 of --listen).
 */
import { accessSync, constants } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type GoBuildPlan, type StartedGoBuild, samePlan, startGoBuild } from "../build/goBuildPlan.js";
import { readStartPlan, startPlanPath } from "../build/planCache.js";
import { storeLayout } from "../store/layout.js";

let early: StartedGoBuild | undefined;

/** Starts the planned go build when argv is `dev` and this directory has a usable plan. */
export async function startEarlyBuild(argv: readonly string[]): Promise<void> {
  const plan = readStartPlan(startPlanPath(process.cwd(), argv));
  if (!plan) return;
  const { tmp } = storeLayout(plan.build.storeDir);
  const work = join(tmp, `build-${process.pid}-early`);
  try {
    accessSync(tmp, constants.W_OK); // not ours to write (another user's store): no head start
    early = await startGoBuild(plan.build, work, plan.seed ? { seed: plan.seed } : {});
  } catch {
    early = undefined; // the store's tmp/ is gone or not writable: the action builds as usual
  }
}

/**
 * The build started early, once: `taken` when it runs `plan`; `different` when it does not (it is
 * stopped); `none` when nothing was started.
 */
export function takeEarlyBuild(
  plan: GoBuildPlan,
): { status: "taken"; build: StartedGoBuild } | { status: "none" | "different" } {
  const e = early;
  early = undefined;
  if (!e) return { status: "none" };
  if (samePlan(e.plan, plan)) return { status: "taken", build: e };
  void discard(e);
  return { status: "different" };
}

/** Stops a build started early that nobody took. */
export async function closeEarlyBuild(): Promise<void> {
  const e = early;
  early = undefined;
  if (e) await discard(e);
}

async function discard(e: StartedGoBuild): Promise<void> {
  await e.child.stop({ signal: "SIGKILL" });
  await rm(dirname(e.program), { recursive: true, force: true }).catch(() => {});
}
