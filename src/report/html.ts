import { createHash } from "node:crypto";
import type { ReportDataJson } from "../contracts/report.js";
import { REPORT_CSS } from "./style.js";

/** Text for HTML: markup characters and everything outside printable ASCII as character references. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']|[^\x20-\x7e]/gu, (c) => `&#${c.codePointAt(0)!};`);
}

function sha256(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/**
 * The data as the text of a `<script type="application/json">`: JSON with every `<` escaped, so
 * no value (a run named `</script><script>…`) can end the element or open another; the page reads
 * it back with `JSON.parse`, which turns `\u003c` into `<` again.
 */
export function embeddedJson(data: unknown): string {
  // Non-ASCII as \\u escapes too: the document is plain ASCII, whatever the names hold.
  return JSON.stringify(data).replace(/[<\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * The report as one self-contained HTML document: the styles, the page's script and the data
 * inlined, nothing fetched. Its Content-Security-Policy allows exactly the inlined script and
 * style (by their SHA-256) and no connection, image, font or frame from anywhere, so the page
 * cannot reach the network even if a value in the data tried to.
 *
 * @param script the page's script (`virtual:report-page`).
 * @throws {Error} when the script holds `</script`, which would end its element early (a bug of
 *   the build, not of the data).
 */
export function renderReportHtml(data: ReportDataJson, script: string): string {
  if (/<\/script/i.test(script)) throw new Error("the report page's script holds </script and cannot be inlined");
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(REPORT_CSS)}`,
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="expflow ${escapeHtml(data.expflow_version)}">
<title>${escapeHtml(data.title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main id="app"><noscript>This report draws its table and plots with JavaScript; its data is in the element expflow-data of this file.</noscript></main>
<script type="application/json" id="expflow-data">${embeddedJson(data)}</script>
<script>${script}</script>
</body>
</html>
`;
}
