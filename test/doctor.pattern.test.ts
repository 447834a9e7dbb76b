import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { HANDLER_DIR, REGISTRY_DIR } from "../src/capture/index.js";
import { runCli } from "./helpers/cli.js";
import { cannotSetPattern, withCorePattern } from "./helpers/corePattern.js";

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
});
