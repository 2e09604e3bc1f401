import { UsageError } from "../core/errors.js";
import type { Experiment, ExperimentFilter } from "../core/experiment.js";
import { LIFECYCLE_STATES } from "../core/experiment.js";
import type { Gate } from "../core/gates/gate.js";
import { parseGate } from "../core/gates/gate.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
import { declareMetricHint } from "../core/metrics/registry.js";
import type { CompareScoresResult, ExperimentList } from "../core/ranking/compare-scores.js";
import { assertRankingOrder, compareScores, eachOf, rankingMetricNames } from "../core/ranking/compare-scores.js";
import type { ParetoObjective } from "../core/ranking/pareto.js";
import { parseParetoSpec } from "../core/ranking/pareto.js";
import { didYouMean } from "../core/suggest.js";
import type { Store } from "../stores/store.js";

/**
 * Checks a status selection: each status must be a lifecycle state or the status of some selected
 * experiment (records of the earlier tool may carry others), or one the store knows.
 *
 * @param selection the experiments selected by the other criteria (their statuses are accepted).
 * @param known statuses the store knows besides the lifecycle states (ClearML's).
 * @throws {UsageError} `E_UNKNOWN_STATUS` (exit 2, field `statuses`) with a did-you-mean suggestion.
 */
export function checkStatuses(statuses: readonly string[], selection: Iterable<{ readonly status: string; readonly backendStatus?: string }>, known: readonly string[] = []): void {
  if (statuses.length === 0) return;
  const seen = new Set<string>(known);
  for (const e of selection) {
    seen.add(e.status);
    if (e.backendStatus !== undefined) seen.add(e.backendStatus);
  }
  for (const s of statuses) {
    if ((LIFECYCLE_STATES as readonly string[]).includes(s) || seen.has(s)) continue;
    throw new UsageError("E_UNKNOWN_STATUS", `unknown status '${s}' in statuses: it is not a lifecycle state and no selected experiment has it.${didYouMean(s, [...LIFECYCLE_STATES, ...seen])}`, {
      hint: `lifecycle states: ${LIFECYCLE_STATES.join(", ")}`,
      field: "statuses",
      value: s,
    });
  }
}

/** A ranking asked of a store: what to select, how to order, what to gate. */
export interface RankRequest {
  /** Project, tags, archived, subprojects: applied by the store. */
  readonly filter: Omit<ExperimentFilter, "statuses">;
  /** The states to rank (default: completed); the others are counted as left out. */
  readonly statuses: readonly string[];
  /** The metric to rank by; required unless `pareto` is given, with which it orders each front. */
  readonly sortBy?: string;
  /** Lowest `sortBy` first; default: the metric's registered direction. Only with `sortBy`. */
  readonly ascending?: boolean;
  /**
   * Rank by Pareto fronts of these objectives: as written (`pde_mean:min,train_time_min:min`,
   * read by {@link parseParetoSpec}) or parsed. See {@link compareScores}.
   */
  readonly pareto?: string | readonly ParetoObjective[];
  readonly thenBy?: readonly string[];
  /** Gates as written, `metric:op:value`. */
  readonly gates: readonly string[];
  readonly useThresholds?: boolean;
  readonly onlyPassing?: boolean;
  readonly max?: number;
}

/**
 * What a ranking reads of a store: its listing, where it is, and the statuses it knows. A
 * {@link Store} is one; so is `{ location, list: async () => [] }`, the empty registry of a
 * fresh home that has no file yet.
 */
export type RankedStore = Pick<Store, "location" | "list" | "statuses" | "assertStatuses" | "rankingListing">;

/**
 * The largest `max` for which a ranking lists only what it reads of each experiment (when the
 * store can) and reads the rows shown again whole. Each row shown costs one more read and parse
 * of its line (about 3 µs once the listing has brought the file into the page cache), so up to
 * this many rows add tens of milliseconds; for more, the listing holds every field, packed.
 */
export const LEAN_RANKING_MAX_ROWS = 10_000;

/** What a ranking found. */
export interface Ranking {
  readonly result: CompareScoresResult;
  /** Experiments the store listed (every status), before the status selection. */
  readonly listed: number;
  /** Where the store is. */
  readonly location: string;
  /** The verdict: at least one experiment passes (exit 0), or none does (exit 1). */
  readonly passed: boolean;
}

