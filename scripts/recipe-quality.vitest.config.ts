import { defineConfig } from "vitest/config";
import base from "../vitest.config.ts";

// `npx vitest run --config scripts/recipe-quality.vitest.config.ts`: prints the recipe vs llama.cpp mixtures at equal size. Not part of `npm test`.
export default defineConfig({
  resolve: base.resolve,
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["scripts/recipe-quality.ts"],
    testTimeout: 7_200_000,
    hookTimeout: 7_200_000,
    pool: "forks",
  },
});
