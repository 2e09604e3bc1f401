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
}

/** The lifecycle states of a run. */
export const LIFECYCLE_STATES = Object.freeze(["created", "dispatched", "queued", "running", "completed", "failed", "cancelled"] as const);

/** Which experiments to select. Every given criterion must hold. */
export interface ExperimentFilter {
  /** Exact project name. */
  project?: string;
  /** The experiment must carry all of these tags. */
  tags?: readonly string[];
  /** The experiment's status must be one of these. */
  statuses?: readonly string[];
  /** Include archived experiments (left out by default). */
  includeArchived?: boolean;
}

/** Whether `e` satisfies every criterion of `filter`. */
export function matchesFilter(e: Experiment, filter: ExperimentFilter): boolean {
  if (e.archived === true && filter.includeArchived !== true) return false;
  if (filter.project !== undefined && e.project !== filter.project) return false;
  if (filter.statuses !== undefined && filter.statuses.length > 0 && !filter.statuses.includes(e.status)) return false;
  if (filter.tags !== undefined) {
    for (const t of filter.tags) if (!e.tags.includes(t)) return false;
  }
  return true;
}
