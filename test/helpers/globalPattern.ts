/**
 * Builds dist/ and its bundle for the CLI tests. Then: the main test pass crashes programs under whatever core_pattern the machine has, as users do.
 * Only when that pattern would keep every core from hotdump (a pipe to a handler it cannot read
 * from, such as apport or an unknown program) does this set a plain file pattern for the run and
 * restore the machine's own at the end.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { isHotdumpHandler, parseCorePattern } from "../../src/capture/corePattern.js";

const PATTERN = "/proc/sys/kernel/core_pattern";
/** The pattern tests' lock (corePattern.ts). */
const LOCK = "/tmp/hotdump-core-pattern.lock";

export default function setup(): () => void {
  // The CLI tests run bin/hotdump, which runs dist/bundle/: build it once for the whole run.
  execFileSync("npm", ["run", "--silent", "build"], {
    cwd: resolve(import.meta.dirname, "../.."),
    stdio: "inherit",
  });
  warmGoCache();
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

/**
 * Compiles every Go fixture's packages once, here in the main process, so that a test worker's
 * buildGoFixture (a synchronous go build) only links: a cold compile of the third-party fixtures on
 * a loaded machine outlasted the worker's 60 s RPC timeout. The binaries are discarded; Go's build
 * cache keeps the packages. A failure here is left for the test that builds the fixture to report.
 */
function warmGoCache(): void {
  const fixtures = resolve(import.meta.dirname, "../fixtures");
  const env = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" };
  for (const dir of ["go", "recovered", "hangsvc"]) {
    try {
      execFileSync("go", ["build", "-gcflags=all=-N -l", "-o", "/dev/null", "./..."], {
        cwd: join(fixtures, dir),
        env,
        stdio: "ignore",
      });
    } catch {
      // reported by the test that needs the fixture
    }
  }
}
