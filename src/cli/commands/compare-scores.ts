import { existsSync } from "node:fs";
import type { GateResultJson, RankedExperimentJson, RankingJson, RankingSelectionJson } from "../../contracts/ranking.js";
import type { ExperimentFilter } from "../../core/experiment.js";
import type { Gate } from "../../core/gates/gate.js";
import { GATE_OP_SYMBOLS } from "../../core/gates/gate.js";
import type { CompareScoresResult, RankedExperiment } from "../../core/ranking/compare-scores.js";
import { rankedRows } from "../../core/ranking/compare-scores.js";
import type { ParetoObjective } from "../../core/ranking/pareto.js";
import { UsageError } from "../../core/errors.js";
import type { StatusSelection } from "../../core/ranking/selection.js";
import { metricRegistryOf } from "../../config/load.js";
import { openLocalReader } from "../../app/local-reader.js";
import type { RankedStore, RankRequest } from "../../app/rank.js";
import type { CommandContext, FormatFlags } from "../context.js";
import type { CompareScoresOptions } from "../define/compare-scores.js";
import { formatOf } from "../context.js";
import type { SelectionFlags } from "../filters.js";
import { filterOf } from "../filters.js";
import { rankExperiments } from "../../app/rank.js";
import { writeRankingJson } from "../../app/ranking-json.js";
import type { Column } from "../output/render.js";
import { formatNumber, renderRows, writeCsv } from "../output/render.js";
import { chooseColumns } from "../output/column-choice.js";
import { tableWidth } from "../output/table-fit.js";
import { printable } from "../output/sanitize.js";
import type { MetricRegistry } from "../../core/metrics/registry.js";
import { shellQuote } from "../../util/shell.js";
import { streamSink } from "../../util/chunk-writer.js";

/**
 * The flags {@link rankStore} reads: what `expflow compare-scores` and `expflow clearml
 * compare-scores` both parse. Their options types (inferred in `define/`) must stay assignable
 * to it; the compiler checks that where each command calls `rankStore`.
 */
export interface CompareScoresFlags extends FormatFlags, SelectionFlags {
  registry?: string;
  sortBy?: string;
  /** `--pareto`, as written: `pde_mean:min,train_time_min:min`. */
  pareto?: string;
  ascending?: boolean;
  descending?: boolean;
  thenBy?: string[];
  gate?: string[];
  useThresholds?: boolean;
  onlyPassing?: boolean;
  max?: number;
  /** `--wide`: the table whole, whatever the terminal's width. */
  wide?: boolean;
  /** `--columns`: the columns of the table, CSV or Markdown, by key. */
  columns?: string[];
}

/**
 * The JSON contract of `compare-scores --json` and `clearml compare-scores --json`:
 * `RankingSchema` in `src/contracts` (documented in the README; fields are only ever added).
 */
export type CompareScoresJson = RankingJson;
export type { GateResultJson, RankedExperimentJson, RankingSelectionJson };

function failedGates(r: RankedExperiment): string {
  return r.gates
    .filter((g) => !g.passed)
    .map((g) =>
      g.reason === "missing"
        ? `${g.metric} missing`
        : `${g.metric} ${formatNumber(g.actual!)} not ${GATE_OP_SYMBOLS[g.op]} ${formatNumber(g.threshold)}`,
    )
    .join("; ");
}

/**
 * The columns of the listing: the same spec feeds the table, CSV and Markdown. In a Pareto
 * ranking the rank column is headed FRONT (its key stays `rank`) and the objectives follow the
 * sort metric. To fit a terminal, the failed gates and then the name are cut, then `status`,
 * `failed_gates`, the gated metrics, the tie-breakers (the last first), `passed`, the objectives
 * (the last first) and `name` are left out, in that order; the rank, the id and the sort metric
 * always stay.
 */
