import { z } from "zod";
import { count, gateOp, list, metricValues, position, textOrNull } from "./primitives.js";

/** A gate as applied: `metric op value` (`{"metric": "pde_mean", "op": "lt", "value": 18.09}`). */
export const GateSchema = z.strictObject({
  /** The canonical metric name (an alias given on the command line is resolved). */
  metric: z.string().min(1),
  op: gateOp,
  value: z.number(),
});
export type GateJson = z.infer<typeof GateSchema>;

/**
 * One gate on one experiment. `actual` is `null` exactly when the value is missing (absent, null
 * or non-finite), and `reason` is `null` exactly when the gate passed.
 */
export const GateResultSchema = z
  .strictObject({
    metric: z.string().min(1),
    op: gateOp,
    /** The gate's bound. */
    threshold: z.number(),
    actual: z.number().nullable(),
    passed: z.boolean(),
    reason: z.enum(["missing", "not_met"]).nullable(),
  })
  .refine((g) => (g.reason === null) === g.passed, { message: "reason is null exactly when the gate passed" })
  .refine((g) => (g.actual === null) === (g.reason === "missing"), { message: "actual is null exactly when the reason is missing" });
export type GateResultJson = z.infer<typeof GateResultSchema>;

/**
 * One ranked experiment: `rank` 1..k when it passes every gate (in a Pareto ranking, its front:
 * 1 for the Pareto front, shared by many), `null` when it fails one.
 */
export const RankedExperimentSchema = z
  .strictObject({
    rank: position.nullable(),
    id: z.string().min(1),
    name: textOrNull,
    status: z.string(),
    passed: z.boolean(),
    /** The sort metric's value, or `null` when missing. */
    value: z.number().nullable(),
    metrics: metricValues,
    gates: list(GateResultSchema),
  })
  .refine((r) => (r.rank !== null) === r.passed, { message: "rank is set exactly when the experiment passed" })
  .refine((r) => r.passed === r.gates.every((g) => g.passed), { message: "passed is whether every gate passed" });
export type RankedExperimentJson = z.infer<typeof RankedExperimentSchema>;

/** Which statuses were ranked, and what the status selection left out. */
export const RankingSelectionSchema = z.strictObject({
  /** `--status`, else `["completed"]`; `null` for every status (a library ranking with `statuses: "all"`). */
  statuses: z.array(z.string()).min(1).readonly().nullable(),
  /** `true` when `statuses` is the default because `--status` was not given. */
  default: z.boolean(),
  /** How many experiments were ranked (before `--only-passing` and `--max`). */
  ranked: count,
  /** How many the other filters selected but the status selection left out. */
  excluded: count,
  /** Those left out, by lifecycle state; `{}` when none. */
  excluded_by_status: z.record(z.string(), position),
});
export type RankingSelectionJson = z.infer<typeof RankingSelectionSchema>;

/** One objective of a Pareto ranking: `{"metric": "pde_mean", "direction": "min"}`. */
export const ParetoObjectiveSchema = z.strictObject({
  /** The canonical metric name (an alias given on the command line is resolved). */
  metric: z.string().min(1),
  /** `min`: the lowest value is best; `max`: the highest. */
  direction: z.enum(["max", "min"]),
});
export type ParetoObjectiveJson = z.infer<typeof ParetoObjectiveSchema>;

/** Ranks 1, 2, 3, ... for the passing results (by `--sort-by`), then `null` for the failing ones. */
function rankedInTurn(results: readonly { rank: number | null; passed: boolean }[]): boolean {
  const k = results.filter((p) => p.passed).length;
  return results.every((x, i) => x.rank === (i < k ? i + 1 : null));
}

/**
 * Fronts for the passing results (a Pareto ranking): first, from 1, never decreasing, each at
 * most one more than the one before; then `null` for the failing ones. A `--max` cut keeps a
 * prefix, so it still holds.
 */
function frontedInTurn(results: readonly { rank: number | null; passed: boolean }[]): boolean {
  const k = results.filter((p) => p.passed).length;
  return results.every((x, i) => {
    if (i >= k) return x.rank === null;
    const before = i === 0 ? 0 : results[i - 1]!.rank;
    return x.rank !== null && before !== null && (x.rank === before || x.rank === before + 1);
  });
}

/** `compare-scores --json` and `clearml compare-scores --json`: one ranking. */
export const RankingSchema = z
  .strictObject({
    /** The sort metric; in a Pareto ranking without `--sort-by`, the first objective's. */
    sort_by: z.string().min(1),
    ascending: z.boolean(),
    /** Every gate applied: the `--gate` ones, then those from `--use-thresholds`. */
    gates: list(GateSchema),
    selection: RankingSelectionSchema,
    /** The objectives of `--pareto` (two or more, distinct metrics), or `null` for a ranking by `--sort-by`. */
    pareto: z.array(ParetoObjectiveSchema).min(2).readonly().nullable(),
    /** Ordered: passing experiments first, by rank (front); cut by `--only-passing` and `--max`. */
    results: list(RankedExperimentSchema),
  })
  .refine((r) => r.results.every((x) => x.gates.length === r.gates.length), { message: "every result has one gate result per gate" })
  .refine((r) => r.pareto !== null || rankedInTurn(r.results), {
    message: "passing results come first, ranked 1, 2, 3, ...; then the failing ones",
  })
  .refine((r) => r.pareto === null || frontedInTurn(r.results), {
    message: "in a Pareto ranking, passing results come first, by front from 1, each front the same as the one before or the next; then the failing ones",
  })
  .refine((r) => r.pareto === null || new Set(r.pareto.map((o) => o.metric)).size === r.pareto.length, { message: "the objectives name distinct metrics" })
  .refine((r) => r.selection.excluded === Object.values(r.selection.excluded_by_status).reduce((a, b) => a + b, 0), {
    message: "excluded is the sum of excluded_by_status",
  });
export type RankingJson = z.infer<typeof RankingSchema>;
