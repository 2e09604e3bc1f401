import { UsageError } from "../../core/errors.js";
import { validateMetricValues } from "../../core/metrics/registry.js";
import type { CommandContext } from "../context.js";
import { plainObject } from "../../stores/local/record.js";
import { openRegistry } from "../registry.js";

/** Parses `name=value` arguments; a value stays text for the registry's validation. */
export function parseAssignments(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError("E_USAGE", `expected name=value, got '${pair}'`, { hint: "e.g. expflow metrics report exp-1a2b pde_mean=16.2 train_time_min=41" });
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/**
 * `expflow metrics report <id> name=value ...`: validated through the metrics registry (an
 * unknown name or a non-finite value is exit 2 and nothing is written), then merged into the
 * record as a new snapshot under the registry lock, so concurrent reports all survive.
 */
export async function metricsReportCommand(id: string, pairs: string[], flags: { registry?: string; json?: boolean }, ctx: CommandContext): Promise<number> {
  if (pairs.length === 0) throw new UsageError("E_USAGE", "no metrics given", { hint: "expflow metrics report <id> name=value ..." });
  const reg = await openRegistry(ctx, flags.registry);
  const values = validateMetricValues(parseAssignments(pairs), reg.metrics);
  const full = reg.resolve(id);
  const updated = await reg.writer.update(full, (r) => ({
    ...r,
    metrics: { ...(plainObject(r.metrics) ?? {}), ...values },
  }));
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify(updated)}\n`);
  else ctx.io.stdout.write(`Reported ${Object.keys(values).length} metric${Object.keys(values).length === 1 ? "" : "s"} to ${full}: ${Object.entries(values).map(([k, v]) => `${k}=${v}`).join(" ")}\n`);
  return 0;
}
