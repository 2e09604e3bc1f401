import type { ExperimentFilter } from "../core/experiment.js";
import { LIFECYCLE_STATES } from "../core/experiment.js";
import { UsageError } from "../core/errors.js";
import { didYouMean } from "../core/suggest.js";

/**
 * Checks `--status` values: each must be a lifecycle state or the status of some selected
 * experiment (records of the earlier tool may carry others). Shared by `compare-scores` and
 * `run list`.
 *
 * @param statuses the values given to `--status`.
 * @param selection the experiments selected by the other filters (their statuses are accepted).
 * @param known statuses the store knows besides the lifecycle states (ClearML's).
 * @throws {UsageError} `E_UNKNOWN_STATUS` (exit 2) with a did-you-mean suggestion.
 */
export function checkStatuses(statuses: readonly string[], selection: Iterable<{ readonly status: string; readonly backendStatus?: string }>, known: readonly string[] = []): void {
  if (statuses.length === 0) return;
  const seen = new Set<string>(known);
  for (const e of selection) {
    seen.add(e.status);
    if (e.backendStatus !== undefined) seen.add(e.backendStatus);
  }
  for (const s of statuses) {
    if ((LIFECYCLE_STATES as readonly string[]).includes(s) || seen.has(s)) continue;
    throw new UsageError(
      "E_UNKNOWN_STATUS",
      `unknown status '${s}' in --status: it is not a lifecycle state and no selected experiment has it.${didYouMean(s, [...LIFECYCLE_STATES, ...seen])}`,
      { hint: `lifecycle states: ${LIFECYCLE_STATES.join(", ")}` },
    );
  }
}

/** The selection flags of the listing commands (`--project`, `--tags`, `--any-tag`, `--status`, ...). */
export interface SelectionFlags {
  project?: string;
  tags?: string[];
  /** `--tags` means any of them (ClearML commands). */
  anyTag?: boolean;
  status?: string[];
  includeArchived?: boolean;
  /** `--project` includes its subprojects (ClearML commands). */
  includeSubprojects?: boolean;
}

/** The store filter the selection flags ask for. */
export function filterOf(flags: SelectionFlags): ExperimentFilter {
  const statuses = flags.status ?? [];
  return {
    project: flags.project,
    tags: flags.tags,
    anyTag: flags.anyTag,
    includeSubprojects: flags.includeSubprojects,
    includeArchived: flags.includeArchived,
    statuses: statuses.length > 0 ? statuses : undefined,
  };
}
