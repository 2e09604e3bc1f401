import { UsageError } from "../errors.js";

/** Which end of an objective is best: `max` the highest value, `min` the lowest. */
export type ParetoDirection = "max" | "min";

/** One objective of a Pareto ranking: a metric and the end of it that is best. */
export interface ParetoObjective {
  /** A metric name or a registered alias (canonical once resolved by a ranking). */
  readonly metric: string;
  readonly direction: ParetoDirection;
}

/** The directions an objective may have, as written. */
export const PARETO_DIRECTIONS: readonly ParetoDirection[] = Object.freeze(["max", "min"]);

const SPEC_HINT = "write two or more objectives as metric:max or metric:min, separated by commas, e.g. pde_mean:min,train_time_min:min";

/** `true` when `text` is `max` or `min`. */
export function isParetoDirection(text: unknown): text is ParetoDirection {
  return text === "max" || text === "min";
}

/**
 * The error of a Pareto specification at fault: `E_PARETO_SYNTAX` (exit 2), with `field`
 * `pareto` and `value` the part at fault, as given.
 */
export function paretoSyntaxError(message: string, value: string): UsageError {
  return new UsageError("E_PARETO_SYNTAX", message, { hint: SPEC_HINT, field: "pareto", value });
}

/**
 * Parses a Pareto specification: comma-separated objectives `metric:max` or `metric:min`
 * (`pde_mean:min,train_time_min:min`), at least two. Each objective is split at its last `:`, so
 * a metric name may itself contain `:`; blanks around parts are ignored and the direction is
 * case-insensitive. Metric names are not resolved here: a ranking resolves them (aliases,
 * unknown names) and refuses two objectives that turn out to be the same metric.
 *
 * @throws {UsageError} `E_PARETO_SYNTAX` (field `pareto`, value the objective at fault, or the
 *   whole text) for an empty objective (`a:max,,b:min`), one without `:` or with an empty metric
 *   name, a direction other than `max` or `min`, fewer than two objectives, or a metric named
 *   twice as written.
 */
export function parseParetoSpec(text: string): ParetoObjective[] {
  const items = text.split(",").map((s) => s.trim());
  const objectives: ParetoObjective[] = [];
  const seen = new Map<string, string>();
  for (const item of items) {
    if (item === "") {
      throw paretoSyntaxError(`invalid objectives '${text}' in pareto: an objective is empty (two commas in a row, or one at an end)`, text);
    }
    const sep = item.lastIndexOf(":");
    if (sep < 0) throw paretoSyntaxError(`invalid objective '${item}' in pareto: expected metric:max or metric:min`, item);
    const metric = item.slice(0, sep).trim();
    const direction = item.slice(sep + 1).trim().toLowerCase();
    if (metric === "") throw paretoSyntaxError(`invalid objective '${item}' in pareto: the metric name is empty`, item);
    if (!isParetoDirection(direction)) {
      const shown = direction === "" ? "the direction is empty" : `the direction '${item.slice(sep + 1).trim()}' is neither max nor min`;
      throw paretoSyntaxError(`invalid objective '${item}' in pareto: ${shown}`, item);
    }
    const earlier = seen.get(metric);
    if (earlier !== undefined) throw paretoSyntaxError(`invalid objective '${item}' in pareto: metric '${metric}' is already an objective ('${earlier}')`, item);
    seen.set(metric, item);
    objectives.push({ metric, direction });
  }
  if (objectives.length < 2) {
    throw paretoSyntaxError(`invalid objectives '${text}' in pareto: a Pareto ranking needs at least two objectives (for one, rank by it alone)`, text);
  }
  return objectives;
}

/**
 * Non-dominated sorting: the Pareto front of each row of `rows`, every objective to be
 * minimised. Row `a` dominates row `b` when it is no worse (`<=`) on every objective and better
 * (`<`) on at least one. Front 1 holds the rows no row dominates; front f+1 those no row
 * dominates once fronts 1..f are taken away. Identical rows share a front. Missing values are
 * to be given as `+Infinity` (worse than any value, equal to each other); `NaN` counts as
 * `+Infinity` too. To maximise an objective, negate it.
 *
 * Rows are sorted lexicographically, so that a row can only be dominated by one before it; then
 * with two objectives each row finds its front by binary search over the fronts' best second
 * value (O(N log N)); with three or more, by binary search over the fronts, each step checking
 * the row against the members of one front, the most recent first (ENS-BS: O(N log N) for the
 * search, and a dominance check per member visited, O(N²·k) at worst, when every row is on one
 * front). With one objective each distinct value is a front; with none, every row is on front 1.
 *
 * @param rows one array of `k` numbers per row, every row of the same length.
 * @returns the front of each row, 1-based, in the order of `rows`.
 * @throws {RangeError} rows of different lengths.
 */
