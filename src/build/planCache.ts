/**
 * The first build of the next `hotdump dev` in a directory, written down by this one: the go build
 * it runs, the last stored binary to seed it with, and the config files it was resolved from. The
 * next start reads it before anything else loads (cli/earlyBuild.ts) and starts that go build at
 * once, about 0.1 s before the config, the store and the CLI could (bench/watch-idle.mjs: start →
 * first response). It is only a head start: the dev action resolves its own plan as always and
 * takes the build over only when that plan is the same (samePlan), else stops it.
 *
 * Plans live in the user's cache ($XDG_CACHE_HOME/hotdump/dev-start/, else ~/.cache/…), one per
 * directory, argv and stage. Whoever can write a plan chooses what hotdump runs, so a plan is read
 * only when it and every directory above it pass the store's rule (store/trust.ts), and only when
 * the config files it names are byte for byte the ones it was made from.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { storeTrustProblem } from "../store/trust.js";
import type { GoBuildPlan } from "./goBuildPlan.js";

const FORMAT = 1;
/** Plans kept per user: the most recently used (each is a few hundred bytes). */
const KEEP = 100;

export interface DevStartPlan {
  format: typeof FORMAT;
  build: GoBuildPlan;
  /** The last stored binary when the plan was written (the seed: no link when unchanged). */
  seed?: string;
  /** The config files the plan was resolved from, with their SHA-256 (null: absent). */
  inputs: { path: string; sha256: string | null }[];
}

function cacheDir(env: NodeJS.ProcessEnv): string {
  // A relative XDG_CACHE_HOME is to be ignored (the XDG base directory spec).
  const xdg = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : null;
  return join(xdg ?? join(homedir(), ".cache"), "hotdump", "dev-start");
}

/**
 * Where the plan of `hotdump dev ARGV` run in `cwd` by this user is kept. The names of hotdump's own
 * environment variables count (stage 2 of `--listen` has HOTDUMP_LISTEN_FDS, stage 1 does not);
 * their values change from session to session and do not.
 */
export function startPlanPath(
  cwd: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): string {
  const ours = Object.keys(env)
    .filter((k) => k.startsWith("HOTDUMP_"))
    .sort();
  const key = createHash("sha256")
    .update(JSON.stringify([FORMAT, process.getuid?.() ?? -1, cwd, argv, ours]))
    .digest("hex")
    .slice(0, 32);
  return join(cacheDir(env), `${key}.json`);
}

const sha256Of = (path: string): string | null => {
  try {
    return createHash("sha256").update(readFileSync(path)).digest("hex");
  } catch {
    return null;
  }
};

/**
 * The plan at `path` when it may be used: it and every directory above it trusted, its config
 * files unchanged, its store trusted. Null otherwise, and for anything unreadable: the start then
 * goes the usual way.
 */
export function readStartPlan(path: string): DevStartPlan | null {
  try {
    if (storeTrustProblem(path) !== null) return null;
    const plan = JSON.parse(readFileSync(path, "utf8")) as DevStartPlan;
    if (plan.format !== FORMAT || !plan.build || !Array.isArray(plan.inputs)) return null;
    if (!plan.inputs.every((i) => sha256Of(i.path) === i.sha256)) return null;
    if (storeTrustProblem(plan.build.storeDir) !== null) return null;
    return plan;
  } catch {
    return null;
  }
}

/**
 * Writes (replaces) the plan at `path`; best effort: a cache that cannot be written costs the next
 * start its head start, nothing else. Keeps the KEEP most recently written plans.
 */
export async function writeStartPlan(
  path: string,
  build: GoBuildPlan,
  inputs: readonly string[],
  seed?: string,
): Promise<void> {
  const plan: DevStartPlan = {
    format: FORMAT,
    build,
    ...(seed ? { seed } : {}),
    inputs: inputs.map((p) => ({ path: p, sha256: sha256Of(p) })),
  };
  try {
    const dir = join(path, "..");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(plan), { mode: 0o600 });
    renameSync(tmp, path);
    prune(dir);
  } catch {
    // no cache: no head start next time
  }
}

function prune(dir: string): void {
  const plans = readdirSync(dir)
    .filter((n) => n.endsWith(".json"))
    .map((n) => {
      const p = join(dir, n);
      return { p, t: statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0 };
    });
  if (plans.length <= KEEP) return;
  plans.sort((a, b) => b.t - a.t);
  for (const { p } of plans.slice(KEEP)) rmSync(p, { force: true });
}
