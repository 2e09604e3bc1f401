import { listMetricDefinitions, metricDefinition, metricJson } from "../../app/metrics.js";
import type { MetricDefinition } from "../../core/metrics/registry.js";
import { metricRegistryOf } from "../../config/load.js";
import type { CommandContext } from "../context.js";
import type { MetricsListOptions, MetricsShowOptions } from "../define/metrics.js";
import { formatOf } from "../context.js";
import type { Column } from "../output/render.js";
import { formatNumber, renderRows } from "../output/render.js";
import { tableWidth } from "../output/table-fit.js";

/** The threshold as a person reads it: `< 18.09` for lower-is-better. */
export function thresholdText(d: MetricDefinition): string | null {
  if (d.threshold === null) return null;
  return `${d.direction === "lower" ? "<" : ">"} ${formatNumber(d.threshold)}`;
}

const COLUMNS: Column<MetricDefinition>[] = [
  { header: "NAME", key: "name", get: (d) => d.name, paint: (_d, t, c) => c.bold(t) },
  { header: "GROUP", key: "group", get: (d) => d.group },
  { header: "BETTER", key: "direction", get: (d) => d.direction },
  { header: "THRESHOLD", key: "threshold", get: (d) => thresholdText(d) },
  { header: "UNIT", key: "unit", get: (d) => d.unit },
  { header: "ALIASES", key: "aliases", get: (d) => (d.aliases.length > 0 ? d.aliases.join(", ") : null), shrink: { min: 8, order: 1 }, drop: 1 },
  // The description is cut first to fit the terminal, then the aliases.
  { header: "DESCRIPTION", key: "description", get: (d) => d.description, shrink: { min: 12, order: 0 }, drop: 0 },
];

const CSV_COLUMNS: Column<MetricDefinition>[] = COLUMNS.map((c) =>
  c.key === "threshold" ? { ...c, get: (d: MetricDefinition) => d.threshold } : c.key === "aliases" ? { ...c, get: (d: MetricDefinition) => d.aliases.join(";") } : c,
);

export { metricJson };

/** `expflow metrics list [--group G]`. */
export async function metricsListCommand(flags: MetricsListOptions, ctx: CommandContext): Promise<number> {
  const defs = listMetricDefinitions(metricRegistryOf(await ctx.config()), flags.group);
  const format = formatOf(flags);
  if (format === "json") ctx.io.stdout.write(`${JSON.stringify(defs.map(metricJson), null, 2)}\n`);
  else ctx.io.stdout.write(renderRows(format, defs, format === "csv" ? CSV_COLUMNS : COLUMNS, ctx.colors, { width: tableWidth(ctx.io.stdout, ctx.io.env) }));
  return 0;
}

/** `expflow metrics show NAME`. */
export async function metricsShowCommand(name: string, flags: MetricsShowOptions, ctx: CommandContext): Promise<number> {
  const d = metricDefinition(metricRegistryOf(await ctx.config()), name);
  if (flags.json) {
    ctx.io.stdout.write(`${JSON.stringify(metricJson(d), null, 2)}\n`);
    return 0;
  }
  const c = ctx.colors;
  const rows: [string, string][] = [
    ["name", d.name],
    ["group", d.group],
    ["better", d.direction === "lower" ? "lower (ranked ascending)" : "higher (ranked descending)"],
    ["threshold", thresholdText(d) ?? "none"],
    ["unit", d.unit ?? "none"],
    ["aliases", d.aliases.length > 0 ? d.aliases.join(", ") : "none"],
    ["standard", d.standard ? "yes" : "no (added in config)"],
    ["description", d.description || "none"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  ctx.io.stdout.write(rows.map(([k, v]) => `${c.bold(k.padEnd(width))}  ${v}`).join("\n") + "\n");
  return 0;
}
