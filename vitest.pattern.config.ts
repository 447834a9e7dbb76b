import { defineConfig } from "vitest/config";

// The second pass: tests that set core_pattern themselves (restoring it in a finally), one file at a time.
export default defineConfig({
  test: {
    include: ["src/**/*.pattern.test.ts", "test/**/*.pattern.test.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ["test/helpers/testLimitSetup.ts"],
  },
});
