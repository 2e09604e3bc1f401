import { metricRegistryOf } from "../../config/load.js";
import type { TaskMetricsReportJson } from "../../contracts/metrics.js";
import { UsageError } from "../../core/errors.js";
import { assertValidId } from "../../core/ids.js";
import type { MetricsTarget } from "../../app/metrics.js";
import { reportMetrics } from "../../app/metrics.js";
import { openClearml } from "../clearml.js";
import type { CommandContext } from "../context.js";
import { openLocal } from "../backend.js";
import type { MetricsReportOptions } from "../define/metrics.js";
import { didYouMean } from "../../core/suggest.js";
import type { MetricRegistry } from "../../core/metrics/registry.js";
import { declareMetricCommand } from "../output/terminal-words.js";

/**
 * Parses `name=value` arguments; a value stays text for the registry's validation. A Map: names
 * such as `__proto__` or `constructor` are names like any other (the registry refuses them as
 * unknown).
 *
 * @throws {UsageError} (exit 2) an argument without `=` or with an empty name, or a name given
 *   twice (`pde_mean=1 pde_mean=2`): which one was meant is not guessed.
 */
export function parseAssignments(pairs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? "" : pair.slice(0, eq).trim();
    if (name === "") throw new UsageError("E_USAGE", `expected name=value, got '${pair}'`, { hint: "e.g. expflow metrics report exp-1a2b pde_mean=16.2 train_time_min=41" });
    if (out.has(name)) throw new UsageError("E_USAGE", `metric '${name}' is given twice`, { hint: "give each metric once" });
    out.set(name, pair.slice(eq + 1).trim());
  }
  return out;
}

/**
 * `expflow metrics report <id> name=value ...`: validated through the metrics registry (a
 * non-finite value, or with `metrics.strict` an unknown name, is exit 2 and nothing is written;
 * otherwise an unknown name is kept as a custom metric, with a note on standard error), then
 * merged into the record as a new snapshot under the registry lock, so concurrent reports all
 * survive.
 *
 * With `--task-id ID` (and no experiment id) the values go to that ClearML task instead, through
 * `ClearmlStore.reportMetrics` (a check that the task exists and is not published, then one
 * `events.add_batch`).
 *
 * @throws {ValidationError} a value the registry refuses (exit 2; nothing sent or written).
 * @throws {NotFoundError} unknown experiment or task (exit 2).
 * @throws {ConflictError} a published task, which accepts no events (exit 2).
 * @throws {BackendError} ClearML not configured, unreachable or failing (exit 4).
 */
export async function metricsReportCommand(id: string | undefined, pairs: string[], flags: MetricsReportOptions, ctx: CommandContext): Promise<number> {
  let target: MetricsTarget;
  let values: string[];
  if (flags.taskId !== undefined) {
    // With --task-id every positional argument is a value: `metrics report --task-id T a=1 b=2`.
    target = { kind: "clearml", taskId: assertValidId(flags.taskId, "ClearML task id") };
    values = id === undefined ? pairs : [id, ...pairs];
    if (values.length === 0) throw new UsageError("E_USAGE", "no metrics given", { hint: "expflow metrics report --task-id ID name=value ..." });
  } else {
    if (id === undefined || id.includes("=")) {
      throw new UsageError("E_USAGE", "no experiment id given", { hint: "expflow metrics report <id> name=value ... (or --task-id ID name=value ... for a ClearML task)" });
    }
    if (pairs.length === 0) throw new UsageError("E_USAGE", "no metrics given", { hint: "expflow metrics report <id> name=value ..." });
    target = { kind: "local", id };
    values = pairs;
  }
  const assignments = parseAssignments(values);
  const registry = metricRegistryOf(await ctx.config({ registry: flags.registry }));
  const report = await reportMetrics({ registry, local: () => openLocal(ctx, { registry: flags.registry }), clearml: () => openClearml(ctx, flags).store }, target, assignments);
  const { stdout, stderr } = ctx.io;
  for (const name of report.custom) stderr.write(`note: ${customNote(name, registry)}\n`);
  if (report.kind === "local") {
    if (flags.json) stdout.write(`${JSON.stringify(report.record)}\n`);
    else stdout.write(`Reported ${describeValues(report.values)} to ${report.id}: ${Object.entries(report.values).map(([k, v]) => `${k}=${v}`).join(" ")}\n`);
  } else if (flags.json) {
    const out: TaskMetricsReportJson = { task_id: report.taskId, server: report.server, iteration: 0, scalars: [...report.scalars] };
    stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    stdout.write(`Reported ${describeValues(report.values)} to ClearML task ${report.taskId}: ${report.scalars.map((e) => `${e.metric}/${e.variant}=${e.value}`).join(" ")}\n`);
  }
  return 0;
}

/** What the terminal says of a custom metric reported: kept, not ranked best-first until declared. */
export function customNote(name: string, registry: MetricRegistry): string {
  return `'${name}' is not a registered metric: kept as a custom metric.${didYouMean(name, registry.allNames())} To rank by it best-first, ${declareMetricCommand(name)} (or give compare-scores --ascending/--descending)`;
}

function describeValues(values: Readonly<Record<string, number>>): string {
  const n = Object.keys(values).length;
  return `${n} metric${n === 1 ? "" : "s"}`;
}
