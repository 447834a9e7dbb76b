/**
 * The first build of `hotdump dev`, started before the supervisor, the watcher and the capture
 * and analysis modules load: `go build` runs in its own process, so Node loads the rest on the
 * other CPU meanwhile instead of before it (bench/watch-idle.mjs: start → first response).
 */

import type { BuildResult } from "./buildTypes.js";
import type { GoBuilder } from "./goBuilder.js";
import type { StartedGoBuild } from "./goBuildPlan.js";

/**
 * Starts `builder.build([], { seed })` now, or takes over `adopt`, a go build of the builder's own
 * plan started before the config was read (cli/earlyBuild.ts); the returned builder's first
 * build() adopts it (its `onLinked` is called when go build links, or at once if that already
 * happened; the seed passed then is ignored: the same last stored binary). Every later build() is
 * the builder's own.
 */
export function buildAhead(builder: GoBuilder, seed?: string, adopt?: StartedGoBuild): GoBuilder {
  let linked: string | undefined;
  let onLinked: ((path: string) => void) | undefined;
  let first: Promise<BuildResult> | undefined = builder.build([], {
    onLinked: (path) => {
      linked = path;
      onLinked?.(path);
    },
    ...(seed ? { seed } : {}),
    ...(adopt ? { adopt } : {}),
  });
  // A go that cannot run rejects: the adopting build() rethrows it; nobody adopting is no crash.
  first.catch(() => {});
  return {
    args: builder.args,
    plan: builder.plan,
    build(changed = [], hooks = {}) {
      const ahead = first;
      first = undefined;
      if (!ahead || changed.length > 0) return builder.build(changed, hooks);
      onLinked = hooks.onLinked;
      if (linked !== undefined) hooks.onLinked?.(linked);
      return ahead;
    },
  };
}
