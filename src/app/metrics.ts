import { assertValidId } from "../core/ids.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
import { validateMetricValues } from "../core/metrics/registry.js";
import type { ClearmlStore } from "../stores/clearml/clearml-store.js";
import type { RegistryRecord } from "../stores/local/record.js";
import type { LocalBackend } from "./backend.js";

/** Where reported metrics go: a local run (by id or unique prefix) or a ClearML task. */
export type MetricsTarget = { readonly kind: "local"; readonly id: string } | { readonly kind: "clearml"; readonly taskId: string };

/** The backends a report may write to, opened only when it goes there. */
export interface MetricsBackends {
  /** Validates the values (unknown names, non-finite values are refused before anything is sent). */
  readonly registry: MetricRegistry;
  readonly local: () => Promise<LocalBackend>;
  readonly clearml: () => ClearmlStore;
}

/** What a report wrote. */
export type MetricsReport =
  | { readonly kind: "local"; readonly id: string; readonly values: Readonly<Record<string, number>>; readonly record: RegistryRecord }
  | { readonly kind: "clearml"; readonly taskId: string; readonly server: string; readonly values: Readonly<Record<string, number>>; readonly scalars: readonly { metric: string; variant: string; value: number }[] };

/**
 * Reports metric values to a run: validated through the metrics registry first (a refused value
 * is exit 2 and nothing is sent or written), then merged into the local record under the
 * registry lock, or sent to the ClearML task as scalars (metric = the registry group, variant =
 * the name, iteration 0).
 */
export async function reportMetrics(backends: MetricsBackends, target: MetricsTarget, assignments: ReadonlyMap<string, string>): Promise<MetricsReport> {
  if (target.kind === "clearml") {
    const taskId = assertValidId(target.taskId, "ClearML task id");
    const values = validateMetricValues(assignments, backends.registry);
    const store = backends.clearml();
    const { scalars } = await store.reportMetrics(taskId, values, { registry: backends.registry });
    return { kind: "clearml", taskId, server: store.location, values, scalars };
  }
  const values = validateMetricValues(assignments, backends.registry);
  const local = await backends.local();
  const id = await local.store.resolve(target.id);
  return { kind: "local", id, values, record: await local.store.logMetricsRaw(id, values) };
}
