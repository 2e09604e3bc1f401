import type { RankedExperimentJson, RankingJson, RankingSelectionJson } from "../contracts/ranking.js";
import type { CompareScoresResult, RankedExperiment } from "../core/ranking/compare-scores.js";

// The JSON of a ranking (RankingSchema in src/contracts): what compare-scores --json prints, what
// the HTML report embeds and what the MCP server returns. Built here once, for all of them.

function resultJson(r: RankedExperiment): RankedExperimentJson {
  return {
    rank: r.rank,
    id: r.experiment.id,
    name: r.experiment.name,
    status: r.experiment.status,
    passed: r.passed,
    value: r.value,
    metrics: r.experiment.metrics,
    gates: r.gates.map((g) => ({
      metric: g.metric,
      op: g.op,
      threshold: g.threshold,
      actual: g.actual,
      passed: g.passed,
      reason: g.reason,
    })),
  };
}

function selectionJson(result: CompareScoresResult): RankingSelectionJson {
  const s = result.selection;
  return {
    statuses: s.statuses === "all" ? null : [...s.statuses],
    default: s.isDefault,
    ranked: result.total,
    excluded: s.excluded,
    excluded_by_status: { ...s.excludedByStatus },
  };
}

function headerJson(result: CompareScoresResult): Omit<RankingJson, "results"> {
  return {
    sort_by: result.sortBy,
    ascending: result.ascending,
    gates: result.gates.map((g) => ({ metric: g.metric, op: g.op, value: g.value })),
    selection: selectionJson(result),
    pareto: result.pareto === null ? null : result.pareto.map((o) => ({ metric: o.metric, direction: o.direction })),
  };
}

/** A ranking as its JSON contract ({@link RankingJson}) has it. */
export function rankingJson(result: CompareScoresResult): RankingJson {
  return { ...headerJson(result), results: result.results.map(resultJson) };
}

/**
 * Writes `JSON.stringify(rankingJson(result))` and a newline, in batches of rows, so a
 * large ranking never needs its whole text in memory at once.
 */
export function writeRankingJson(result: CompareScoresResult, write: (text: string) => unknown, batch = 1000): void {
  const head = JSON.stringify(headerJson(result));
  write(`${head.slice(0, -1)},"results":[`);
  for (let i = 0; i < result.results.length; i += batch) {
    const rows = result.results.slice(i, i + batch).map((r) => JSON.stringify(resultJson(r)));
    write((i === 0 ? "" : ",") + rows.join(","));
  }
  write("]}\n");
}
