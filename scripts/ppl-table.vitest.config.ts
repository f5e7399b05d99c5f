import { defineConfig } from "vitest/config";
import base from "../vitest.config.ts";

// `npx vitest run --config scripts/ppl-table.vitest.config.ts`: prints llama.cpp perplexity by file type. Not part of `npm test`.
export default defineConfig({
  resolve: base.resolve,
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["scripts/ppl-table.ts"],
    testTimeout: 7_200_000,
    hookTimeout: 7_200_000,
    pool: "forks",
  },
});
