/**
 * The go build a session runs, as a value (a GoBuildPlan), and starting one. Light on purpose:
 * `hotdump dev` starts its first build from here before the rest of hotdump loads
 * (cli/earlyBuild.ts), so nothing here may load the store's journal or the ELF reader.
 */
import { link, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Child, startChild } from "../util/child.js";

/**
 * What a build runs, the same for every build of a session: enough to start the first one before
 * the config is even read (cli/earlyBuild.ts) and to tell whether a build started so is the one
 * this session would start.
 */
export interface GoBuildPlan {
  go: string;
  /** go build's argv, with OUTPUT where the output path goes. */
  args: string[];
  cwd: string;
  /** Set over hotdump's own environment ([build] env). */
  env: Record<string, string>;
  storeDir: string;
  /** The program's own name: the output file's, so ps and /proc/PID/comm show it. */
  programName: string;
}

/** Stands for the output path in a plan's args. */
export const OUTPUT = "\0output";

/** A go build running: the child, where it writes, and the seed it was handed. */
export interface StartedGoBuild {
  plan: GoBuildPlan;
  child: Child;
  argv: string[];
  /** The output path (in its own directory under the store's tmp/). */
  program: string;
  seed?: string;
  /** performance.now() at the start. */
  started: number;
}

/** The same go, argv, directory, environment and store: the same build. */
export function samePlan(a: GoBuildPlan, b: GoBuildPlan): boolean {
  const envOf = (p: GoBuildPlan) =>
    JSON.stringify(Object.entries(p.env).sort(([x], [y]) => x.localeCompare(y)));
  return (
    a.go === b.go &&
    a.cwd === b.cwd &&
    a.storeDir === b.storeDir &&
    a.programName === b.programName &&
    a.args.length === b.args.length &&
    a.args.every((x, i) => x === b.args[i]) &&
    envOf(a) === envOf(b)
  );
}

/**
 * Starts `go build` for `plan` into `workDir/<program name>` (under the store's tmp/). go build
 * leaves an output that is up to date alone (same inode; it only touches its mtime) and skips the
 * link: seeded with a hard link to the last stored binary, a build with nothing changed (a
 * restarted `hotdump dev`, `r`) costs no link (bench/watch-idle.mjs).
 */
export async function startGoBuild(
  plan: GoBuildPlan,
  workDir: string,
  opts: { seed?: string; onOutput?: (text: string) => void } = {},
): Promise<StartedGoBuild> {
  await mkdir(workDir, { mode: 0o700 }).catch(() => {});
  const program = join(workDir, plan.programName);
  const argv = plan.args.map((a) => (a === OUTPUT ? program : a));
  const started = performance.now();
  const seed =
    opts.seed &&
    (await link(opts.seed, program).then(
      () => opts.seed,
      () => undefined,
    ));
  const { onOutput } = opts;
  const child = startChild(plan.go, argv, {
    cwd: plan.cwd,
    env: { ...process.env, ...plan.env },
    tailBytes: 256 * 1024,
    ...(onOutput
      ? {
          onStdout: (c: Buffer) => onOutput(c.toString("utf8")),
          onStderr: (c: Buffer) => onOutput(c.toString("utf8")),
        }
      : {}),
  });
  return { plan, child, argv, program, started, ...(seed ? { seed } : {}) };
}
