/**
 * The report page's browser script (src/report/page/, with its d3 modules), minified, as text:
 * built by scripts/report-page.mjs when dist/ is built (and by vitest for the tests of src/).
 */
declare module "virtual:report-page" {
  const script: string;
  export default script;
}
