import { defineConfig } from "vitest/config";

export default defineConfig({
  define: { __EXPFLOW_VERSION__: JSON.stringify("0.0.0-test") },
  test: {
    include: ["test/**/*.test.ts"],
    // Every test gets its own EXPFLOW_HOME; none ever touches the real ~/.expflow.
    setupFiles: ["test/setup-home.ts"],
    testTimeout: 30_000,
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ["default", "json"],
    outputFile: { json: ".vitest/report.json" },
  },
});
