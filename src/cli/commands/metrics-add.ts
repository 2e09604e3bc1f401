import { addMetric } from "../../app/metrics.js";
import type { MetricAddJson } from "../../contracts/metrics.js";
import type { CommandContext } from "../context.js";
import type { MetricsAddOptions } from "../define/metrics.js";
import { metricJson, thresholdText } from "./metrics.js";

/**
 * `expflow metrics add NAME --direction lower|higher [--threshold V] [--group G] [--unit U]
 * [--description D]`: declares a metric of your own in the nearest configuration file (the
 * project's `expflow.yaml`, else `$EXPFLOW_HOME/config.yaml`, created when missing), the rest of
 * the file kept as it was. Returns 0.
 *
 * @throws {UsageError} `E_METRIC_EXISTS` (exit 2) for a name that is already a metric or an
 *   alias; `E_METRIC_NAME` for a name that cannot be one.
 * @throws {ConfigError} (exit 2) a configuration file the other commands refuse already.
 * @throws {BackendError} (exit 4) when the file cannot be written.
 */
export async function metricsAddCommand(name: string, flags: MetricsAddOptions, ctx: CommandContext): Promise<number> {
  const declared = await addMetric(
    { env: ctx.io.env, cwd: ctx.io.cwd },
    {
      name,
      direction: flags.direction,
      ...(flags.threshold === undefined ? {} : { threshold: flags.threshold }),
      ...(flags.group === undefined ? {} : { group: flags.group }),
      ...(flags.unit === undefined ? {} : { unit: flags.unit }),
      ...(flags.description === undefined ? {} : { description: flags.description }),
    },
  );
  const d = declared.definition;
  if (flags.json) {
    const out: MetricAddJson = { file: declared.file, created: declared.created, metric: metricJson(d) };
    ctx.io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const threshold = thresholdText(d);
  ctx.io.stdout.write(
    `${declared.created ? "Created" : "Updated"} ${declared.file}: metric ${d.name} (${d.direction} is better, group ${d.group}${threshold === null ? "" : `, threshold ${threshold}`}${d.unit === null ? "" : `, unit ${d.unit}`}).\n` +
      `Runs reporting ${d.name} now rank by it ${d.direction === "lower" ? "lowest" : "highest"} first: expflow compare-scores --sort-by ${d.name}\n`,
  );
  return 0;
}