export function paretoFronts(rows: readonly (readonly number[])[]): number[] {
  const n = rows.length;
  if (n === 0) return [];
  const k = rows[0]!.length;
  const data = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    if (row.length !== k) throw new RangeError(`paretoFronts: row ${i} has ${row.length} values, row 0 has ${k}`);
    for (let j = 0; j < k; j++) {
      const v = row[j]!;
      data[i * k + j] = Number.isNaN(v) ? Infinity : v;
    }
  }
  const front = new Array<number>(n).fill(1);
  if (k === 0) return front;

  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    const oa = a * k;
    const ob = b * k;
    for (let j = 0; j < k; j++) {
      const x = data[oa + j]!;
      const y = data[ob + j]!;
      if (x < y) return -1;
      if (x > y) return 1;
    }
    return a - b;
  });
  const sameAsPrevious = (pos: number): boolean => {
    if (pos === 0) return false;
    const oa = order[pos - 1]! * k;
    const ob = order[pos]! * k;
    for (let j = 0; j < k; j++) if (data[oa + j] !== data[ob + j]) return false;
    return true;
  };

  if (k === 1) {
    let f = 0;
    for (let pos = 0; pos < n; pos++) {
      if (!sameAsPrevious(pos)) f++;
      front[order[pos]!] = f;
    }
    return front;
  }

  if (k === 2) {
    // best[f]: the lowest second value on front f (0-based). It never decreases with f, so the
    // first front not dominating a row is the first whose best is above the row's second value.
    const best = new Float64Array(n);
    let fronts = 0;
    for (let pos = 0; pos < n; pos++) {
      const i = order[pos]!;
      if (sameAsPrevious(pos)) {
        front[i] = front[order[pos - 1]!]!;
        continue;
      }
      const y = data[i * 2 + 1]!;
      let lo = 0;
      let hi = fronts;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (best[mid]! > y) hi = mid;
        else lo = mid + 1;
      }
      best[lo] = y;
      if (lo === fronts) fronts++;
      front[i] = lo + 1;
    }
    return front;
  }

  if (k === 3) return threeObjectives(data, order, front, sameAsPrevious);

  // Four or more: members[f] lists the distinct rows of front f in sorted order. A row placed
  // later is no better on the first objective and differs from every member, so a member
  // dominates it exactly when it is no worse on objectives 2..k.
  const members: number[][] = [];
  const dominatedBy = (list: readonly number[], row: number): boolean => {
    const o = row * k;
    for (let m = list.length - 1; m >= 0; m--) {
      const q = list[m]! * k;
      let j = 1;
      while (j < k && data[q + j]! <= data[o + j]!) j++;
      if (j === k) return true;
    }
    return false;
  };
  for (let pos = 0; pos < n; pos++) {
    const i = order[pos]!;
    if (sameAsPrevious(pos)) {
      front[i] = front[order[pos - 1]!]!;
      continue;
    }
    // Dominated by some member of front f implies dominated by some member of every front before
    // f, so the fronts dominating a row are a prefix: binary search finds its end.
    let lo = 0;
    let hi = members.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (dominatedBy(members[mid]!, i)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === members.length) members.push([i]);
    else members[lo]!.push(i);
    front[i] = lo + 1;
  }
  return front;
}

/**
 * Three objectives: ENS-BS with each front kept as its staircase on objectives 2 and 3 (its
 * members no other member beats on both, by the second objective ascending, so the third
 * descends). A row placed later is no better on the first objective and differs from every
 * member, so a front dominates it exactly when the staircase point with the largest second value
 * not above the row's has a third value not above the row's: one binary search per front visited.
 */
function threeObjectives(data: Float64Array, order: readonly number[], front: number[], sameAsPrevious: (pos: number) => boolean): number[] {
  const stairs: number[][] = [];
  /** The position in `stair` of the first point whose second value is above `y`. */
  const after = (stair: readonly number[], y: number): number => {
    let lo = 0;
    let hi = stair.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (data[stair[mid]! * 3 + 1]! > y) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const dominates = (stair: readonly number[], y: number, z: number): boolean => {
    const at = after(stair, y);
    return at > 0 && data[stair[at - 1]! * 3 + 2]! <= z;
  };
  for (let pos = 0; pos < order.length; pos++) {
    const i = order[pos]!;
    if (sameAsPrevious(pos)) {
      front[i] = front[order[pos - 1]!]!;
      continue;
    }
    const y = data[i * 3 + 1]!;
    const z = data[i * 3 + 2]!;
    let lo = 0;
    let hi = stairs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (dominates(stairs[mid]!, y, z)) lo = mid + 1;
      else hi = mid;
    }
    front[i] = lo + 1;
    if (lo === stairs.length) {
      stairs.push([i]);
      continue;
    }
    // Insert the row; the points it now beats on both (second value not below, third not below) go.
    const stair = stairs[lo]!;
    let start = after(stair, y);
    if (start > 0 && data[stair[start - 1]! * 3 + 1]! === y) start--;
    let end = start;
    while (end < stair.length && data[stair[end]! * 3 + 2]! >= z) end++;
    stair.splice(start, end - start, i);
  }
  return front;
}
