/**
 * Bundles `entry` (CommonJS, every dependency inlined) into `outDir` as `<name>.js` (or `.cjs`) and
 * returns the bundle's path. `define` replaces compile-time constants (e.g. `__EXPFLOW_VERSION__`).
 */
export function bundleEntry(outDir: string, name: string, entry: string, define?: Record<string, string>): Promise<string>;
