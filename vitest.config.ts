import { defineConfig } from "vitest/config";

// Two projects: fast unit tests (pure code plus Debian's tools as oracles) and integration
// tests that start real servers (DynamoDB Local, s3rver, apt). CI runs both.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts"],
          exclude: ["packages/*/src/**/*.int.test.ts", "**/node_modules/**"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["packages/*/src/**/*.int.test.ts"],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
