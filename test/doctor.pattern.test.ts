import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { cannotSetPattern, withCorePattern } from "./helpers/corePattern.js";

const reason = cannotSetPattern();

describe("hotdump doctor --fix", () => {
  it.skipIf(reason !== null)(
    `sets an absolute pattern in place of a relative one, and prints the undo${reason ? ` (skipped: ${reason})` : ""}`,
    async () => {
      await withCorePattern("core", async () => {
        const r = await runCli(["doctor", "--fix"]);
        expect(r.stdout).toMatch(/fixed: core_pattern core → \/var\/lib\/hotdump\/cores\/core\.%e\.%p\.%t/);
        expect(r.stdout).toMatch(/undo: .*core_pattern/);
        expect(readFileSync("/proc/sys/kernel/core_pattern", "utf8").trim()).toBe(
          "/var/lib/hotdump/cores/core.%e.%p.%t",
        );
        const again = await runCli(["doctor", "--fix"]);
        expect(again.stdout).toMatch(/nothing to fix/);
      });
    },
  );
});