export function compareScoresColumns(result: CompareScoresResult): Column<RankedExperiment>[] {
  const objectives = (result.pareto ?? []).map((o) => o.metric);
  const shown = [result.sortBy, ...objectives, ...result.thenBy.map((t) => t.metric), ...result.gates.map((g: Gate) => g.metric)];
  const metrics = [...new Set(shown)];
  const thenBy = new Set(result.thenBy.map((t) => t.metric));
  const dropOf = (m: string): number | undefined => (m === result.sortBy ? undefined : objectives.includes(m) ? 78 : thenBy.has(m) ? 50 : 40);
  const cols: Column<RankedExperiment>[] = [
    { header: result.pareto === null ? "RANK" : "FRONT", key: "rank", get: (r) => r.rank, align: "right" },
    { header: "ID", key: "id", get: (r) => r.experiment.id },
    { header: "NAME", key: "name", get: (r) => r.experiment.name, maxWidth: 40, shrink: { min: 20, order: 2 }, drop: 80 },
    { header: "STATUS", key: "status", get: (r) => r.experiment.status, drop: 10 },
    ...metrics.map((m) => metricColumn(result, m, dropOf(m))),
    {
      header: "RESULT",
      key: "passed",
      get: (r) => (r.passed ? "PASS" : "FAIL"),
      paint: (r, text, c) => (r.passed ? c.green(text) : c.red(text)),
      drop: 75,
    },
  ];
  if (result.gates.length > 0) cols.push({ header: "FAILED GATES", key: "failed_gates", get: (r) => failedGates(r) || null, shrink: { min: 20, order: 1 }, drop: 20 });
  return cols;
}

/** The column of a metric: the ranked value (the sort metric's, an objective's), else the gate's, else the recorded one. */
function metricColumn(result: CompareScoresResult, metric: string, drop?: number): Column<RankedExperiment> {
  const objective = result.pareto?.findIndex((o) => o.metric === metric) ?? -1;
  const value = (r: RankedExperiment): number | null => {
    if (metric === result.sortBy) return r.value;
    if (objective >= 0 && r.objectives !== null) return r.objectives[objective] ?? null;
    const fromGate = r.gates.find((g) => g.metric === metric);
    if (fromGate) return fromGate.actual;
    const v = r.experiment.metrics[metric];
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  };
  return {
    header: metric,
    key: metric,
    get: value,
    align: "right",
    paint: (r, text, c) => (value(r) === null ? c.dim(text) : metric === result.sortBy ? c.bold(text) : text),
    ...(drop === undefined ? {} : { drop }),
  };
}

/** The columns `--columns` chose: those of {@link compareScoresColumns}, or any metric registered or that a ranked experiment reports. */
function chosenColumns(result: CompareScoresResult, registry: MetricRegistry, keys: readonly string[] | undefined, command: string): Column<RankedExperiment>[] {
  return chooseColumns(command, compareScoresColumns(result), keys, {
    describe: "a metric (registered, or that a ranked experiment reports)",
    make: (key) => {
      const name = registry.get(key)?.name ?? (result.results.some((r) => Object.hasOwn(r.experiment.metrics, key)) ? key : undefined);
      return name === undefined ? undefined : metricColumn(result, name);
    },
  });
}

function csvColumns(cols: Column<RankedExperiment>[]): Column<RankedExperiment>[] {
  return cols.map((c) => (c.key === "passed" ? { ...c, get: (r: RankedExperiment) => (r.passed ? "true" : "false") } : c));
}

/**
 * The summary's word on what the status selection left out, or `null` when nothing was:
 * `8 unfinished experiments not ranked (4 running, 4 failed); pass --status
 * completed,running,failed to include them.` Statuses come from data, so they are made printable.
 */
export function selectionNote(selection: StatusSelection): string | null {
  if (selection.excluded === 0 || selection.statuses === "all") return null;
  const n = selection.excluded;
  const left = Object.keys(selection.excludedByStatus);
  const counts = left.map((s) => `${selection.excludedByStatus[s]} ${printable(s)}`).join(", ");
  const include = shellQuote(printable([...new Set([...selection.statuses, ...left])].join(",")));
  const what = selection.isDefault ? `${n} unfinished experiment${n === 1 ? "" : "s"}` : `${n} experiment${n === 1 ? "" : "s"} in other states`;
  return `${what} not ranked (${counts}); pass --status ${include} to include ${n === 1 ? "it" : "them"}.`;
}

