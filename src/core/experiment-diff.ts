import type { Experiment } from "./experiment.js";
import type { Direction, MetricRegistry } from "./metrics/registry.js";

/** A value of a diff row for one experiment: text, a finite number, or `null` (missing). */
export type DiffValue = string | number | null;

/** How an experiment's metric value compares with the first experiment's, in the metric's direction. */
export type DiffMark = "better" | "worse" | "same";

/** What a diff row is about: a top-level field, a parameter, or a metric. */
export type DiffKind = "field" | "param" | "metric";

/** One row of an {@link ExperimentDiff}: one field, parameter or metric across the experiments. */
export interface DiffRow {
  readonly kind: DiffKind;
  /** The field's name, the parameter's `Section/name`, or the metric's name (canonical when registered). */
  readonly key: string;
  /** One value per experiment, in the order given. */
  readonly values: readonly DiffValue[];
  /** Whether the values are not all equal (a missing value differs from a present one). */
  readonly differs: boolean;
  /** A metric's registered direction; `null` for a field, a parameter or a custom metric. */
  readonly direction: Direction | null;
  /**
   * One mark per experiment: how its value compares with the first experiment's in `direction`.
   * `null` for the first experiment itself, wherever either value is missing, and on rows
   * without a direction.
   */
  readonly marks: readonly (DiffMark | null)[];
  /**
   * The positions of the experiments holding the best value in `direction` (all of them on a
   * tie), when at least two values are present and not all equal; otherwise empty.
   */
  readonly best: readonly number[];
}

/** What {@link diffExperiments} returns. */
export interface ExperimentDiff {
  /** Fields first (name, status, project, tags), then parameters, then metrics; only those that differ unless `all`. */
  readonly rows: readonly DiffRow[];
  /** How many rows differ (of every row compared, shown or not). */
  readonly differing: number;
  /** How many rows were compared (shown or not). */
  readonly compared: number;
}

/** Options of {@link diffExperiments}. */
export interface DiffOptions {
  /** Keep the rows that do not differ too. Default false. */
  readonly all?: boolean;
}

/** The top-level fields compared, in this order. */
const FIELDS: readonly (readonly [string, (e: Experiment) => DiffValue])[] = [
  ["name", (e) => nonEmpty(e.name)],
  ["status", (e) => nonEmpty(e.status)],
  ["project", (e) => nonEmpty(e.project)],
  // Sorted: the order tags were given in is not a difference.
  ["tags", (e) => (e.tags.length === 0 ? null : [...new Set(e.tags)].sort().join(","))],
];

function nonEmpty(v: string | null | undefined): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

/** A metric value as every reader counts it: a finite number, else missing. */
function metricValue(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function allEqual(values: readonly DiffValue[]): boolean {
  return values.every((v) => v === values[0]);
}

/** Whether `a` is better than `b` in `direction`. */
function isBetter(a: number, b: number, direction: Direction): boolean {
  return direction === "lower" ? a < b : a > b;
}

function plainRow(kind: DiffKind, key: string, values: DiffValue[]): DiffRow {
  return { kind, key, values, differs: !allEqual(values), direction: null, marks: values.map(() => null), best: [] };
}

function metricRow(key: string, values: (number | null)[], direction: Direction | null): DiffRow {
  const differs = !allEqual(values);
  if (direction === null) return { kind: "metric", key, values, differs, direction, marks: values.map(() => null), best: [] };
  const base = values[0] ?? null;
  const marks = values.map((v, i): DiffMark | null => {
    if (i === 0 || v === null || base === null) return null;
    return v === base ? "same" : isBetter(v, base, direction) ? "better" : "worse";
  });
  const present = values.filter((v): v is number => v !== null);
  let best: number[] = [];
  if (present.length >= 2 && !allEqual(present)) {
    const top = present.reduce((a, b) => (isBetter(b, a, direction) ? b : a));
    best = values.flatMap((v, i) => (v === top ? [i] : []));
  }
  return { kind: "metric", key, values, differs, direction, marks, best };
}

/**
 * The metric names of the experiments, each under its canonical name when it is a registered
 * name or alias: registered metrics in the registry's order first, then the others in order of
 * first appearance.
 */
function metricNames(experiments: readonly Experiment[], registry: MetricRegistry): string[] {
  const seen = new Set<string>();
  for (const e of experiments) for (const name of Object.keys(e.metrics)) seen.add(registry.resolve(name) ?? name);
  const order = new Map(registry.list().map((m, i) => [m.name, i]));
  return [...seen].sort((a, b) => (order.get(a) ?? Infinity) - (order.get(b) ?? Infinity));
}

/**
 * An experiment's value of a metric: under its canonical name, else under one of its aliases
 * (the registry's order), as recorded; a value that is not a finite number counts as missing.
 */
function valueOf(e: Experiment, name: string, registry: MetricRegistry): number | null {
  if (Object.hasOwn(e.metrics, name)) return metricValue(e.metrics[name]);
  for (const alias of registry.get(name)?.aliases ?? []) if (Object.hasOwn(e.metrics, alias)) return metricValue(e.metrics[alias]);
  return null;
}

/**
 * The fields, parameters and metrics of experiments side by side: one {@link DiffRow} per key any
 * of them has, fields first (`name`, `status`, `project`, `tags`: sorted and comma-separated),
 * then parameters (`Section/name`, in order of first appearance, compared as text: `3e-4` and
 * `0.0003` differ), then metrics (registered ones in the registry's order, then custom ones in
 * order of first appearance; aliases read under the canonical name; compared as numbers, a value
 * that is not a finite number counting as missing).
 *
 * A row differs when its values are not all equal, a missing value differing from a present one.
 * A metric with a registered direction (its own, or, for a qualified `Title/name`, `name`'s) is
 * marked against the first experiment: each other experiment's value is `better`, `worse` or
 * `same` (equal values are `same`); `best` holds where the best value is. Custom metrics (no
 * registered direction) and fields and parameters carry no marks.
 *
 * @param experiments the experiments, the first one the reference the others are marked against.
 * @returns the rows that differ (every row with `all`), how many differ and how many were compared.
 */
export function diffExperiments(experiments: readonly Experiment[], registry: MetricRegistry, options: DiffOptions = {}): ExperimentDiff {
  const rows: DiffRow[] = [];
  for (const [key, get] of FIELDS) rows.push(plainRow("field", key, experiments.map(get)));
  const params = new Set<string>();
  for (const e of experiments) for (const key of Object.keys(e.params)) params.add(key);
  for (const key of params) {
    rows.push(plainRow("param", key, experiments.map((e) => (Object.hasOwn(e.params, key) ? String(e.params[key]) : null))));
  }
  for (const name of metricNames(experiments, registry)) {
    const values = experiments.map((e) => valueOf(e, name, registry));
    rows.push(metricRow(name, values, registry.definitionOf(name)?.direction ?? null));
  }
  const differing = rows.filter((r) => r.differs).length;
  return { rows: options.all === true ? rows : rows.filter((r) => r.differs), differing, compared: rows.length };
}
