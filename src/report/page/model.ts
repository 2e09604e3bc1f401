import type { RankedExperimentJson } from "../../contracts/ranking.js";
import type { ReportDataJson, ReportMetricJson } from "../../contracts/report.js";
import { formatNumber as formatCliNumber } from "../../core/number-text.js";

/** One row of the report: a ranked experiment with its metric values read once, as numbers. */
export interface Row {
  /** Position in the ranking (0 = first): the default order. */
  readonly index: number;
  readonly result: RankedExperimentJson;
  /** Values of the report's metrics, in `metrics` order; `NaN` where missing. */
  readonly values: Float64Array;
  /** Whether the run did not complete (ranked because other statuses were asked for). */
  readonly unfinished: boolean;
  /** Lower-case id, name and status, for the filter box. */
  readonly text: string;
  /** The failed gates, as the CLI words them (`pde_mean 18.6 not < 18.09`). */
  readonly failedGates: string;
}

/** The page's state: the rows, the filters and the runs picked for the history plot. */
export interface Model {
  readonly data: ReportDataJson;
  readonly metrics: readonly ReportMetricJson[];
  /** Metric name to its index in `metrics` (and in each row's `values`). */
  readonly metricIndex: ReadonlyMap<string, number>;
  readonly rows: readonly Row[];
  /** Brushed ranges of the parallel-coordinates axes, by metric: `[low, high]`. */
  readonly brushes: Map<string, readonly [number, number]>;
  /** The filter box's text, lower-cased and trimmed. */
  text: string;
  /** Indexes of the rows whose history is plotted. */
  readonly picked: Set<number>;
  /** Rows that pass the filter box and every brush, recomputed by {@link refilter}. */
  matching: Uint8Array;
  matchingCount: number;
}

/** A run's recorded history by metric, or `undefined`: own keys only (a run may be named `constructor`). */
export function historyOf(data: ReportDataJson, id: string): Readonly<Record<string, readonly (readonly [number, number])[]>> | undefined {
  return Object.hasOwn(data.history.series, id) ? data.history.series[id] : undefined;
}

/** One metric's points of a run's history (none when it did not record that metric). */
export function pointsOf(history: Readonly<Record<string, readonly (readonly [number, number])[]>>, metric: string): readonly (readonly [number, number])[] {
  return Object.hasOwn(history, metric) ? history[metric]! : [];
}

const OPS: Record<string, string> = { lt: "<", le: "≤", gt: ">", ge: "≥", eq: "=", ne: "≠" };

/** A gate's operator as a symbol. */
export function opSymbol(op: string): string {
  return OPS[op] ?? op;
}

/** A number as the CLI prints it (core/number-text.ts); a missing value (NaN) as a dash. */
export function formatNumber(n: number): string {
  return Number.isFinite(n) ? formatCliNumber(n) : "\u2013";
}

function numeric(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : Number.NaN;
}

/** Builds the model of the page from its data. */
export function buildModel(data: ReportDataJson): Model {
  const metrics = data.metrics;
  const metricIndex = new Map(metrics.map((m, i) => [m.name, i] as const));
  const rows: Row[] = data.ranking.results.map((result, index) => {
    const values = new Float64Array(metrics.length);
    metrics.forEach((m, i) => {
      // The sort metric's value as ranked (an alias resolved); the others as recorded or gated.
      const gate = result.gates.find((g) => g.metric === m.name);
      values[i] = m.name === data.ranking.sort_by ? numeric(result.value) : gate !== undefined ? numeric(gate.actual) : numeric(result.metrics[m.name]);
    });
    const failedGates = result.gates
      .filter((g) => !g.passed)
      .map((g) => (g.actual === null ? `${g.metric} missing` : `${g.metric} ${formatNumber(g.actual)} not ${opSymbol(g.op)} ${formatNumber(g.threshold)}`))
      .join("; ");
    return {
      index,
      result,
      values,
      unfinished: result.status !== "completed",
      text: `${result.id}\u0000${result.name ?? ""}\u0000${result.status}`.toLowerCase(),
      failedGates,
    };
  });
  const model: Model = { data, metrics, metricIndex, rows, brushes: new Map(), text: "", picked: new Set(), matching: new Uint8Array(rows.length), matchingCount: 0 };
  refilter(model);
  return model;
}

/** Recomputes which rows pass the filter box and every brush. */
export function refilter(model: Model): void {
  const brushes = [...model.brushes].map(([m, range]) => [model.metricIndex.get(m)!, range[0], range[1]] as const);
  const text = model.text;
  let count = 0;
  for (const row of model.rows) {
    let ok = text === "" || row.text.includes(text);
    for (let b = 0; ok && b < brushes.length; b++) {
      const [i, lo, hi] = brushes[b]!;
      const v = row.values[i]!;
      ok = v >= lo && v <= hi;
    }
    model.matching[row.index] = ok ? 1 : 0;
    if (ok) count++;
  }
  model.matchingCount = count;
}

/** A row's verdict, for its badge and colour. */
export function verdictOf(row: Row): "pass" | "fail" {
  return row.result.passed ? "pass" : "fail";
}

/** Colours of the verdicts (and of unfinished runs), shared by the table and the plots. */
export const COLORS = { pass: "#1a7f37", fail: "#cf222e", unfinished: "#9a6700", dim: "#d0d7de", gate: "#6e40c9" } as const;
