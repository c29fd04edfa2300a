import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Tests run against the sources of the shared core, so a change there needs no rebuild.
    alias: { "@queuescale/core": fileURLToPath(new URL("./core/src/index.ts", import.meta.url)) },
  },
  test: {
    include: ["*/test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