/** `completed`, `running or failed`, `created, running or failed`. */
function statusesText(statuses: readonly string[]): string {
  const words = statuses.map((s) => printable(s));
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)!}`;
}

/**
 * Ranks the experiments of a store. Only those in a `--status` state (default: completed) are
 * ranked; the others the filters select are counted and named in the summary and in `selection`
 * of the JSON. Returns the exit code: 0 when at least one experiment passes every gate, 1 when
 * none does (also when none is ranked).
 */
export async function rankStore(
  store: RankedStore,
  flags: CompareScoresFlags,
  ctx: CommandContext,
  registry: MetricRegistry,
  opts: { onListed?: () => void; command?: string; isEmpty?: () => Promise<boolean> } = {},
): Promise<number> {
  const command = opts.command ?? "compare-scores";
  assertRankingFlags(flags, command);
  const ranking = await rankExperiments(store, rankRequestOf(flags), registry, opts);
  const { result } = ranking;

  const format = formatOf(flags);
  const { stdout } = ctx.io;
  const note = selectionNote(result.selection);
  if (ranking.listed === 0) {
    // An empty registry (a fresh home's) is not a selection that missed: say how to fill it.
    if ((await opts.isEmpty?.()) === true) ctx.warn(`no experiments yet in ${store.location}; submit one with \`expflow run submit\``);
    else ctx.warn(`no experiments match the selection in ${store.location}`);
  }
  if (format === "json") {
    await writeRankingJson(result, streamSink(stdout));
    if (result.total === 0 && note !== null) ctx.warn(`nothing ranked in ${store.location}: ${note}`);
  } else {
    const cols = chosenColumns(result, registry, flags.columns, command);
    if (format === "table") {
      const table = { width: tableWidth(stdout, ctx.io.env), wide: flags.wide === true, keepAll: flags.columns !== undefined };
      if (result.results.length > 0) stdout.write(renderRows("table", result.results, cols, ctx.colors, table));
      stdout.write(`${verdictLine(result, registry)}\n`);
      if (note !== null) stdout.write(`${note}\n`);
    } else {
      if (format === "csv") await writeCsv(rankedRows(result), csvColumns(cols), streamSink(stdout));
      else stdout.write(renderRows(format, result.results, cols, ctx.colors));
      // Rows only on standard output; what was left out still reaches the person running it.
      if (note !== null) ctx.io.stderr.write(`${note}\n`);
    }
  }
  return ranking.passed ? 0 : 1;
}

/**
 * What the ranking flags must say before anything is read: `--sort-by` or `--pareto` (commander
 * cannot require one of two), and `--ascending`/`--descending` only with `--sort-by`.
 *
 * @param command the command, as the message names it (`compare-scores`, `clearml compare-scores`).
 * @throws {UsageError} `E_USAGE` (exit 2).
 */
export function assertRankingFlags(flags: Pick<CompareScoresFlags, "sortBy" | "pareto" | "ascending" | "descending">, command: string): void {
  if (flags.sortBy === undefined && flags.pareto === undefined) {
    throw new UsageError("E_USAGE", `${command} needs --sort-by or --pareto`, {
      hint: "rank by one metric (--sort-by pde_mean) or by Pareto fronts of several (--pareto pde_mean:min,train_time_min:min)",
    });
  }
  if (flags.sortBy === undefined && (flags.ascending || flags.descending)) {
    throw new UsageError("E_USAGE", `${flags.ascending ? "--ascending" : "--descending"} orders --sort-by, which is not given`, {
      hint: "each --pareto objective has its own direction (metric:max or metric:min); add --sort-by M to order each front by M",
    });
  }
}

/** `pde_mean (lowest) and train_time_min (lowest)`; an objective against its metric's registered direction says so. */
function objectivesText(objectives: readonly ParetoObjective[], registry: MetricRegistry): string {
  const words = objectives.map((o) => {
    const def = registry.definitionOf(o.metric);
    const against = def !== undefined && (def.direction === "lower") !== (o.direction === "min") ? ", against its registered direction" : "";
    return `${printable(o.metric)} (${o.direction === "min" ? "lowest" : "highest"}${against})`;
  });
  return `${words.slice(0, -1).join(", ")} and ${words.at(-1)!}`;
}

