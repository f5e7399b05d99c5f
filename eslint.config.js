// typescript-eslint's recommended rules for every TypeScript file; `any` is an error outside tests.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["**/node_modules/**", "**/dist/**", "**/build/**", "packages/*/assembly/**", "fixtures/**"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", fetch: "readonly" } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      // `_name` marks a value kept on purpose (a destructured field left out, a callback's unused argument).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    files: ["**/*.test.ts", "**/test-utils/**", "test-support/**", "**/bench/**"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
