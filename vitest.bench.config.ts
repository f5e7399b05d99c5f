import { defineConfig } from "vitest/config";
import base from "./vitest.config.ts";

// `npm run bench`: each packages/<pkg>/bench/*.bench.ts is a vitest file that runs tinybench against the
// reference (ggml / llama.cpp) in the same process and prints the ratio. Not part of `npm test`.
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ["packages/*/bench/**/*.bench.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 1_800_000,
    pool: "forks",
    fileParallelism: false,
  },
});
