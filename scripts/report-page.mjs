// Builds the report page's script (src/report/page/main.ts and the d3 modules it imports) into one
// minified browser bundle, as text: the HTML report inlines it, so a report opens with no network.
// tsup (tsup.config.ts) and vitest (vitest.config.ts) both resolve `import script from
// "virtual:report-page"` to this text, through the plugins below; nothing is written to disk.
import { fileURLToPath } from "node:url";

const ENTRY = fileURLToPath(new URL("../src/report/page/main.ts", import.meta.url));

/** The page's script, minified, as one IIFE (no module loader in the page). */
export async function buildReportPage() {
  const { build } = await import("esbuild");
  const out = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "none",
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}

const VIRTUAL = /^virtual:report-page$/;

/** The esbuild plugin (for tsup) that answers `virtual:report-page` with the built script. */
export function reportPageEsbuildPlugin() {
  return {
    name: "expflow-report-page",
    setup(build) {
      build.onResolve({ filter: VIRTUAL }, () => ({ path: "report-page", namespace: "expflow-report-page" }));
      build.onLoad({ filter: /.*/, namespace: "expflow-report-page" }, async () => ({
        contents: `export default ${JSON.stringify(await buildReportPage())};`,
        loader: "js",
        watchFiles: [ENTRY],
      }));
    },
  };
}

/** The same for vite (vitest), for the tests that run src/ in-process. */
export function reportPageVitePlugin() {
  return {
    name: "expflow-report-page",
    resolveId: (id) => (VIRTUAL.test(id) ? "\0virtual:report-page" : null),
    load: async (id) => (id === "\0virtual:report-page" ? `export default ${JSON.stringify(await buildReportPage())};` : null),
  };
}
