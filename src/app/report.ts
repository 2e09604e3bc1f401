import type { ReportDataJson, ReportGateCountJson, ReportMetricJson } from "../contracts/report.js";
import { UsageError } from "../core/errors.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
import { resolveMetricName } from "../core/ranking/compare-scores.js";
import type { CompareScoresResult } from "../core/ranking/compare-scores.js";
import type { Store } from "../stores/store.js";
import type { RankedStore, Ranking, RankRequest } from "./rank.js";
import { rankExperiments } from "./rank.js";
import { rankingJson } from "./ranking-json.js";
import { plural } from "../core/number-text.js";

/** Rows whose step history a report reads, unless asked otherwise. */
export const DEFAULT_HISTORY_RUNS = 20;
/** Most rows whose step history a report reads (each costs the page up to 2,000 points). */
export const MAX_HISTORY_RUNS = 200;
/**
 * Most rows a report's page holds: a browser parses the whole page at once, and a page of
 * 100,000 rows is about 55 MB. A larger ranking shows its first rows, and says so.
 */
export const MAX_REPORT_ROWS = 100_000;
/** Axes of the parallel-coordinates plot when the ranking names fewer than 3 metrics. */
const DEFAULT_AXES = 5;

/** What a report shows besides the ranking: its plots, and how much history it reads. */
export interface ReportRequest extends RankRequest {
  /** The scatter plot's x metric (default: the sort metric, or the first Pareto objective). */
  readonly x?: string;
  /** Its y metric (default: the first gated metric other than x, or the second objective). */
  readonly y?: string;
  /** The parallel-coordinates axes (default: the metrics the ranking names). */
  readonly axes?: readonly string[];
  /** How many of the top rows' step history to read (default {@link DEFAULT_HISTORY_RUNS}). */
  readonly historyRuns?: number;
  /** The page's title (default: from the project or the registry). */
  readonly title?: string;
  /** Most rows the page holds (default {@link MAX_REPORT_ROWS}); the first rows are kept. */
  readonly maxRows?: number;
}

/** Where the report's experiments come from, and how it was made. */
export interface ReportContext {
  readonly kind: "local" | "clearml";
  readonly now: Date;
  readonly version: string;
  /** The command that made it, shown on the page so it can be made again; `null`: none. */
  readonly command: string | null;
}

/** A store a report reads: a ranked store, and its histories when it keeps them. */
export type ReportStore = RankedStore & Partial<Pick<Store, "histories">>;

/** A report's data, and the ranking it shows (for the caller's verdict). */
export interface Report {
  readonly data: ReportDataJson;
  readonly ranking: Ranking;
  /** Rows the ranking had beyond what the page holds (left out; 0 when none). */
  readonly cut: number;
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}

/** The metrics a ranking names: sort, tie-breakers, Pareto objectives, gates, in that order. */
function rankingMetrics(result: CompareScoresResult): string[] {
  const pareto = result.pareto ?? [];
  return unique([result.sortBy, ...result.thenBy.map((t) => t.metric), ...pareto.map((p) => p.metric), ...result.gates.map((g) => g.metric)]);
}

/** Every metric the rows report (own names, in first-seen order). */
function reportedBy(result: CompareScoresResult): Set<string> {
  const seen = new Set<string>();
  for (const r of result.results) for (const k of Object.keys(r.experiment.metrics)) seen.add(k);
  return seen;
}

function definitionJson(name: string, registry: MetricRegistry): ReportMetricJson {
  const def = registry.definitionOf(name);
  return {
    name,
    direction: def?.direction ?? null,
    threshold: def?.threshold ?? null,
    unit: def?.unit ?? null,
    description: def === undefined || def.description === "" ? null : def.description,
  };
}

/** How many rows fail each gate, and how many of those miss the metric. */
function gateCounts(result: CompareScoresResult): ReportGateCountJson[] {
  return result.gates.map((gate, i) => {
    let failed = 0;
    let missing = 0;
    for (const r of result.results) {
      const g = r.gates[i]!;
      if (g.passed) continue;
      failed++;
      if (g.reason === "missing") missing++;
    }
    return { metric: gate.metric, op: gate.op, value: gate.value, failed, missing };
  });
}

/** What was left out and why, one sentence each (no command-line flags: the page adds those). */
function notesOf(ranking: Ranking, request: ReportRequest, cut: number): string[] {
  const { result } = ranking;
  const notes: string[] = [];
  const sel = result.selection;
  if (sel.excluded > 0 && sel.statuses !== "all") {
    const counts = Object.entries(sel.excludedByStatus)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ");
    notes.push(`${plural(sel.excluded, "experiment")} not ranked for ${sel.excluded === 1 ? "its" : "their"} status (${counts}); ranked: ${sel.statuses.join(", ")}.`);
  }
  const failing = result.total - result.passedCount;
  if (request.onlyPassing === true && failing > 0) notes.push(`${plural(failing, "experiment")} failing a gate left out (only the passing ones asked for).`);
  const wouldShow = request.onlyPassing === true ? result.passedCount : result.total;
  if (cut > 0) notes.push(`Showing the first ${result.results.length.toLocaleString("en-US")} of ${wouldShow.toLocaleString("en-US")}: a page holds at most ${(request.maxRows ?? MAX_REPORT_ROWS).toLocaleString("en-US")} rows (a maximum or only the passing ones choose fewer).`);
  else if (result.results.length < wouldShow) notes.push(`Showing the first ${result.results.length} of ${wouldShow} (a maximum was asked for).`);
  if (ranking.listed === 0) notes.push("No experiment matches the selection.");
  return notes;
}

