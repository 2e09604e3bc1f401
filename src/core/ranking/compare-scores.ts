import { UsageError } from "../errors.js";
import type { Experiment } from "../experiment.js";
import { assertUnambiguous } from "../experiment.js";
import type { Gate, GateResult } from "../gates/gate.js";
import { compareOp, metricValue, parseGate, thresholdGates } from "../gates/gate.js";
import { declareMetricHint, MetricRegistry } from "../metrics/registry.js";
import { didYouMean, nearest } from "../suggest.js";
import { parseTimestamp } from "../time.js";
import type { ParetoObjective } from "./pareto.js";
import { isParetoDirection, paretoFronts, paretoSyntaxError } from "./pareto.js";
import type { StatusSelection } from "./selection.js";
import { selectRowsByStatus } from "./selection.js";

/**
 * Experiments in order, as an array has them (`length`, `at`): an array, or a list that makes
 * each experiment when asked for (a store's packed listing), which {@link compareScores} asks
 * again each time it reads one, so that it never holds them all.
 */
export interface ExperimentList {
  readonly length: number;
  at(i: number): Experiment | undefined;
  /**
   * Optional, for a list that can answer without making the experiment: the time of
   * `at(i).created` in milliseconds (as `parseTimestamp` in core/time.ts reads it; NaN when there
   * is none or it is not a date).
   */
  createdTime?(i: number): number;
  /** Optional, likewise: `at(i).metrics[name]` when it is an own property, else `undefined`. */
  metricOf?(i: number, name: string): unknown;
}

/** {@link metricValue} of experiment `i` of a list that answers {@link ExperimentList.metricOf}. */
function listedValue(metricOf: (i: number, name: string) => unknown, i: number, name: string, aliases: readonly string[]): number | null {
  const direct = metricOf(i, name);
  if (typeof direct === "number" && Number.isFinite(direct)) return direct;
  for (const alias of aliases) {
    const v = metricOf(i, alias);
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return null;
}

/** Experiments `0 .. count - 1` of `at`, one at a time. */
export function* eachOf(count: number, at: (i: number) => Experiment): IterableIterator<Experiment> {
  for (let i = 0; i < count; i++) yield at(i);
}

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
/** Compares two keys of a column, where NaN (the only value unequal to itself) is a missing one, which comes last either way. */
function compareMissingLast(a: number, b: number, ascending: boolean): number {
  if (a === b) return 0;
  if (a !== a) return b !== b ? 0 : 1;
  if (b !== b) return -1;
  return ascending ? a - b : b - a;
}

/** What {@link gateEvaluator} gives for gate `g` and the value read for it. */
function gateResult(g: Gate, actual: number | null): GateResult {
  const ok = actual !== null && compareOp(g.op, actual, g.value);
  return { metric: g.metric, op: g.op, threshold: g.value, actual, passed: ok, reason: ok ? null : actual === null ? "missing" : "not_met" };
}

/** A key for a column: a missing value (`null`) as NaN. */
function orNaN(v: number | null): number {
  return v === null ? Number.NaN : v;
}

/** A key from a column: NaN as `null`. */
function orNull(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

/**
 * Sorts row numbers in place by `order` (a total order, so any correct sort gives the same
 * result): a merge sort, runs of 32 by insertion first, with a typed array for scratch. The
 * engine's own sort of a typed array with a comparator copies it into two arrays of the heap,
 * which on a large ranking the garbage collector then copies and keeps.
 */
export function sortRows(rows: Int32Array, order: (a: number, b: number) => number): Int32Array {
  const n = rows.length;
  const RUN = 32;
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const x = rows[i]!;
      let j = i - 1;
      while (j >= lo && order(rows[j]!, x) > 0) {
        rows[j + 1] = rows[j]!;
        j--;
      }
      rows[j + 1] = x;
    }
  }
  if (n <= RUN) return rows;
  let from: Int32Array = rows;
  let to: Int32Array = new Int32Array(n);
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      // Already in order across the two runs: copied as it is.
      if (mid < hi && order(from[mid - 1]!, from[mid]!) <= 0) {
        to.set(from.subarray(lo, hi), lo);
        continue;
      }
      while (i < mid && j < hi) to[k++] = order(from[i]!, from[j]!) <= 0 ? from[i++]! : from[j++]!;
      while (i < mid) to[k++] = from[i++]!;
      while (j < hi) to[k++] = from[j++]!;
    }
    [from, to] = [to, from];
  }
  if (from !== rows) rows.set(from);
  return rows;
}

