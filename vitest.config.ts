import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // binaryen is loaded lazily (compiler/backends/wasm/binaryen.ts); tests that emit directly need it.
    setupFiles: ["tests/setup-binaryen.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores on CI: forks keep binaryen's and onnxruntime's native state apart.
    pool: "forks",
  },
});
