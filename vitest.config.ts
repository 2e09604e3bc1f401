import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { reportPageVitePlugin } from "./scripts/report-page.mjs";

export default defineConfig({
  // `virtual:report-page`, the report page's browser script, for the tests that run src/ in-process.
  plugins: [reportPageVitePlugin()],
  define: { __EXPFLOW_VERSION__: JSON.stringify("0.0.0-test") },
  test: {
    include: ["test/**/*.test.ts"],
    // Every test gets its own EXPFLOW_HOME; none ever touches the real ~/.expflow.
    setupFiles: ["test/setup-home.ts"],
    // dist/ is built here, once per run, for the tests that spawn the built binary (so `npm test`
    // does not build it first, and `npx vitest run` never runs a stale one).
    globalSetup: ["test/global-setup.ts"],
    // Its teardown waits for the type declarations, built beside the tests: on a busy machine
    // that can outlast vitest's default 10 s after a short run.
    teardownTimeout: 120_000,
    testTimeout: 30_000,
    // vitest's default leaves a core to its main process: one worker on a 2-core machine, and the
    // suite in series. The main process is mostly idle, and many tests wait on child processes,
    // scrypt's thread pool or a fake server, so two files at a time go nearly twice as fast there.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ["default", "json"],
    outputFile: { json: ".vitest/report.json" },
  },
});
