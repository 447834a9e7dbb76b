import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HANDLER_DIR, REGISTRY_DIR } from "../src/capture/index.js";
import { runCli } from "./helpers/cli.js";
import { cannotSetPattern, withCorePattern } from "./helpers/corePattern.js";
import { useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-doctor-fix-");
/** PATH without any directory that holds a dlv: what a machine without Delve has. */
const PATH_WITHOUT_DLV = (process.env.PATH ?? "")
  .split(":")
  .filter((d) => d && !existsSync(join(d, "dlv")))
  .join(":");

const reason = cannotSetPattern();
const PIPE_LIMIT = "/proc/sys/kernel/core_pipe_limit";

describe("hotdump doctor --fix / --unfix", () => {
  it.skipIf(reason !== null)(
    `installs hotdump's core handler keeping the previous pattern, and --unfix restores it${reason ? ` (skipped: ${reason})` : ""}`,
    async () => {
      const hadDir = existsSync(HANDLER_DIR);
      const hadRegistry = existsSync(REGISTRY_DIR);
      const prevLimit = readFileSync(PIPE_LIMIT, "utf8").trim();
      try {
        await withCorePattern("core", async () => {
          writeFileSync(PIPE_LIMIT, "0");
          const r = await runCli(["doctor", "--fix"]);
          const pattern = `|${HANDLER_DIR}/hotdump-tracer handle %P %i %I %s %t %e %c %u %g %d %h %F`;
          expect(r.stdout).toContain(`fixed: core_pattern core → ${pattern}`);
          expect(r.stdout).toMatch(/undo: hotdump doctor --unfix/);
          expect(readFileSync("/proc/sys/kernel/core_pattern", "utf8").trimEnd()).toBe(pattern);
          expect(readFileSync(PIPE_LIMIT, "utf8").trim()).toBe("64");
          const config = JSON.parse(readFileSync(`${HANDLER_DIR}/handler.json`, "utf8"));
          expect(config).toMatchObject({ previous: "core", previousPipeLimit: 0, registry: REGISTRY_DIR });
          expect(r.stdout).toMatch(/capture mode \(--capture auto\): handler/);
          const again = await runCli(["doctor", "--fix"]);
          expect(again.stdout).toMatch(/nothing to fix: hotdump's core handler is already installed/);
          const undo = await runCli(["doctor", "--unfix"]);
          expect(undo.stdout).toContain(`restored: core_pattern ${pattern} → core`);
          expect(readFileSync("/proc/sys/kernel/core_pattern", "utf8").trimEnd()).toBe("core");
          expect(readFileSync(PIPE_LIMIT, "utf8").trim()).toBe("0");
          const nothing = await runCli(["doctor", "--unfix"]);
          expect(nothing.stdout).toMatch(/could not undo: .*not installed/);
        });
      } finally {
        writeFileSync(PIPE_LIMIT, prevLimit);
        if (!hadDir) rmSync(HANDLER_DIR, { recursive: true, force: true });
        if (!hadRegistry) rmSync(REGISTRY_DIR, { recursive: true, force: true });
      }
    },
    120_000,
  );

  // As root, --fix also installs the core handler: in this pass, and undone, like the test above.
  it.skipIf(reason !== null)(
    `installs the pinned Delve into the Go bin directory, where every command then finds it${reason ? ` (skipped: ${reason})` : ""}`,
    async () => {
      const hadDir = existsSync(HANDLER_DIR);
      const hadRegistry = existsSync(REGISTRY_DIR);
      const prevLimit = readFileSync(PIPE_LIMIT, "utf8").trim();
      const gobin = scratch.dir();
      const env = { GOBIN: gobin, PATH: PATH_WITHOUT_DLV };
      try {
        await withCorePattern("core", async () => {
          const before = await runCli(["doctor", "--json"], { env });
          const checks = (JSON.parse(before.stdout) as { checks: { id: string; status: string }[] }).checks;
          expect(checks.find((c) => c.id === "delve")?.status).toBe("fail");

          const fix = await runCli(["doctor", "--fix"], { env, timeoutMs: 600_000 });
          expect(fix.stdout).toContain(`fixed: installed Delve v1.27.2 at ${join(gobin, "dlv")}`);
          expect(fix.stdout).toMatch(/\[ ok \] \S+\/dlv 1\.27\.2/);

          const again = await runCli(["doctor", "--fix"], { env });
          expect(again.stdout).toContain("nothing to fix: Delve is installed");
          await runCli(["doctor", "--unfix"]);
        });
      } finally {
        writeFileSync(PIPE_LIMIT, prevLimit);
        if (!hadDir) rmSync(HANDLER_DIR, { recursive: true, force: true });
        if (!hadRegistry) rmSync(REGISTRY_DIR, { recursive: true, force: true });
      }
    },
    660_000,
  );
});
