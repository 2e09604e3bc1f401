import type { RuleCheck, RulesValidation } from "../../core/rules/rules.js";
import type { Column } from "./render.js";
import { escapeMarkdownCell, renderMarkdown } from "./render.js";

/** What {@link renderAuditReport} reports on. */
export interface AuditReportInput {
  readonly experimentId: string;
  readonly name: string | null;
  readonly status: string | null;
  readonly project: string | null;
  readonly tags: readonly string[];
  /** The rule pack's name, and where it came from (`built-in` or a file). */
  readonly rules: string;
  readonly rulesSource: string;
  readonly validation: RulesValidation;
  readonly params: Readonly<Record<string, unknown>>;
  readonly metrics: Readonly<Record<string, unknown>>;
  /** Where the metrics and parameters came from, when not the local record (a ClearML task). */
  readonly metricsSource?: string | null;
}

/** Any recorded value as exact text: numbers at full precision, objects as JSON. */
function exact(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v) ?? String(v);
}

const CHECK_COLUMNS: Column<RuleCheck>[] = [
  { header: "Result", get: (c) => (c.passed ? "PASS" : "FAIL") },
  { header: "Rule", get: (c) => c.label },
  { header: "Value", get: (c) => exact(c.value) },
  { header: "Detail", get: (c) => c.detail },
];

type Entry = readonly [string, unknown];
const ENTRY_COLUMNS = (keyHeader: string): Column<Entry>[] => [
  { header: keyHeader, get: (e) => e[0] },
  { header: "Value", get: (e) => exact(e[1]) },
];

/**
 * The Markdown report of `expflow audit report`: a title with the experiment's id and name, its
 * status, project and tags, the validation verdict with the checks table, then the parameters
 * and the metrics. Every recorded value goes through {@link escapeMarkdownCell} (headings
 * included), so no parameter, name or tag can end a cell, start markup or inject HTML.
 */
export function renderAuditReport(r: AuditReportInput): string {
  const e = escapeMarkdownCell;
  const v = r.validation;
  const passed = v.checks.filter((c) => c.passed).length;
  const out: string[] = [];
  out.push(`# Audit report: ${e(r.experimentId)}${r.name ? ` (${e(r.name)})` : ""}`, "");
  out.push(
    renderMarkdown<Entry>(
      [
        ["Experiment", r.experimentId],
        ["Name", r.name],
        ["Status", r.status],
        ["Project", r.project],
        ["Tags", r.tags.length > 0 ? r.tags.join(", ") : null],
        ...(r.metricsSource ? [["Metrics from", r.metricsSource] as Entry] : []),
      ],
      [
        { header: "Field", get: (x) => x[0] },
        { header: "Value", get: (x) => exact(x[1]) },
      ],
    ).trimEnd(),
    "",
  );
  out.push(`## Validation: ${v.all_pass ? "PASS" : "FAIL"}`, "");
  out.push(`Rule pack **${e(r.rules)}** (${e(r.rulesSource)}): ${passed} of ${v.checks.length} check${v.checks.length === 1 ? "" : "s"} pass.`, "");
  out.push(renderMarkdown(v.checks, CHECK_COLUMNS).trimEnd(), "");
  const params = Object.entries(r.params);
  out.push("## Parameters", "");
  out.push(params.length === 0 ? "(none recorded)" : renderMarkdown(params, ENTRY_COLUMNS("Parameter")).trimEnd(), "");
  const metrics = Object.entries(r.metrics);
  out.push("## Metrics", "");
  out.push(metrics.length === 0 ? "(none reported)" : renderMarkdown(metrics, ENTRY_COLUMNS("Metric")).trimEnd());
  return `${out.join("\n")}\n`;
}
