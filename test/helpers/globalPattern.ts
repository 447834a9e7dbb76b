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

export default function setup(): () => void {
  // The CLI tests run bin/hotdump, which runs dist/: build it once for the whole run.
  execFileSync("npx", ["tsc", "-p", "tsconfig.json"], {
    cwd: resolve(import.meta.dirname, "../.."),
    stdio: "inherit",
  });
  let prev: string;
  try {
    prev = readFileSync(PATTERN, "utf8").trimEnd();
  } catch {
    return () => {};
  }
  const parsed = parseCorePattern(prev, false);
  // hotdump's own handler hands every core it does not own to the previous handler: usable. (Read
  // as unusable, it was replaced by `core` in the middle of a handler test, then put back at the
  // end of this run, after that test had restored the machine's pattern.)
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
  return () => writeFileSync(PATTERN, prev);
}
