import { UsageError } from "../errors.js";
import type { Experiment } from "../experiment.js";
import { assertUnambiguous } from "../experiment.js";
import type { Gate, GateResult } from "../gates/gate.js";
import { evaluateGates, gatePredicate, metricValue, parseGate, thresholdGates } from "../gates/gate.js";
import { declareMetricHint, MetricRegistry } from "../metrics/registry.js";
import { didYouMean, nearest } from "../suggest.js";
import type { StatusSelection } from "./selection.js";
import { selectByStatus } from "./selection.js";

/** Options of {@link compareScores}. */
export interface CompareScoresOptions {
  /** The metric to rank by (a name or a registered alias). */
  sortBy: string;
  /**
   * `true` ranks the lowest value first, `false` the highest. Default: the metric's registered
   * direction, best first; unregistered metrics rank descending.
   */
  ascending?: boolean;
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
  /** 1-based rank among those passing every gate; `null` for those failing one. */
  readonly rank: number | null;
  readonly experiment: Experiment;
  readonly passed: boolean;
  /** The sort metric's value, or `null` when missing. */
  readonly value: number | null;
  readonly gates: readonly GateResult[];
}

/** The outcome of {@link compareScores}. */
export interface CompareScoresResult {
  /** The canonical sort metric. */
  readonly sortBy: string;
  readonly ascending: boolean;
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
  /** Parsed `created`, computed only when a tie needs it (`undefined`: not yet). */
  createdMs: number | null | undefined;
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

function parseTime(text: string | null): number | null {
  if (text === null) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * Ranks experiments by a metric and gates them. Pure: it reads nothing and prints nothing.
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
 * @throws {UsageError} `E_GATE_SYNTAX` for a malformed gate, `E_UNKNOWN_METRIC` for a sort,
 *   tie-break or gate metric that is neither registered nor reported by any experiment given,
 *   `E_METRIC_AMBIGUOUS` for one that an experiment reports under two titles,
 *   `E_USAGE` for a `max` that is not a positive integer or an empty `statuses` list.
 */
export function compareScores(experiments: readonly Experiment[], options: CompareScoresOptions): CompareScoresResult {
  const registry = options.registry ?? MetricRegistry.standard();
  if (options.max !== undefined && !(Number.isInteger(options.max) && options.max > 0)) {
    throw new UsageError("E_USAGE", `max must be a positive whole number, got ${String(options.max)}`, { field: "max", value: String(options.max) });
  }
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
  const sortBy = resolveMetricName(options.sortBy, registry, reported, "sortBy");
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

  const ascending = options.ascending ?? registry.definitionOf(sortBy)?.direction === "lower";
  const aliasesOf = (m: string): readonly string[] => registry.get(m)?.aliases ?? [];
  const groupOf = (m: string): string | undefined => registry.get(m)?.group;
  // Only the ranked experiments: a left-out run's ambiguous name blocks nothing.
  assertUnambiguous(kept, [
    { name: sortBy, aliases: aliasesOf(sortBy), field: "sortBy", group: groupOf(sortBy) },
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

  const passes = gatePredicate(gates, { registry });
  const keyed: Keyed[] = kept.map((experiment) => ({
    experiment,
    passed: passes(experiment.metrics),
    value: metricValue(experiment.metrics, sortBy, sortAliases),
    tieValues: thenBy.length === 0 ? null : thenBy.map((t, i) => metricValue(experiment.metrics, t.metric, thenAliases[i])),
    createdMs: undefined,
  }));
  const createdOf = (k: Keyed): number | null => {
    if (k.createdMs === undefined) k.createdMs = parseTime(k.experiment.created);
    return k.createdMs;
  };

  keyed.sort((a, b) => {
    if (a.passed !== b.passed) return a.passed ? -1 : 1;
    let c = compareNullable(a.value, b.value, ascending);
    if (c !== 0) return c;
    for (let i = 0; i < thenBy.length; i++) {
      c = compareNullable(a.tieValues![i]!, b.tieValues![i]!, thenBy[i]!.ascending);
      if (c !== 0) return c;
    }
    c = compareNullable(createdOf(a), createdOf(b), true);
    if (c !== 0) return c;
    return a.experiment.id < b.experiment.id ? -1 : a.experiment.id > b.experiment.id ? 1 : 0;
  });

  let rank = 0;
  let passedCount = 0;
  const results: RankedExperiment[] = [];
  for (const k of keyed) {
    if (k.passed) passedCount++;
    else if (options.onlyPassing) continue;
    if (options.max !== undefined && results.length >= options.max) {
      if (k.passed) continue;
      else break;
    }
    // Per-gate detail only for the rows returned: the ranking itself needs just pass or fail.
    const gateResults = evaluateGates(k.experiment.metrics, gates, { registry }).results;
    results.push({ rank: k.passed ? ++rank : null, experiment: k.experiment, passed: k.passed, value: k.value, gates: gateResults });
  }
  return { sortBy, ascending, thenBy, gates, results, total: kept.length, passedCount, selection };
}
