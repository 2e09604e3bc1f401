import { UsageError } from "./errors.js";

/**
 * An experiment as every store presents it: a normalised, backend-independent record.
 */
export interface Experiment {
  /** Unique id (`experiment_id` in the local registry, the task id on ClearML). */
  readonly id: string;
  /** Human name, or `null`. */
  readonly name: string | null;
  /** Lifecycle state (`created`, `queued`, `running`, `completed`, ...), as recorded. */
  readonly status: string;
  /** Project name, or `null`. */
  readonly project: string | null;
  readonly tags: readonly string[];
  /** Creation time as recorded (ISO 8601), or `null`. */
  readonly created: string | null;
  /**
   * Reported metrics, as recorded. A value that is not a finite number (null, a string, NaN)
   * counts as missing wherever a metric is read.
   */
  readonly metrics: Readonly<Record<string, unknown>>;
  /** Parameters, `Section/name` to value (`{"Args/--sub_step": "5"}`). */
  readonly params: Readonly<Record<string, string>>;
  /** Archived runs are left out of listings and rankings unless asked for. Default false. */
  readonly archived?: boolean;
  /**
   * The backend's own status when it differs in vocabulary from the lifecycle states (ClearML's
   * `in_progress`, `published`, `stopped`, ...); `status` holds the mapped lifecycle state.
   */
  readonly backendStatus?: string;
  /**
   * Metric names that are ambiguous for this experiment, each with the qualified names it could
   * mean: ClearML reports `seg_total` under two titles as `Score/seg_total` and `Loss/seg_total`,
   * both kept in `metrics`, and the bare name here. Ranking, gates and rules refuse a bare name
   * listed here (exit 2) rather than pick one. (A ClearML experiment's `metrics` also answers
   * every unambiguous metric under its qualified name, as a non-enumerable property, so a
   * qualified name selects the same value on every task and output lists each metric once.)
   */
  readonly ambiguousMetrics?: Readonly<Record<string, readonly string[]>>;
}

/** The lifecycle states of a run. */
export const LIFECYCLE_STATES = Object.freeze(["created", "dispatched", "queued", "running", "completed", "failed", "cancelled"] as const);

/** Which experiments to select. Every given criterion must hold. */
export interface ExperimentFilter {
  /** Exact project name. */
  project?: string;
  /** The experiment must carry all of these tags (any one of them with `anyTag`). */
  tags?: readonly string[];
  /** `tags` means any of them rather than all. Default false. */
  anyTag?: boolean;
  /** `project` also matches its subprojects (`P/ablations` under `P`). Default false. */
  includeSubprojects?: boolean;
  /** The experiment's status (or its backend status) must be one of these. */
  statuses?: readonly string[];
  /** Include archived experiments (left out by default). */
  includeArchived?: boolean;
}

/**
 * Whether `e`'s status, or its backend status (ClearML's `published`), is one of `statuses`: the
 * one definition of a status selection, for store filters, rankings and rule packs alike.
 */
export function matchesStatus(e: Pick<Experiment, "status" | "backendStatus">, statuses: readonly string[]): boolean {
  return statuses.includes(e.status) || (e.backendStatus !== undefined && statuses.includes(e.backendStatus));
}

/** Whether `e` satisfies every criterion of `filter`. */
export function matchesFilter(e: Experiment, filter: ExperimentFilter): boolean {
  if (e.archived === true && filter.includeArchived !== true) return false;
  if (filter.project !== undefined && e.project !== filter.project) {
    if (!(filter.includeSubprojects === true && e.project !== null && e.project.startsWith(`${filter.project}/`))) return false;
  }
  if (filter.statuses !== undefined && filter.statuses.length > 0 && !matchesStatus(e, filter.statuses)) return false;
  if (filter.tags !== undefined && filter.tags.length > 0) {
    if (filter.anyTag === true) {
      if (!filter.tags.some((t) => e.tags.includes(t))) return false;
    } else {
      for (const t of filter.tags) if (!e.tags.includes(t)) return false;
    }
  }
  return true;
}

/** One metric name that {@link assertUnambiguous} checks, and where it was given. */
export interface NamedMetric {
  /** The name read (canonical when registered). */
  readonly name: string;
  /** The aliases read for it. */
  readonly aliases?: readonly string[];
  /** The option or input that names it (`sortBy`, `thenBy`, `gates`, `rules`), set on the error. */
  readonly field: string;
  /** How the message names the place (default: `field`; `gate 'x:lt:1'`, `rule 'PDE mean'`). */
  readonly where?: string;
  /** The metric's registered group: the title suggested first (`Score/seg_total`). */
  readonly group?: string;
  /** How the hint shows the qualified name in use (default: the name, quoted). */
  readonly example?: (qualified: string) => string;
}

/**
 * Refuses a bare metric name that some experiment reports under two titles (see
 * {@link Experiment.ambiguousMetrics}).
 *
 * @param names the metric names to be read, each with the aliases read for it and where it was given.
 * @throws {UsageError} `E_METRIC_AMBIGUOUS` (exit 2) naming the qualified names to use instead;
 *   `field` is where the name was given, `value` the bare name, `suggestion` the qualified name
 *   of the metric's registered group (else the first).
 */
export function assertUnambiguous(experiments: Iterable<Experiment>, names: readonly NamedMetric[]): void {
  if (names.length === 0) return;
  for (const e of experiments) {
    const amb = e.ambiguousMetrics;
    if (amb === undefined) continue;
    for (const { name, aliases = [], field, where = field, group, example } of names) {
      for (const n of [name, ...aliases]) {
        const qualified = Object.hasOwn(amb, n) ? amb[n] : undefined;
        if (qualified === undefined) continue;
        // Suggest the title matching the metric's registered group (Score/seg_total, not Loss/seg_total).
        const best = qualified.find((q) => group !== undefined && q.startsWith(`${group}/`)) ?? qualified[0]!;
        throw new UsageError(
          "E_METRIC_AMBIGUOUS",
          `metric '${n}' in ${where} is ambiguous: experiment ${e.id} reports it under ${qualified.length} titles, as ${qualified.map((q) => `'${q}'`).join(" and ")}`,
          { hint: `name one of them instead, e.g. ${example ? example(best) : `'${best}'`}`, field, value: n, suggestion: best },
        );
      }
    }
  }
}