/**
 * Ranks a store's experiments by a metric, or by Pareto fronts of several, and gates them: the
 * one use case behind `compare-scores` on any backend. Gates, objectives and statuses are checked
 * before anything is read, so a typo costs no listing; every status is listed, so the ranking can
 * count what its status selection leaves out.
 *
 * @throws {UsageError} as {@link compareScores} does (`E_PARETO_SYNTAX` for a malformed
 *   `pareto` text among them), and `E_METRIC_DIRECTION` for a `sortBy` that is a custom metric
 *   (reported, not registered) without `ascending`: which end is best is not guessed.
 */
export async function rankExperiments(store: RankedStore, request: RankRequest, registry: MetricRegistry, hooks: { onListed?: () => void } = {}): Promise<Ranking> {
  const gates = request.gates.map(parseGate);
  const pareto = typeof request.pareto === "string" ? parseParetoSpec(request.pareto) : request.pareto;
  assertRankingOrder({ sortBy: request.sortBy, ascending: request.ascending, pareto });
  store.assertStatuses?.(request.statuses);
  const filter = { ...request.filter, statuses: undefined };
  let listed = false;
  const onListed = (): void => {
    if (!listed) hooks.onListed?.();
    listed = true;
  };
  // A store that can lists lean: of each experiment, when few rows are shown and every metric
  // read is registered, only what the ranking reads, then the rows shown are read whole; else
  // every field, packed (`"all"`). The result is the same as from the whole listing (tested).
  const metrics =
    store.rankingListing === undefined
      ? null
      : request.max !== undefined && request.max <= LEAN_RANKING_MAX_ROWS
        ? (rankingMetricNames({ sortBy: request.sortBy, thenBy: request.thenBy, pareto, gates, useThresholds: request.useThresholds, registry }) ?? "all")
        : "all";
  if (metrics !== null) {
    const listing = store.rankingListing!(filter, metrics);
    try {
      onListed();
      const result = rankListed(listing.experiments, request, registry, gates, pareto, store);
      const ranking = { result, listed: listing.experiments.length, location: store.location, passed: result.passedCount > 0 };
      // Listed with every field, the experiments are whole already.
      if (metrics === "all") return ranking;
      const whole = listing.whole(result.results.map((r) => r.experiment));
      if (whole !== null) return { ...ranking, result: { ...result, results: result.results.map((r, i) => ({ ...r, experiment: whole[i]! })) } };
      // The store changed under the listing (a file rewritten in place): rank its whole listing.
    } finally {
      listing.close();
    }
  }
  const experiments = await store.list(filter);
  onListed();
  const result = rankListed(experiments, request, registry, gates, pareto, store);
  return { result, listed: experiments.length, location: store.location, passed: result.passedCount > 0 };
}

/** Whether some experiment of a list passes `test`. */
function someOf(list: ExperimentList, test: (e: Experiment) => boolean): boolean {
  for (let i = 0; i < list.length; i++) if (test(list.at(i)!)) return true;
  return false;
}

/** The checks and the ranking of {@link rankExperiments}, on the experiments listed. */
function rankListed(
  experiments: ExperimentList,
  request: RankRequest,
  registry: MetricRegistry,
  gates: readonly Gate[],
  pareto: readonly ParetoObjective[] | undefined,
  store: RankedStore,
): CompareScoresResult {
  checkStatuses(request.statuses, eachOf(experiments.length, (i) => experiments.at(i)!), store.statuses);
  // A custom metric (reported, not registered) has no direction: which end is best is not
  // guessed. A name nobody reports is left to the ranking's own "unknown metric".
  const { sortBy } = request;
  if (sortBy !== undefined && request.ascending === undefined && registry.definitionOf(sortBy) === undefined && someOf(experiments, (e) => Object.hasOwn(e.metrics, sortBy))) {
    throw new UsageError("E_METRIC_DIRECTION", `metric '${sortBy}' in sortBy has no direction: it is a custom metric, not a registered one, so which end is best is not known`, {
      hint: `rank it with the ascending (lowest first) or descending option, or ${declareMetricHint(sortBy)}`,
      field: "sortBy",
      value: sortBy,
    });
  }
  return compareScores(experiments, {
    sortBy,
    ascending: request.ascending,
    pareto,
    thenBy: request.thenBy,
    gates,
    useThresholds: request.useThresholds,
    onlyPassing: request.onlyPassing,
    max: request.max,
    registry,
    statuses: request.statuses.length > 0 ? request.statuses : undefined,
  });
}
