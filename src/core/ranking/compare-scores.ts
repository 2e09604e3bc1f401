import { UsageError } from "../errors.js";
import type { Experiment } from "../experiment.js";
import { assertUnambiguous } from "../experiment.js";
import type { Gate, GateResult } from "../gates/gate.js";
import { gateEvaluator, gatePredicate, metricValue, parseGate, thresholdGates } from "../gates/gate.js";
import { declareMetricHint, MetricRegistry } from "../metrics/registry.js";
import { didYouMean, nearest } from "../suggest.js";
import type { ParetoObjective } from "./pareto.js";
import { isParetoDirection, paretoFronts, paretoSyntaxError } from "./pareto.js";
import type { StatusSelection } from "./selection.js";
import { selectByStatus } from "./selection.js";

/** Options of {@link compareScores}. */
export interface CompareScoresOptions {
  /**
   * The metric to rank by (a name or a registered alias). Required unless `pareto` is given;
   * with `pareto`, it orders the experiments within a front.
   */
  sortBy?: string;
  /**
   * `true` ranks the lowest value of `sortBy` first, `false` the highest. Default: the metric's
   * registered direction, best first; unregistered metrics rank descending. Only with `sortBy`:
   * each objective of `pareto` has its own direction.
   */
  ascending?: boolean;
  /**
   * Rank by Pareto fronts of these objectives (two or more, each a metric, by name or registered
   * alias, and the end of it that is best; {@link parseParetoSpec} reads them from text):
   * `rank` is then the front, 1 for the experiments no other passing experiment dominates. See
   * {@link compareScores}.
   */
  pareto?: readonly ParetoObjective[];
  /** Tie-breakers, each in its registered direction (unregistered: descending). */
  thenBy?: readonly string[];
  /** Gates, parsed or as `metric:op:value` text. */
  gates?: readonly (Gate | string)[];
  /** Add a gate for every registered metric with a threshold. Default `false`. */
  useThresholds?: boolean;
  /** Drop experiments that fail a gate from `results`. Default `false`. */
  onlyPassing?: boolean;
  /** Keep at most this many results, after ordering. Default: all. */
  max?: number;
  /** The metrics registry. Default: the standard metrics. */
  registry?: MetricRegistry;
  /**
   * Rank only experiments whose status (or backend status) is one of these; the others are left
   * out and counted in {@link CompareScoresResult.selection}. Default
   * {@link DEFAULT_RANKED_STATUSES} (`completed`): a run that did not finish earns no rank.
   * `"all"` ranks every experiment given.
   */
  statuses?: readonly string[] | "all";
}

/** One ranked experiment. */
export interface RankedExperiment {
  /**
   * 1-based rank among those passing every gate; in a Pareto ranking, the front (many share
   * one). `null` for those failing a gate.
   */
  readonly rank: number | null;
  readonly experiment: Experiment;
  readonly passed: boolean;
  /** The sort metric's value, or `null` when missing. */
  readonly value: number | null;
  /** In a Pareto ranking, the value of each objective, in their order (`null`: missing); else `null`. */
  readonly objectives: readonly (number | null)[] | null;
  readonly gates: readonly GateResult[];
}

/** The outcome of {@link compareScores}. */
export interface CompareScoresResult {
  /** The canonical sort metric; in a Pareto ranking without `sortBy`, the first objective's. */
  readonly sortBy: string;
  /** Whether the lowest `sortBy` value comes first (without `sortBy`: the first objective is `min`). */
  readonly ascending: boolean;
  /** The objectives of a Pareto ranking, by canonical metric name; `null` for a ranking by `sortBy`. */
  readonly pareto: readonly ParetoObjective[] | null;
  /** How many Pareto fronts the passing experiments form; 0 when none passes or not a Pareto ranking. */
  readonly fronts: number;
  /** How many passing experiments are on the first front; 0 when none passes or not a Pareto ranking. */
  readonly onFront: number;
  readonly thenBy: readonly { metric: string; ascending: boolean }[];
  /** Every gate applied, explicit ones first, then those from thresholds. */
  readonly gates: readonly Gate[];
  /** Ordered results, after `onlyPassing` and `max`. */
  readonly results: readonly RankedExperiment[];
  /** How many experiments were ranked: those given, less those left out for their status. */
  readonly total: number;
  /** How many of them pass every gate. */
  readonly passedCount: number;
  /** The statuses ranked, and how many experiments were left out for theirs. */
  readonly selection: StatusSelection;
}

