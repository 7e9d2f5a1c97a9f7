import { defineConfig } from "vitest/config";

/**
 * Two tiers: `unit` (fast, HTTP mocked with msw) and `integration` (a real Chroma server,
 * real llama.cpp with a generated model, the official openai client against `herd serve`).
 * `vitest run` runs both; `--project unit` or `--project integration` picks one.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.int.test.ts"],
          environment: "node",
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.int.test.ts"],
          environment: "node",
          globalSetup: ["test/setup/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
