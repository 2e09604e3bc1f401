import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "tsup";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Bundles one TypeScript entry of the current source (CommonJS, every dependency inlined) into
 * a fresh temporary directory, for child processes of multi-process tests: they test src/ as it
 * is (not a possibly stale dist/), and a concurrent `tsup` that cleans dist/ cannot pull the code
 * out from under them. Returns the bundle's path.
 */
export async function bundleForChildren(name: string, entry: string): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), "expflow-bundle-"));
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
    define: { __EXPFLOW_VERSION__: JSON.stringify("0.0.0-test") },
    tsconfig: join(ROOT, "tsconfig.json"),
  });
  const file = readdirSync(outDir).find((f) => f === `${name}.js` || f === `${name}.cjs`);
  if (file === undefined) throw new Error(`no bundle in ${outDir}: ${readdirSync(outDir).join(", ")}`);
  return join(outDir, file);
}
