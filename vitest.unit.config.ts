import { defineConfig } from "vitest/config";

// The unit tests beside the code alone (`npx vitest run -c vitest.unit.config.ts src/supervise`):
// no dist/ build and no core_pattern setup, so a supervisor change is checked in seconds.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/*.pattern.test.ts"],
  },
});
