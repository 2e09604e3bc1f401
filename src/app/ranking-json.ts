import type { RankedExperimentJson, RankingJson, RankingSelectionJson } from "../contracts/ranking.js";
import type { CompareScoresResult, RankedExperiment } from "../core/ranking/compare-scores.js";
import { rankedRows } from "../core/ranking/compare-scores.js";
import type { ChunkSink } from "../util/chunk-writer.js";
import { ChunkWriter } from "../util/chunk-writer.js";

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

/** `JSON.stringify` of a number or null, as a field's value (a non-finite number is `null`). */
function numberText(v: number | null): string {
  // JSON.stringify, not String(): String() keeps each text in the engine's number cache, which
  // the garbage collector then copies and keeps, row after row.
  return v === null ? "null" : JSON.stringify(v);
}

/** The text of a gate result up to its `actual`, which is the same on every row: made once per gate. */
class GatePrefixes {
  private readonly cache: { metric: string; op: string; threshold: number; text: string }[] = [];

  of(g: RankedExperiment["gates"][number], i: number): string {
    const c = this.cache[i];
    if (c !== undefined && c.metric === g.metric && c.op === g.op && Object.is(c.threshold, g.threshold)) return c.text;
    const text = `{"metric":${JSON.stringify(g.metric)},"op":${JSON.stringify(g.op)},"threshold":${numberText(g.threshold)},"actual":`;
    this.cache[i] = { metric: g.metric, op: g.op, threshold: g.threshold, text };
    return text;
  }
}

/**
 * `JSON.stringify(resultJson(r))`, byte for byte, without building the row's object first: the
 * keys in the contract's order, the strings and the metrics object through `JSON.stringify`.
 */
function resultText(r: RankedExperiment, prefixes: GatePrefixes, lead = ""): string {
  const e = r.experiment;
  let gates = "";
  for (let i = 0; i < r.gates.length; i++) {
    const g = r.gates[i]!;
    if (i > 0) gates += ",";
    gates += `${prefixes.of(g, i)}${numberText(g.actual)},"passed":${g.passed ? "true" : "false"},"reason":${g.reason === null ? "null" : JSON.stringify(g.reason)}}`;
  }
  // Each field read once: an experiment of a packed listing makes it at each read.
  const name = e.name;
  return (
    `${lead}{"rank":${numberText(r.rank)},"id":${JSON.stringify(e.id)},"name":${name === null ? "null" : JSON.stringify(name)},"status":${JSON.stringify(e.status)},` +
    `"passed":${r.passed ? "true" : "false"},"value":${numberText(r.value)},"metrics":${JSON.stringify(e.metrics)},"gates":[${gates}]}`
  );
}

/**
 * Writes `JSON.stringify(rankingJson(result))` and a newline to `sink` in chunks of whole rows of
 * about `chunkBytes` bytes (default 64 KiB), waiting when the sink asks to: a large ranking never
 * needs its whole text in memory at once, nor its rows all as objects.
 */
export async function writeRankingJson(result: CompareScoresResult, sink: ChunkSink, chunkBytes = 64 * 1024): Promise<void> {
  const out = new ChunkWriter(sink, chunkBytes);
  const head = JSON.stringify(headerJson(result));
  out.put(`${head.slice(0, -1)},"results":[`);
  // One row at a time: a ranking of every experiment is never all in memory as objects.
  const rows = rankedRows(result);
  const prefixes = new GatePrefixes();
  for (let i = 0; i < rows.length; i++) {
    out.put(resultText(rows.at(i)!, prefixes, i > 0 ? "," : ""));
    const wait = out.waiting;
    if (wait !== undefined) await wait;
  }
  out.put("]}\n");
  await out.end();
}
