import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import pageScript from "virtual:report-page";
import type { ReportDataJson } from "../../src/contracts/report.js";
import { embeddedJson, renderReportHtml } from "../../src/report/html.js";
import { REPORT_CSS } from "../../src/report/style.js";

function data(overrides: Partial<ReportDataJson> = {}): ReportDataJson {
  return {
    format: "expflow-report/1",
    title: "t",
    generated_at: "2026-12-01T00:00:00.000Z",
    expflow_version: "0.0.0-test",
    command: null,
    source: { kind: "local", location: "/r.jsonl", project: null },
    ranking: { sort_by: "pde_mean", ascending: true, gates: [], selection: { statuses: ["completed"], default: true, ranked: 0, excluded: 0, excluded_by_status: {} }, pareto: null, results: [] },
    metrics: [{ name: "pde_mean", direction: "lower", threshold: 18.09, unit: null, description: null }],
    axes: ["pde_mean"],
    scatter: { x: "pde_mean", y: "pde_mean" },
    history: { runs: 0, series: {}, note: null },
    summary: { listed: 0, ranked: 0, passed: 0, failed: 0, shown: 0, unfinished: 0, gates: [], notes: [] },
    ...overrides,
  };
}

const hash = (text: string): string => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

describe("the report's HTML", () => {
  it("allows exactly its inlined script and style, by hash, and nothing from anywhere", () => {
    const html = renderReportHtml(data(), pageScript);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)![1]!.replace(/&#39;/g, "'");
    expect(csp).toBe(`default-src 'none'; script-src ${hash(pageScript)}; style-src ${hash(REPORT_CSS)}; img-src data:; base-uri 'none'; form-action 'none'`);
    expect(html).toContain(`<script>${pageScript}</script>`);
    expect(html).toContain(`<style>${REPORT_CSS}</style>`);
  });

  it("embeds any data so that JSON.parse gives it back, in plain ASCII, and no value can end its element", () => {
    const text = fc.string({ unit: "binary", maxLength: 40 });
    fc.assert(
      fc.property(fc.array(text, { maxLength: 5 }), fc.oneof(text, fc.constantFrom("</script>", "</SCRIPT ", "<!--", "\u2028\u2029", "\u{1F600}", "]]>")), (names, extra) => {
        const value = { names, extra };
        const embedded = embeddedJson(value);
        expect(JSON.parse(embedded)).toEqual(value);
        expect(/[^\x20-\x7e]/.test(embedded)).toBe(false);
        expect(embedded).not.toContain("<");
      }),
    );
  });

  it("escapes the title as text, in ASCII", () => {
    const html = renderReportHtml(data({ title: `</title><script>alert(1)</script> é` }), pageScript);
    expect(html).toContain("<title>&#60;/title&#62;&#60;script&#62;alert(1)&#60;/script&#62; &#233;</title>");
    expect(/[\u0080-\uffff]/.test(html)).toBe(false);
  });

  it("refuses a script that would end its own element", () => {
    expect(() => renderReportHtml(data(), 'var a = "</script>";')).toThrow(/holds <\/script/);
  });
});
