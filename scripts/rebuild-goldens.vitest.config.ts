import { defineConfig } from "vitest/config";
import base from "../vitest.config.ts";

// `bash scripts/rebuild-goldens.sh [--check]`: rebuilds the llama.cpp golden files with llama.cpp's own tools. Not part of `npm test`.
export default defineConfig({
  resolve: base.resolve,
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["scripts/rebuild-goldens.ts"],
    testTimeout: 3_600_000, // a machine without the tools' cache builds them first (minutes)
    hookTimeout: 3_600_000,
    pool: "forks",
  },
});
