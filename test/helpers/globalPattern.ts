/**
 * Builds dist/ for the CLI tests. Then: the main test pass crashes programs under whatever core_pattern the machine has, as users do.
 * Only when that pattern would keep every core from hotdump (a pipe to a handler it cannot read
 * from, such as apport or an unknown program) does this set a plain file pattern for the run and
 * restore the machine's own at the end.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { isHotdumpHandler, parseCorePattern } from "../../src/capture/corePattern.js";

const PATTERN = "/proc/sys/kernel/core_pattern";
/** The pattern tests' lock (corePattern.ts). */
const LOCK = "/tmp/hotdump-core-pattern.lock";

export default function setup(): () => void {
  // The CLI tests run bin/hotdump, which runs dist/: build it once for the whole run.
  execFileSync("npx", ["tsc", "-p", "tsconfig.json"], {
    cwd: resolve(import.meta.dirname, "../.."),
    stdio: "inherit",
  });
  // A pattern test holds the lock while its own pattern is set: that pattern is temporary, not the
  // machine's, and is none of this run's business (replacing it broke that test, and restoring it
  // at the end of this run left it on the machine after the test had restored the real one).
  if (lockHeld()) return () => {};
  let prev: string;
  try {
    prev = readFileSync(PATTERN, "utf8").trimEnd();
  } catch {
    return () => {};
  }
  const parsed = parseCorePattern(prev, false);
  // hotdump's own handler hands every core it does not own to the previous handler: usable.
  const usable =
    parsed.kind === "file" ||
    (parsed.kind === "pipe" && (parsed.handler === "systemd-coredump" || isHotdumpHandler(parsed)));
  if (usable) return () => {};
  try {
    writeFileSync(PATTERN, "core");
    process.stderr.write(
      `tests: core_pattern ${JSON.stringify(prev)} keeps cores from hotdump; using "core" for this run\n`,
    );
  } catch {
    return () => {};
  }
  // Put back only what this run replaced: a pattern someone set meanwhile stays.
  return () => {
    try {
      if (readFileSync(PATTERN, "utf8").trimEnd() === "core") writeFileSync(PATTERN, prev);
    } catch {
      // nothing to restore
    }
  };
}

function lockHeld(): boolean {
  try {
    process.kill(Number(readFileSync(`${LOCK}/pid`, "utf8")), 0);
    return true;
  } catch {
    return false;
  }
}
