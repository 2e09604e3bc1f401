import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleEntry } from "../../scripts/bundle-entry.mjs";

/**
 * Bundles one TypeScript entry of the current source (CommonJS, every dependency inlined) into
 * a fresh temporary directory, for child processes of multi-process tests: they test src/ as it
 * is (not a possibly stale dist/), and a concurrent `tsup` that cleans dist/ cannot pull the code
 * out from under them. Returns the bundle's path.
 */
export async function bundleForChildren(name: string, entry: string): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), "expflow-bundle-"));
  return bundleEntry(outDir, name, entry, { __EXPFLOW_VERSION__: JSON.stringify("0.0.0-test") });
}
