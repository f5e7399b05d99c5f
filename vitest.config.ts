import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

// Tests import the workspace packages from source, so `npm test` needs no build step first.
export default defineConfig({
  resolve: {
    alias: {
      "@moeq/formats": pkg("formats"),
      "@moeq/quant": pkg("quant"),
      "@moeq/runtime": pkg("runtime"),
      "@moeq/convert": pkg("convert"),
      "@moeq/hub": pkg("hub"),
      "@moeq/eval": pkg("eval"),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "fixtures/**/*.test.ts", "test-support/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: "forks",
  },
});