/**
 * Makes the data of an HTML report: the same ranking as `compare-scores` (through
 * {@link rankExperiments}, so every selection, ranking and gate option means the same), the metrics
 * its plots show, and the step history of its top rows where the store keeps one.
 *
 * @throws {UsageError} what the ranking throws; `E_UNKNOWN_METRIC` for an x, y or axis metric that
 *   is neither registered nor reported by a ranked experiment; `E_USAGE` for a history count that
 *   is not a whole number from 0 to {@link MAX_HISTORY_RUNS}, or fewer than 2 axes.
 * @throws {BackendError} when the store cannot be read.
 */
export async function buildReport(store: ReportStore, request: ReportRequest, registry: MetricRegistry, context: ReportContext, hooks: { onListed?: () => void } = {}): Promise<Report> {
  const historyRuns = request.historyRuns ?? DEFAULT_HISTORY_RUNS;
  if (!Number.isInteger(historyRuns) || historyRuns < 0 || historyRuns > MAX_HISTORY_RUNS) {
    throw new UsageError("E_USAGE", `the history count must be a whole number from 0 to ${MAX_HISTORY_RUNS}, got ${String(historyRuns)}`, { field: "historyRuns", value: String(historyRuns) });
  }
  if (request.maxRows !== undefined && !(Number.isInteger(request.maxRows) && request.maxRows > 0)) {
    throw new UsageError("E_USAGE", `the most rows of a report must be a positive whole number, got ${String(request.maxRows)}`, { field: "maxRows", value: String(request.maxRows) });
  }
  if (request.axes !== undefined && unique(request.axes).length < 2) {
    throw new UsageError("E_USAGE", "a parallel-coordinates plot needs at least 2 distinct axes", { field: "axes", value: request.axes.join(",") });
  }
  const ranked = await rankExperiments(store, request, registry, hooks);
  const maxRows = request.maxRows ?? MAX_REPORT_ROWS;
  const cut = Math.max(0, ranked.result.results.length - maxRows);
  // The first rows are a ranking of their own: passing ones first, ranked as before.
  const ranking: Ranking = cut === 0 ? ranked : { ...ranked, result: { ...ranked.result, results: ranked.result.results.slice(0, maxRows) } };
  const { result } = ranking;
  const reported = reportedBy(result);
  const resolve = (name: string, field: string): string => resolveMetricName(name, registry, () => reported, field);

  const named = rankingMetrics(result);
  const x = request.x === undefined ? named[0]! : resolve(request.x, "x");
  const pareto = result.pareto ?? [];
  const yDefault = pareto.length >= 2 && x === pareto[0]!.metric ? pareto[1]!.metric : (named.find((m) => m !== x) ?? [...reported].find((m) => m !== x && registry.definitionOf(m) !== undefined) ?? [...reported].find((m) => m !== x) ?? x);
  const y = request.y === undefined ? yDefault : resolve(request.y, "y");
  let axes: string[];
  if (request.axes !== undefined) axes = unique(request.axes.map((a) => resolve(a, "axes")));
  else {
    axes = unique([...named, x, y]);
    // Too few for the plot to say much: add registered metrics the rows report, in registry order.
    if (axes.length < 3) for (const def of registry.list()) if (axes.length < DEFAULT_AXES && reported.has(def.name) && !axes.includes(def.name)) axes.push(def.name);
  }
  const metrics = unique([result.sortBy, ...axes, x, y, ...named]).map((m) => definitionJson(m, registry));

  const top = result.results.slice(0, historyRuns).map((r) => r.experiment.id);
  // Entries, then fromEntries: own properties, so a run named `__proto__` is a run, not a prototype.
  const entries: [string, Record<string, (readonly [number, number])[]>][] = [];
  let note: string | null = null;
  if (store.histories === undefined) note = `Step history is not read from ${context.kind === "clearml" ? "ClearML" : "this store"} by the report.`;
  else if (top.length > 0) {
    const found = await store.histories(top);
    for (const id of top) {
      const h = found.get(id);
      if (h === undefined) continue;
      entries.push([id, Object.fromEntries(Object.entries(h).map(([m, v]) => [m, v.steps.map((p) => [p[0], p[1]] as const)]))]);
    }
    const keeps = context.kind === "clearml" ? "a ClearML task has one when it reports scalars over its iterations" : "the local runner keeps one while a run reports metrics";
    if (entries.length === 0) note = `None of the top ${plural(top.length, "run")} recorded a step history (${keeps}).`;
  }

  const series = Object.fromEntries(entries);
  const unfinished = result.results.filter((r) => r.experiment.status !== "completed").length;
  const data: ReportDataJson = {
    format: "expflow-report/1",
    title: request.title ?? `expflow report: ${request.filter.project ?? store.location.split(/[\\/]/).pop() ?? store.location}`,
    generated_at: context.now.toISOString(),
    expflow_version: context.version,
    command: context.command,
    source: { kind: context.kind, location: store.location, project: request.filter.project ?? null },
    ranking: rankingJson(result),
    metrics,
    axes,
    scatter: { x, y },
    history: { runs: top.length, series, note },
    summary: {
      listed: ranking.listed,
      ranked: result.total,
      passed: result.passedCount,
      failed: result.total - result.passedCount,
      shown: result.results.length,
      unfinished,
      gates: gateCounts(result),
      notes: notesOf(ranking, request, cut),
    },
  };
  return { data, ranking, cut };
}
