import type { Direction } from "./registry.js";

/**
 * A metric's history as a run's record keeps it (`metric_history.NAME`): exact aggregates of
 * every value reported, and a downsampled series of `[step, value]` points spread over the
 * whole run.
 */
export interface MetricHistory {
  /** The value of the latest entry. */
  readonly last: number;
  /** The lowest value reported. */
  readonly min: number;
  /** The highest value reported. */
  readonly max: number;
  /** How many values were reported. */
  readonly count: number;
  /**
   * `[step, value]` points, oldest first: the first entry, one entry per bucket of consecutive
   * entries after it, and the latest entry (see {@link MetricSeries}).
   */
  readonly steps: readonly (readonly [number, number])[];
}

/** Buckets a series keeps (the record shows at most one point more: the latest entry). */
export const HISTORY_BUCKETS = 100;

/**
 * Points of history the record keeps across all of a run's metrics: with many metrics each
 * keeps fewer points (at least 2: its first and latest), so the record stays small.
 */
export const HISTORY_POINTS_PER_RUN = 2_000;

/**
 * The values of one metric over a run, in bounded memory, whatever the number of entries.
 *
 * The entries are cut into buckets of `width` consecutive entries, and the first entry of each
 * bucket is kept. When there would be more than {@link HISTORY_BUCKETS} buckets, pairs of
 * neighbouring buckets merge (the earlier bucket's point stays) and `width` doubles. So the
 * points are spread evenly over the entries of the whole run, the first entry always among
 * them; the latest entry is kept beside them. `last`, `min`, `max` and `count` are exact.
 */
export class MetricSeries {
  private buckets: [number, number][] = [];
  private width = 1;
  /** Entries in the last bucket. */
  private fill = 0;
  private latest: [number, number] | undefined;
  private low = Number.POSITIVE_INFINITY;
  private high = Number.NEGATIVE_INFINITY;
  private n = 0;

  /** How many values were added. */
  get count(): number {
    return this.n;
  }

  /** The latest value, or `undefined` before the first. */
  get last(): number | undefined {
    return this.latest?.[1];
  }

  /**
   * Adds an entry. `step` is the entry's step as the run reported it, or, when it reported
   * none, the entry's position among this metric's entries (0, 1, 2, ...).
   */
  add(value: number, step: number = this.n): void {
    const point: [number, number] = [step, value];
    if (this.buckets.length === 0 || this.fill >= this.width) {
      this.buckets.push(point);
      this.fill = 1;
      if (this.buckets.length > HISTORY_BUCKETS) {
        // Every bucket but the new one is full: merge pairs, keeping each pair's first point.
        // With HISTORY_BUCKETS even, the new bucket starts a pair of its own, holding one entry.
        this.buckets = this.buckets.filter((_, i) => i % 2 === 0);
        this.width *= 2;
      }
    } else {
      this.fill++;
    }
    this.latest = point;
    // Math.min and Math.max, not < and >: -0 is below 0 for them, as for every reader of min/max.
    this.low = Math.min(this.low, value);
    this.high = Math.max(this.high, value);
    this.n++;
  }

  /**
   * The history as the record keeps it, with at most `maxPoints` points (at least 2: the first
   * and the latest), thinned evenly when there are more.
   *
   * @returns `undefined` before the first value.
   */
  toJSON(maxPoints = HISTORY_BUCKETS + 1): MetricHistory | undefined {
    if (this.latest === undefined) return undefined;
    let points: (readonly [number, number])[] = this.fill > 1 ? [...this.buckets, this.latest] : [...this.buckets];
    points = thin(points, Math.max(2, Math.floor(maxPoints)));
    return { last: this.latest[1], min: this.low, max: this.high, count: this.n, steps: points.map((p) => [p[0], p[1]] as const) };
  }
}

/**
 * At most `max` of `points` (max >= 2), evenly spaced, the first and the last always kept: how a
 * record's history is cut to its share of points, and how a store that reads a history from
 * elsewhere (ClearML's scalar histograms) cuts it the same way. Pure; returns a new array.
 */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))]!);
  return out;
}

/** The points each metric keeps in a record of `metricCount` metrics: {@link HISTORY_POINTS_PER_RUN} shared, 2 to 101 each. */
export function pointsPerMetric(metricCount: number): number {
  if (metricCount <= 0) return HISTORY_BUCKETS + 1;
  return Math.max(2, Math.min(HISTORY_BUCKETS + 1, Math.floor(HISTORY_POINTS_PER_RUN / metricCount)));
}

function finite(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * A metric's history read back from a record (`metric_history.NAME`), or `undefined` when the
 * value is not one (a record written by hand or by another tool): every number must be finite,
 * `count` a whole number, and each point a `[step, value]` pair of finite numbers (other points
 * are left out). Pure; never throws.
 */
export function readMetricHistory(v: unknown): MetricHistory | undefined {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const { last, min, max, count } = o;
  if (!finite(last) || !finite(min) || !finite(max) || !finite(count) || !Number.isInteger(count) || count < 1) return undefined;
  const steps = Array.isArray(o["steps"]) ? (o["steps"] as unknown[]).filter((p): p is [number, number] => Array.isArray(p) && p.length === 2 && finite(p[0]) && finite(p[1])) : [];
  return { last, min, max, count, steps };
}

/**
 * The best value of a metric by its direction: the lowest for `lower`, the highest for `higher`,
 * over its history and its recorded value (which a later report may have changed).
 *
 * @returns `undefined` when the direction is not known (a custom metric not declared) or there
 *   is no value.
 */
export function bestValue(direction: Direction | undefined, history: MetricHistory | undefined, recorded: number | undefined): number | undefined {
  if (direction === undefined) return undefined;
  const candidates = [history === undefined ? undefined : direction === "lower" ? history.min : history.max, recorded].filter(finite);
  if (candidates.length === 0) return undefined;
  return direction === "lower" ? Math.min(...candidates) : Math.max(...candidates);
}