interface Keyed {
  readonly experiment: Experiment;
  readonly passed: boolean;
  readonly value: number | null;
  readonly tieValues: (number | null)[] | null;
  /** The objectives' values of a Pareto ranking. */
  readonly objectives: (number | null)[] | null;
  /** The front of a passing experiment in a Pareto ranking (0 otherwise). */
  front: number;
  /**
   * Parsed `created` (`null`: none, or not a date); `undefined` until a tie on every metric key
   * needs it, so a ranking whose values rarely tie parses few dates.
   */
  createdMs: number | null | undefined;
  readonly id: string;
  /** Position in the input: the last tie-break, so equal rows keep their order (as a stable sort would). */
  readonly index: number;
}

/**
 * Resolves a metric named in an option of a ranking: a registered name or alias gives the
 * canonical name; otherwise some experiment of the selection must report it.
 *
 * @param field the option that names it (`sortBy`, `thenBy`, `gates`), set on the error.
 * @param where how the message names the place (default `field`; `gate 'x:lt:1'` for a gate).
 * @throws {UsageError} `E_UNKNOWN_METRIC` with a did-you-mean suggestion (also as `suggestion`).
 */
export function resolveMetricName(
  name: string,
  registry: MetricRegistry,
  reported: () => ReadonlySet<string>,
  field: string,
  where: string = field,
): string {
  const canonical = registry.resolve(name);
  if (canonical !== undefined) return canonical;
  const seen = reported();
  if (seen.has(name)) return name;
  const known = [...registry.allNames(), ...seen];
  throw new UsageError(
    "E_UNKNOWN_METRIC",
    `unknown metric '${name}' in ${where}: it is neither registered nor reported by any selected experiment.${didYouMean(name, known)}`,
    {
      hint: `\`expflow metrics list\` shows the registered metrics; if '${name}' is a metric of your own, ${declareMetricHint(name)}`,
      field,
      value: name,
      suggestion: nearest(name, known),
    },
  );
}

/** Ascending comparison with missing values (null) after every present value. */
function compareNullable(a: number | null, b: number | null, ascending: boolean): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return ascending ? a - b : b - a;
}

/**
 * The `k` smallest of `items` under the total order `order`, sorted: a bounded max-heap of them
 * (its root the largest kept), so each further item costs one comparison unless it belongs in.
 */
function smallest<T>(items: readonly T[], k: number, order: (a: T, b: T) => number): T[] {
  const heap: T[] = [];
  const siftDown = (from: number): void => {
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) return;
      const r = l + 1;
      const big = r < heap.length && order(heap[r]!, heap[l]!) > 0 ? r : l;
      if (order(heap[big]!, heap[i]!) <= 0) return;
      [heap[i], heap[big]] = [heap[big]!, heap[i]!];
      i = big;
    }
  };
  for (const item of items) {
    if (heap.length < k) {
      heap.push(item);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (order(heap[i]!, heap[parent]!) <= 0) break;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
    } else if (order(item, heap[0]!) < 0) {
      heap[0] = item;
      siftDown(0);
    }
  }
  return heap.sort(order);
}