/**
 * The table's summary: `19 of 60 experiments pass 2 gates (showing 10); ranked by pde_mean,
 * lowest first.`; in a Pareto ranking `19 of 60 experiments pass 2 gates; 7 on the Pareto front
 * of pde_mean (lowest) and train_time_min (lowest), 5 fronts.` (and `; each front by seg_total,
 * highest first` with `--sort-by`).
 */
export function verdictLine(result: CompareScoresResult, registry: MetricRegistry): string {
  const { selection } = result;
  if (result.total === 0 && selection.excluded > 0 && selection.statuses !== "all") return `No ${statusesText(selection.statuses)} experiment to rank.`;
  const def = registry.definitionOf(result.sortBy);
  const order = result.ascending ? "lowest first" : "highest first";
  const against = def !== undefined && (def.direction === "lower") !== result.ascending ? ` (against its registered direction: ${def.direction} is better)` : "";
  const shown = result.results.length < result.total ? ` (showing ${result.results.length})` : "";
  const gateText = result.gates.length === 0 ? "no gates" : `${result.gates.length} gate${result.gates.length === 1 ? "" : "s"}`;
  const plural = result.total === 1 ? "" : "s";
  const verdict =
    result.gates.length === 0
      ? `${result.total} experiment${plural}, no gates`
      : `${result.passedCount} of ${result.total} experiment${plural} pass ${gateText}`;
  if (result.pareto === null) return `${verdict}${shown}; ranked by ${printable(result.sortBy)}, ${order}${against}.`;
  const of = objectivesText(result.pareto, registry);
  const fronts =
    result.fronts === 0 ? `no Pareto front of ${of}` : `${result.onFront} on the Pareto front of ${of}, ${result.fronts} front${result.fronts === 1 ? "" : "s"}`;
  // Each front in the first objective's order is the default: the objectives already say so.
  const first = result.pareto[0]!;
  const within = first.metric === result.sortBy && (first.direction === "min") === result.ascending ? "" : `; each front by ${printable(result.sortBy)}, ${order}${against}`;
  return `${verdict}${shown}; ${fronts}${within}.`;
}

/**
 * `expflow compare-scores` on the local registry. The default registry that does not exist yet
 * (a fresh home) ranks as an empty one: exit 1, saying how to submit a first run; a registry the
 * user named (`--registry`, `EXPFLOW_REGISTRY`, a config file) that does not exist is exit 2.
 */
export async function compareScoresCommand(flags: CompareScoresOptions, ctx: CommandContext): Promise<number> {
  const config = await ctx.config({ registry: flags.registry });
  const registry = metricRegistryOf(config);
  // A ranking only reads: the store alone, without the backend's modules for changes.
  const store = openLocalReader(config, ctx.warn);
  const fresh = config.registry.source === "default" && !existsSync(store.location);
  const ranked: RankedStore = fresh ? { location: store.location, list: async () => [] } : store;
  return rankStore(ranked, flags, ctx, registry, { isEmpty: async () => fresh || (await store.list({ includeArchived: true })).length === 0 });
}

/** The ranking the selection and ranking flags ask for: what `rankExperiments` (and a report) takes. */
export function rankRequestOf(flags: Omit<CompareScoresFlags, keyof FormatFlags | "wide" | "columns">): RankRequest {
  return {
    filter: withoutStatuses(filterOf(flags)),
    statuses: flags.status ?? [],
    sortBy: flags.sortBy,
    pareto: flags.pareto,
    ascending: flags.ascending ? true : flags.descending ? false : undefined,
    thenBy: flags.thenBy,
    gates: flags.gate ?? [],
    useThresholds: flags.useThresholds,
    onlyPassing: flags.onlyPassing,
    max: flags.max,
  };
}

/** The store filter of the selection flags without the status selection, which the ranking applies itself. */
function withoutStatuses(filter: ExperimentFilter): Omit<ExperimentFilter, "statuses"> {
  const { statuses: _statuses, ...rest } = filter;
  return rest;
}
