import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Tests that change /proc/sys/kernel/core_pattern run alone, in the second pass
    // (vitest.pattern.config.ts), so no other test's crash is ever caught by their pattern.
    exclude: ["**/node_modules/**", "**/*.pattern.test.ts"],
    globalSetup: ["test/helpers/globalPattern.ts"],
    // Every helper's wait is cut to what is left of its test's own limit (test/helpers/testLimit.ts).
    setupFiles: ["test/helpers/testLimitSetup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests build Go programs and dump cores: two cores, so two workers.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    pool: "forks",
  },
});
