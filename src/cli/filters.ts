import type { ExperimentFilter } from "../core/experiment.js";

/** The status selection check, shared by `compare-scores` and `run list`: see {@link checkStatuses}. */
export { checkStatuses } from "../app/rank.js";

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
