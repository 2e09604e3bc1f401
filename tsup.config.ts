import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";
import { reportPageEsbuildPlugin } from "./scripts/report-page.mjs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as {
  version: string;
};

export default defineConfig({
  entry: { cli: "src/cli/bin.ts", index: "src/index.ts", contracts: "src/contracts/index.ts" },
  format: ["esm"],
  target: "node20",
  platform: "node",
  dts: { entry: { index: "src/index.ts", contracts: "src/contracts/index.ts" }, compilerOptions: { ignoreDeprecations: "6.0", stripInternal: true } },
  // Code splitting keeps each command in its own chunk, loaded only when that command runs,
  // so `expflow --version` pays for nothing it does not use.
  splitting: true,
  clean: true,
  sourcemap: false,
  define: { __EXPFLOW_VERSION__: JSON.stringify(pkg.version) },
  // `expflow report` inlines the page's browser script: built from src/report/page/ as text.
  esbuildPlugins: [reportPageEsbuildPlugin()],
});