/**
 * Sorts row numbers in place by `group` (ascending), then `key` (ascending; -0 and 0 are equal),
 * then `tie` (a total order): what {@link sortRows} gives for that order, without a comparison
 * per step for the first two keys. The distinct keys are sorted by the engine (a typed array,
 * no comparator), each row counted into its key's place and then its group's (two stable
 * counting passes), and only runs of rows equal on both are sorted by `tie`.
 *
 * @param group a whole number from 0 to `group.length + 1` for each row.
 * @param key a number, not NaN, for each row.
 */
export function sortRowsByKeys(rows: Int32Array, group: Int32Array, key: Float64Array, tie: (a: number, b: number) => number): Int32Array {
  const n = rows.length;
  if (n < 2) return rows;
  const keys = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const k = key[rows[j]!]!;
    keys[j] = k === 0 ? 0 : k;
  }
  keys.sort();
  let distinct = 1;
  for (let j = 1; j < n; j++) if (keys[j] !== keys[distinct - 1]) keys[distinct++] = keys[j]!;
  // Each row's place among the distinct keys (a binary search), kept by position in `rows`.
  const place = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const k = key[rows[j]!]!;
    let lo = 0;
    let hi = distinct - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    place[j] = lo;
  }
  // By key, then (stable) by group: ordered by group, then key, the rows' order kept within.
  const byKey = new Int32Array(n);
  const byKeyPlace = new Int32Array(n);
  const groups = group.length + 2;
  const counts = new Int32Array(Math.max(distinct, groups) + 1);
  for (let j = 0; j < n; j++) counts[place[j]! + 1]!++;
  for (let c = 1; c <= distinct; c++) counts[c]! += counts[c - 1]!;
  for (let j = 0; j < n; j++) {
    const to = counts[place[j]!]!++;
    byKey[to] = rows[j]!;
    byKeyPlace[to] = place[j]!;
  }
  counts.fill(0);
  for (let j = 0; j < n; j++) counts[group[byKey[j]!]! + 1]!++;
  for (let c = 1; c <= groups; c++) counts[c]! += counts[c - 1]!;
  for (let j = 0; j < n; j++) {
    const to = counts[group[byKey[j]!]!]!++;
    rows[to] = byKey[j]!;
    place[to] = byKeyPlace[j]!;
  }
  // Runs equal on group and key, ordered by `tie`.
  for (let lo = 0; lo < n; ) {
    const g = group[rows[lo]!]!;
    let hi = lo + 1;
    while (hi < n && place[hi] === place[lo] && group[rows[hi]!] === g) hi++;
    if (hi - lo > 1) sortRows(rows.subarray(lo, hi), tie);
    lo = hi;
  }
  return rows;
}

/**
 * The `k` smallest of `items` under the total order `order`, sorted: a bounded max-heap of them
 * (its root the largest kept), so each further item costs one comparison unless it belongs in.
 */