function parseTime(text: string | null): number | null {
  if (text === null) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * Ranks experiments by a metric, or by Pareto fronts of several, and gates them. Pure: it reads
 * nothing and prints nothing.
 *
 * Only experiments in one of `statuses` (default: `completed`) are ranked; the others are counted
 * in `selection`. Metric names resolve against every experiment given, so a metric that only a
 * left-out run reports is still known (every ranked row then misses it).
 *
 * Order: experiments passing every gate first, ranked 1..k; then those failing one, with
 * `rank: null`. Within each group, experiments with the sort metric come before those missing
 * it, ordered by value; ties are broken by each `thenBy` metric in its direction, then by earlier
 * `created`, then by id. With no gates every experiment passes. 0 and negative values are values.
 *
 * With `pareto`, the passing experiments are sorted into Pareto fronts instead (non-dominated
 * sorting, as Optuna's best trials for several objectives): one dominates another when it is no
 * worse on every objective and better on at least one; front 1 holds those no passing experiment
 * dominates, front 2 those only front 1 dominates, and so on. `rank` is the front, so many
 * experiments share a rank; identical values share a front. A missing objective (absent, null or
 * non-finite) counts as worse than any value and equal to another missing one, so every passing
 * experiment has a front. Passing experiments are ordered by front, then within a front by
 * `sortBy` when given (in its direction, as above), else by the first objective in its
 * direction; then by each `thenBy` metric, then by the remaining objectives in their order and
 * directions (missing last), then by earlier `created`, then by id. Experiments failing a gate
 * are not fronted: `rank: null`, after the passing ones, ordered as without `pareto` (by the
 * sort metric, which is then the first objective when `sortBy` is not given).
 *
 * @throws {UsageError} `E_GATE_SYNTAX` for a malformed gate, `E_UNKNOWN_METRIC` for a sort,
 *   tie-break, objective or gate metric that is neither registered nor reported by any
 *   experiment given, `E_METRIC_AMBIGUOUS` for one that an experiment reports under two titles,
 *   `E_PARETO_SYNTAX` for `pareto` with fewer than two objectives, a direction other than `max`
 *   or `min`, or two objectives naming the same metric (an alias included),
 *   `E_USAGE` for neither `sortBy` nor `pareto`, `ascending` without `sortBy`, a `max` that is
 *   not a positive integer or an empty `statuses` list.
 */
export function compareScores(experiments: readonly Experiment[], options: CompareScoresOptions): CompareScoresResult {
  const registry = options.registry ?? MetricRegistry.standard();
  if (options.max !== undefined && !(Number.isInteger(options.max) && options.max > 0)) {
    throw new UsageError("E_USAGE", `max must be a positive whole number, got ${String(options.max)}`, { field: "max", value: String(options.max) });
  }
  assertRankingOrder(options);
  let reportedCache: Set<string> | undefined;
  const reported = (): ReadonlySet<string> => {
    if (reportedCache === undefined) {
      reportedCache = new Set();
      for (const e of experiments) {
        // Own names, enumerable or not: a store may answer qualified names too (ClearML's Title/variant).
        for (const k of Object.getOwnPropertyNames(e.metrics)) reportedCache.add(k);
        if (e.ambiguousMetrics !== undefined) for (const k of Object.keys(e.ambiguousMetrics)) reportedCache.add(k);
      }
    }
    return reportedCache;
  };
  const { kept, selection } = selectByStatus(experiments, options.statuses);
  const parsed = (options.gates ?? []).map((g) => (typeof g === "string" ? parseGate(g) : g));
  const pareto = options.pareto === undefined ? null : resolveObjectives(options.pareto, registry, reported);
  const sortBy = options.sortBy === undefined ? pareto![0]!.metric : resolveMetricName(options.sortBy, registry, reported, "sortBy");
  const thenBy = (options.thenBy ?? []).map((m) => {
    const metric = resolveMetricName(m, registry, reported, "thenBy");
    return { metric, ascending: registry.definitionOf(metric)?.direction === "lower" };
  });
  const gates: Gate[] = [];
  const seenGates = new Set<string>();
  const addGate = (g: Gate): void => {
    const key = `${g.metric}\u0000${g.op}\u0000${g.value}`;
    if (seenGates.has(key)) return;
    seenGates.add(key);
    gates.push(g);
  };
  for (const g of parsed) addGate({ ...g, metric: resolveMetricName(g.metric, registry, reported, "gates", `gate '${g.metric}:${g.op}:${g.value}'`) });
  if (options.useThresholds) for (const g of thresholdGates(registry)) addGate(g);

  const ascending =
    options.sortBy === undefined ? pareto![0]!.direction === "min" : (options.ascending ?? registry.definitionOf(sortBy)?.direction === "lower");
  const aliasesOf = (m: string): readonly string[] => registry.get(m)?.aliases ?? [];
  const groupOf = (m: string): string | undefined => registry.get(m)?.group;
  // Only the ranked experiments: a left-out run's ambiguous name blocks nothing.
  assertUnambiguous(kept, [
    ...(options.sortBy === undefined ? [] : [{ name: sortBy, aliases: aliasesOf(sortBy), field: "sortBy", group: groupOf(sortBy) }]),
    ...(pareto ?? []).map((o) => ({
      name: o.metric,
      aliases: aliasesOf(o.metric),
      field: "pareto",
      group: groupOf(o.metric),
      example: (q: string) => `the objective '${q}:${o.direction}'`,
    })),
    ...thenBy.map((t) => ({ name: t.metric, aliases: aliasesOf(t.metric), field: "thenBy", group: groupOf(t.metric) })),
    ...gates.map((g) => ({
      name: g.metric,
      aliases: aliasesOf(g.metric),
      field: "gates",
      where: `gate '${g.metric}:${g.op}:${g.value}'`,
      group: groupOf(g.metric),
      example: (q: string) => `the gate '${q}:${g.op}:${g.value}'`,
    })),
  ]);
  const sortAliases = aliasesOf(sortBy);
  const thenAliases = thenBy.map((t) => aliasesOf(t.metric));
  const objectiveAliases = (pareto ?? []).map((o) => aliasesOf(o.metric));

  const passes = gatePredicate(gates, { registry });
  // Every sort key computed once, before sorting: the comparator only reads them.
  const keyed: Keyed[] = new Array<Keyed>(kept.length);
  for (let i = 0; i < kept.length; i++) {
    const experiment = kept[i]!;
    const metrics = experiment.metrics;
    let tieValues: (number | null)[] | null = null;
    if (thenBy.length > 0) {
      tieValues = new Array<number | null>(thenBy.length);
      for (let t = 0; t < thenBy.length; t++) tieValues[t] = metricValue(metrics, thenBy[t]!.metric, thenAliases[t]);
    }
    let objectives: (number | null)[] | null = null;
    if (pareto !== null) {
      objectives = new Array<number | null>(pareto.length);
      for (let o = 0; o < pareto.length; o++) objectives[o] = metricValue(metrics, pareto[o]!.metric, objectiveAliases[o]);
    }
    keyed[i] = {
      experiment,
      passed: passes(metrics),
      value: metricValue(metrics, sortBy, sortAliases),
      tieValues,
      objectives,
      front: 0,
      createdMs: undefined,
      id: experiment.id,
      index: i,
    };
  }

  let fronts = 0;
  let onFront = 0;
  // The objectives after the first (or all of them, when sortBy orders within a front), as tie-breakers.
  const laterObjectives: { index: number; ascending: boolean }[] = [];
  if (pareto !== null) {
    const passing = keyed.filter((k) => k.passed);
    // Minimisation form: a maximised objective negated, a missing value worse than any.
    const rows = passing.map((k) => k.objectives!.map((v, i) => (v === null ? Infinity : pareto[i]!.direction === "max" ? -v : v)));
    const numbers = paretoFronts(rows);
    passing.forEach((k, i) => {
      k.front = numbers[i]!;
      if (k.front > fronts) fronts = k.front;
      if (k.front === 1) onFront++;
    });
    pareto.forEach((o, index) => {
      if (o.metric !== sortBy) laterObjectives.push({ index, ascending: o.direction === "min" });
    });
  }

  const order = (a: Keyed, b: Keyed): number => {
    if (a.passed !== b.passed) return a.passed ? -1 : 1;
    if (a.front !== b.front) return a.front - b.front;
    let c = compareNullable(a.value, b.value, ascending);
    if (c !== 0) return c;
    for (let i = 0; i < thenBy.length; i++) {
      c = compareNullable(a.tieValues![i]!, b.tieValues![i]!, thenBy[i]!.ascending);
      if (c !== 0) return c;
    }
    if (a.passed) {
      for (const o of laterObjectives) {
        c = compareNullable(a.objectives![o.index]!, b.objectives![o.index]!, o.ascending);
        if (c !== 0) return c;
      }
    }
    if (a.createdMs === undefined) a.createdMs = parseTime(a.experiment.created);
    if (b.createdMs === undefined) b.createdMs = parseTime(b.experiment.created);
    c = compareNullable(a.createdMs, b.createdMs, true);
    if (c !== 0) return c;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : a.index - b.index;
  };

  let passedCount = 0;
  for (const k of keyed) if (k.passed) passedCount++;
  // The rows returned: the first `max` of the order (passing ones only, with onlyPassing). The
  // order is total (the input position breaks the last tie), so selecting them first and sorting
  // only those gives the same rows as sorting everything, for far fewer comparisons when `max`
  // is small.
  const candidates = options.onlyPassing ? keyed.filter((k) => k.passed) : keyed;
  const shown = options.max !== undefined && options.max * 4 < candidates.length ? smallest(candidates, options.max, order) : candidates.sort(order);

  const gateResultsOf = gateEvaluator(gates, { registry });
  let rank = 0;
  const results: RankedExperiment[] = [];
  for (const k of shown) {
    if (options.max !== undefined && results.length >= options.max) break;
    // Per-gate detail only for the rows returned: the ranking itself needs just pass or fail.
    const gateResults = gateResultsOf(k.experiment.metrics);
    results.push({
      rank: k.passed ? (pareto === null ? ++rank : k.front) : null,
      experiment: k.experiment,
      passed: k.passed,
      value: k.value,
      objectives: k.objectives,
      gates: gateResults,
    });
  }
  return { sortBy, ascending, pareto, fronts, onFront, thenBy, gates, results, total: kept.length, passedCount, selection };
}

/**
 * The keys of an experiment's `metrics` that {@link compareScores} reads with these options:
 * every metric they name (sort metric, tie-breaks, objectives, gates, the gates of `useThresholds`)
 * under its canonical name and its aliases. `null` when one of them is not registered: what such
 * a name reads depends on what the experiments report. Experiments whose `metrics` hold only
 * these keys rank exactly as the whole ones do (the property tests check it), so a store can
 * list less for a ranking.
 *
 * @throws {UsageError} `E_GATE_SYNTAX` for a gate given as malformed text.
 */
export function rankingMetricNames(options: Pick<CompareScoresOptions, "sortBy" | "thenBy" | "pareto" | "gates" | "useThresholds" | "registry">): Set<string> | null {
  const registry = options.registry ?? MetricRegistry.standard();
  const named: string[] = [];
  if (options.sortBy !== undefined) named.push(options.sortBy);
  for (const m of options.thenBy ?? []) named.push(m);
  for (const o of options.pareto ?? []) named.push(o.metric);
  for (const g of options.gates ?? []) named.push((typeof g === "string" ? parseGate(g) : g).metric);
  if (options.useThresholds) for (const g of thresholdGates(registry)) named.push(g.metric);
  const keys = new Set<string>();
  for (const name of named) {
    const definition = registry.get(name);
    if (definition === undefined) return null;
    keys.add(definition.name);
    for (const alias of definition.aliases) keys.add(alias);
  }
  return keys;
}

/**
 * Checks what orders a ranking, before anything is read: `sortBy` or `pareto` (or both);
 * `ascending` only with `sortBy`; two or more objectives, each `max` or `min`.
 *
 * @throws {UsageError} `E_USAGE` for neither `sortBy` nor `pareto`, or `ascending` without
 *   `sortBy`; `E_PARETO_SYNTAX` for fewer than two objectives or a direction other than `max` or `min`.
 */
export function assertRankingOrder(options: Pick<CompareScoresOptions, "sortBy" | "ascending" | "pareto">): void {
  if (options.sortBy === undefined && options.pareto === undefined) {
    throw new UsageError("E_USAGE", "a ranking needs sortBy (a metric) or pareto (two or more objectives)", { field: "sortBy" });
  }
  if (options.sortBy === undefined && options.ascending !== undefined) {
    throw new UsageError("E_USAGE", "ascending orders by sortBy, which is not given: each objective of pareto has its own direction", { field: "ascending" });
  }
  if (options.pareto !== undefined) checkObjectives(options.pareto);
}

/** Checks the shape of `pareto` as a library caller gives it: two or more, each direction `max` or `min`. */
function checkObjectives(objectives: readonly ParetoObjective[]): void {
  for (const o of objectives) {
    if (!isParetoDirection(o.direction)) {
      const written = `${String(o.metric)}:${String(o.direction)}`;
      throw paretoSyntaxError(`invalid objective '${written}' in pareto: the direction '${String(o.direction)}' is neither max nor min`, written);
    }
  }
  if (objectives.length < 2) {
    const written = objectives.map((o) => `${o.metric}:${o.direction}`).join(",");
    throw paretoSyntaxError(`invalid objectives '${written}' in pareto: a Pareto ranking needs at least two objectives (for one, rank by it alone)`, written);
  }
}

/**
 * The objectives with their metrics resolved ({@link resolveMetricName}, field `pareto`).
 *
 * @throws {UsageError} `E_UNKNOWN_METRIC`; `E_PARETO_SYNTAX` for two naming the same metric.
 */
function resolveObjectives(objectives: readonly ParetoObjective[], registry: MetricRegistry, reported: () => ReadonlySet<string>): ParetoObjective[] {
  const byMetric = new Map<string, string>();
  return objectives.map((o) => {
    const metric = resolveMetricName(o.metric, registry, reported, "pareto");
    const written = `${o.metric}:${o.direction}`;
    const earlier = byMetric.get(metric);
    if (earlier !== undefined) {
      throw paretoSyntaxError(`invalid objective '${written}' in pareto: it names ${metric}, as '${earlier}' does already; each metric may be one objective only`, written);
    }
    byMetric.set(metric, written);
    return { metric, direction: o.direction };
  });
}
