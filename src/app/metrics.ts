import type { ConfigEnvironment } from "../config/load.js";
import type { DeclaredMetric, MetricDeclaration } from "../config/edit.js";
import type { MetricDefinitionJson } from "../contracts/metrics.js";
import { NotFoundError, UsageError } from "../core/errors.js";
import { assertValidId } from "../core/ids.js";
import type { MetricDefinition, MetricRegistry } from "../core/metrics/registry.js";
import { didYouMean } from "../core/suggest.js";
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
  readonly clearml: () => ClearmlStore | Promise<ClearmlStore>;
}

/** What a report wrote. `custom`: the names the registry does not know, kept as custom metrics. */
export type MetricsReport =
  | { readonly kind: "local"; readonly id: string; readonly values: Readonly<Record<string, number>>; readonly custom: readonly string[]; readonly record: RegistryRecord }
  | {
      readonly kind: "clearml";
      readonly taskId: string;
      readonly server: string;
      readonly values: Readonly<Record<string, number>>;
      readonly custom: readonly string[];
      readonly scalars: readonly { metric: string; variant: string; value: number }[];
    };

/**
 * Reports metric values to a run: validated through the metrics registry first (a refused value
 * is exit 2 and nothing is sent or written), then merged into the local record under the
 * registry lock, or sent to the ClearML task as scalars (metric = the registry group, variant =
 * the name, iteration 0). A name the registry does not know is kept as a custom metric (group
 * `Custom` on ClearML), unless the registry is strict, which refuses it.
 */
export async function reportMetrics(backends: MetricsBackends, target: MetricsTarget, assignments: ReadonlyMap<string, string>): Promise<MetricsReport> {
  const taskId = target.kind === "clearml" ? assertValidId(target.taskId, "ClearML task id") : undefined;
  const values = validateMetricValues(assignments, backends.registry, { custom: true });
  const custom = Object.keys(values).filter((name) => !backends.registry.has(name));
  if (taskId !== undefined) {
    const store = await backends.clearml();
    const { scalars } = await store.reportMetrics(taskId, values, { registry: backends.registry });
    return { kind: "clearml", taskId, server: store.location, values, custom, scalars };
  }
  const local = await backends.local();
  const id = await local.store.resolve((target as { readonly id: string }).id);
  return { kind: "local", id, values, custom, record: await local.store.logMetricsRaw(id, values) };
}

/**
 * Declares a metric of your own in the nearest configuration file (the project's
 * `expflow.yaml`, else `$EXPFLOW_HOME/config.yaml`, created when missing), the rest of the file
 * kept as it was. See `config/edit.ts`'s `declareMetric` for what it checks and throws.
 */
export async function addMetric(environment: ConfigEnvironment, declaration: MetricDeclaration): Promise<DeclaredMetric> {
  const { declareMetric } = await import("../config/edit.js");
  return declareMetric(environment, declaration);
}

/** A metric definition in its contract (`MetricDefinitionSchema`): snake_case, stable. */
export function metricJson(d: MetricDefinition): MetricDefinitionJson {
  return {
    name: d.name,
    group: d.group,
    direction: d.direction,
    description: d.description,
    threshold: d.threshold,
    unit: d.unit,
    aliases: d.aliases,
    standard: d.standard,
  };
}

/**
 * The registered metrics, in registry order; of one group with `group`.
 *
 * @throws {UsageError} `E_UNKNOWN_GROUP` for a group no metric belongs to.
 */
export function listMetricDefinitions(registry: MetricRegistry, group?: string): MetricDefinition[] {
  const defs = registry.list(group);
  if (group !== undefined && defs.length === 0) {
    throw new UsageError("E_UNKNOWN_GROUP", `unknown metric group '${group}'.${didYouMean(group, registry.groups())}`, {
      hint: `groups: ${registry.groups().join(", ")}`,
    });
  }
  return defs;
}

/**
 * One registered metric by name or alias.
 *
 * @throws {NotFoundError} `E_UNKNOWN_METRIC`, with a did-you-mean suggestion.
 */
export function metricDefinition(registry: MetricRegistry, name: string): MetricDefinition {
  const d = registry.get(name);
  if (d === undefined) {
    throw new NotFoundError("E_UNKNOWN_METRIC", `unknown metric '${name}'.${didYouMean(name, registry.allNames())}`, {
      hint: `known metrics: ${registry.names().join(", ")}`,
    });
  }
  return d;
}