function smallest<T>(items: Iterable<T>, k: number, order: (a: T, b: T) => number): T[] {
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
  const ms = parseTimestamp(text);
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
export function compareScores(experiments: ExperimentList, options: CompareScoresOptions): CompareScoresResult {
  const registry = options.registry ?? MetricRegistry.standard();
  if (options.max !== undefined && !(Number.isInteger(options.max) && options.max > 0)) {
    throw new UsageError("E_USAGE", `max must be a positive whole number, got ${String(options.max)}`, { field: "max", value: String(options.max) });
  }
  assertRankingOrder(options);
  let reportedCache: Set<string> | undefined;
  const reported = (): ReadonlySet<string> => {
    if (reportedCache === undefined) {
      reportedCache = new Set();
      for (let i = 0; i < experiments.length; i++) {
        const e = experiments.at(i)!;
        // Own names, enumerable or not: a store may answer qualified names too (ClearML's Title/variant).
        for (const k of Object.getOwnPropertyNames(e.metrics)) reportedCache.add(k);
        if (e.ambiguousMetrics !== undefined) for (const k of Object.keys(e.ambiguousMetrics)) reportedCache.add(k);
      }
    }
    return reportedCache;
  };
  // The rows ranked, by number: an experiment is asked of the list each time it is read, so a
  // list that makes them (a store's packed listing) never has them all at once.
  const { kept, selection } = selectRowsByStatus(experiments.length, (i) => experiments.at(i)!, options.statuses);
  const experiment = (i: number): Experiment => experiments.at(kept[i]!)!;
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
  assertUnambiguous(eachOf(kept.length, experiment), [
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
  // Each metric the ranking reads (sort metric, tie-breaks, objectives, gates), read once per
  // row into a column of `read` (NaN: missing), however many of them name it.
  const columnOf = new Map<string, number>();
  const column = (metric: string): number => {
    let c = columnOf.get(metric);
    if (c === undefined) columnOf.set(metric, (c = columnOf.size));
    return c;
  };
  const sortColumn = column(sortBy);
  const tieColumns = thenBy.map((t) => column(t.metric));
  const objectiveColumns = (pareto ?? []).map((o) => column(o.metric));
  const gateColumns = gates.map((g) => column(g.metric));
  const columns = [...columnOf.keys()];
  const columnAliases = columns.map(aliasesOf);
  const width = columns.length;

  const n = kept.length;
  const read = new Float64Array(n * width);
  const passed = new Uint8Array(n);
  /** The front of a passing row in a Pareto ranking (0 otherwise). */
  const front = new Int32Array(n);
  /** Parsed `created` (NaN: none, or not a date), read only once a tie on every metric key needs it. */
  const created = new Float64Array(n);
  const createdRead = new Uint8Array(n);
  let passedCount = 0;
  const metricOf = experiments.metricOf?.bind(experiments);
  for (let i = 0; i < n; i++) {
    const row = i * width;
    if (metricOf !== undefined) {
      const listed = kept[i]!;
      for (let c = 0; c < width; c++) read[row + c] = orNaN(listedValue(metricOf, listed, columns[c]!, columnAliases[c]!));
    } else {
      const metrics = experiment(i).metrics;
      for (let c = 0; c < width; c++) read[row + c] = orNaN(metricValue(metrics, columns[c]!, columnAliases[c]));
    }
    let ok = 1;
    for (let g = 0; g < gates.length; g++) {
      const actual = read[row + gateColumns[g]!]!;
      // A missing value (NaN) fails its gate.
      if (Number.isNaN(actual) || !compareOp(gates[g]!.op, actual, gates[g]!.value)) {
        ok = 0;
        break;
      }
    }
    passed[i] = ok;
    passedCount += ok;
  }
  const key = (i: number, c: number): number => read[i * width + c]!;

  let fronts = 0;
  let onFront = 0;
  // The objectives after the first (or all of them, when sortBy orders within a front), as tie-breakers.
  const laterObjectives: { index: number; ascending: boolean }[] = [];
  if (pareto !== null) {
    const passing: number[] = [];
    for (let i = 0; i < n; i++) if (passed[i] === 1) passing.push(i);
    // Minimisation form: a maximised objective negated, a missing value worse than any.
    const rows = passing.map((i) =>
      pareto.map((o, k) => {
        const v = key(i, objectiveColumns[k]!);
        return Number.isNaN(v) ? Infinity : o.direction === "max" ? -v : v;
      }),
    );
    const numbers = paretoFronts(rows);
    passing.forEach((i, j) => {
      const f = numbers[j]!;
      front[i] = f;
      if (f > fronts) fronts = f;
      if (f === 1) onFront++;
    });
    pareto.forEach((o, index) => {
      if (o.metric !== sortBy) laterObjectives.push({ index, ascending: o.direction === "min" });
    });
  }

  const createdOf = (i: number): number => {
    if (createdRead[i] === 0) {
      created[i] = experiments.createdTime === undefined ? orNaN(parseTime(experiment(i).created)) : experiments.createdTime(kept[i]!);
      createdRead[i] = 1;
    }
    return created[i]!;
  };
  // The order's first keys, in two typed arrays: the group (passing rows by front, then failing
  // ones) and the sort value as a number that sorts ascending (negated when descending; missing:
  // Infinity, after every value, as values are finite). A large sort counts rows into place by
  // these two ({@link sortRowsByKeys}) and compares only the rows equal on both, by `rest`.
  const group = new Int32Array(n);
  const primary = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    group[i] = passed[i] === 1 ? front[i]! : n + 1;
    const v = read[i * width + sortColumn]!;
    primary[i] = Number.isNaN(v) ? Infinity : ascending ? v : -v;
  }
  /** The order of rows equal on group and sort value: tie-breaks, later objectives, earlier `created`, id, input position. */
  const rest = (a: number, b: number): number => {
    let c: number;
    for (let t = 0; t < tieColumns.length; t++) {
      c = compareMissingLast(key(a, tieColumns[t]!), key(b, tieColumns[t]!), thenBy[t]!.ascending);
      if (c !== 0) return c;
    }
    if (passed[a] === 1) {
      for (const o of laterObjectives) {
        c = compareMissingLast(key(a, objectiveColumns[o.index]!), key(b, objectiveColumns[o.index]!), o.ascending);
        if (c !== 0) return c;
      }
    }
    c = compareMissingLast(createdOf(a), createdOf(b), true);
    if (c !== 0) return c;
    const ia = experiment(a).id;
    const ib = experiment(b).id;
    // Last, the input position: equal rows keep their order (as a stable sort would).
    return ia < ib ? -1 : ia > ib ? 1 : a - b;
  };
  const order = (a: number, b: number): number => {
    const ga = group[a]!;
    const gb = group[b]!;
    if (ga !== gb) return ga - gb;
    const ka = primary[a]!;
    const kb = primary[b]!;
    return ka < kb ? -1 : ka > kb ? 1 : rest(a, b);
  };

  // The rows returned: the first `max` of the order (passing ones only, with onlyPassing). The
  // order is total (the input position breaks the last tie), so selecting them first and sorting
  // only those gives the same rows as sorting everything, for far fewer comparisons when `max`
  // is small.
  // Row numbers in a typed array: nothing for the garbage collector to copy on a large ranking.
  const all = new Int32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) if (!options.onlyPassing || passed[i] === 1) all[m++] = i;
  const candidates = all.subarray(0, m);
  const shown: ArrayLike<number> = options.max !== undefined && options.max * 4 < candidates.length ? smallest(candidates, options.max, order) : sortRowsByKeys(candidates, group, primary, rest);

  const count = options.max === undefined ? shown.length : Math.min(options.max, shown.length);
  // Each row returned is made when asked for: a writer of many rows (rankedRows) makes one at a
  // time, so they need not all be in memory at once; `results` makes them all, once.
  const at = (j: number): RankedExperiment => {
    const i = shown[j]!;
    const ok = passed[i] === 1;
    return {
      // Passing rows come first, so a passing row's rank is its position.
      rank: ok ? (pareto === null ? j + 1 : front[i]!) : null,
      experiment: experiment(i),
      passed: ok,
      value: orNull(key(i, sortColumn)),
      objectives: pareto === null ? null : objectiveColumns.map((c) => orNull(key(i, c))),
      // Per-gate detail only for the rows returned: the ranking itself needs just pass or fail.
      gates: gates.map((g, k) => gateResult(g, orNull(key(i, gateColumns[k]!)))),
    };
  };
  let made: RankedExperiment[] | undefined;
  const result: CompareScoresResult = {
    sortBy,
    ascending,
    pareto,
    fronts,
    onFront,
    thenBy,
    gates,
    get results(): readonly RankedExperiment[] {
      if (made === undefined) {
        made = [];
        for (let j = 0; j < count; j++) made.push(at(j));
      }
      return made;
    },
    total: kept.length,
    passedCount,
    selection,
  };
  rowsOf.set(result, { length: count, at: (j) => (made !== undefined ? made[j] : j >= 0 && j < count ? at(j) : undefined) });
  return result;
}

/** The results of a ranking, one at a time: as an array has them (`length`, `at`). */
export interface RankedRows {
  readonly length: number;
  /** Result `i` (0-based; `undefined` past the end). */
  at(i: number): RankedExperiment | undefined;
}

const rowsOf = new WeakMap<CompareScoresResult, RankedRows>();

/**
 * The results of `result` one at a time: for a result of {@link compareScores}, each made when
 * asked for (afresh, unless `results` was read), so that writing many of them does not hold them
 * all in memory; for any other, its `results`.
 */
export function rankedRows(result: CompareScoresResult): RankedRows {
  return rowsOf.get(result) ?? result.results;
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
