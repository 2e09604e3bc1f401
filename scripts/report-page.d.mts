/** The report page's script (src/report/page/main.ts with its d3 modules), minified, as one IIFE. */
export function buildReportPage(): Promise<string>;
/** The esbuild plugin (tsup) answering `virtual:report-page` with that script. */
export function reportPageEsbuildPlugin(): import("esbuild").Plugin;
/** The vite plugin (vitest) answering `virtual:report-page` with that script. */
export function reportPageVitePlugin(): { name: string; resolveId(id: string): string | null; load(id: string): Promise<string | null> };
