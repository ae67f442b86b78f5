import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/.data/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Database tests start PGlite instances (WASM Postgres); two cores here, so cap the fan-out.
    maxWorkers: 2,
  },
});
