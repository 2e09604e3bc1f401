// Bundles a TypeScript entry (and everything it imports, dependencies included) with tsup, as
// CommonJS a plain-JS process can `require`: the benchmark's workers, the ClearML demo and the
// multi-process tests' children load the fake server, the registry writer and the security code
// this way, from src/ and test/ as they are (no build of their own). Needs the dev dependencies
// (`npm ci`). Types for TypeScript callers: bundle-entry.d.mts.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Bundles `entry` into `outDir` as `<name>.js` (or `.cjs`) and returns the bundle's path.
 * `define` replaces compile-time constants (e.g. `__EXPFLOW_VERSION__`).
 */
export async function bundleEntry(outDir, name, entry, define = {}) {
  const { build } = await import("tsup");
  await build({
    config: false,
    entry: { [name]: entry },
    outDir,
    format: ["cjs"],
    platform: "node",
    target: "node20",
    noExternal: [/.*/],
    dts: false,
    sourcemap: false,
    splitting: false,
    clean: false,
    silent: true,
    define,
    tsconfig: join(ROOT, "tsconfig.json"),
  });
  const file = readdirSync(outDir).find((f) => f === `${name}.js` || f === `${name}.cjs`);
  if (file === undefined) throw new Error(`tsup built no bundle for ${name} in ${outDir}`);
  return join(outDir, file);
}
