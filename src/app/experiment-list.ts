import type { ExperimentJson, ExperimentListJson } from "../contracts/experiment.js";
import type { Experiment } from "../core/experiment.js";

/**
 * The contract's experiment (`ExperimentSchema` in `src/contracts`) for a normalised experiment
 * of any store: the same keys, in the same order, for a local run and a ClearML task. Metrics
 * are the experiment's own enumerable names (a ClearML task's qualified aliases are not listed
 * twice).
 */
export function experimentJson(e: Experiment): ExperimentJson {
  return {
    id: e.id,
    name: e.name,
    status: e.status,
    clearml_status: e.backendStatus ?? null,
    project: e.project,
    tags: e.tags,
    created: e.created,
    archived: e.archived === true,
    metrics: e.metrics,
    ambiguous_metrics: e.ambiguousMetrics ?? {},
    params: e.params,
  };
}

/** An experiment list in its contract (`ExperimentListSchema`): what `run list --json` prints and the MCP server returns. */
export function experimentListJson(location: string, experiments: readonly Experiment[]): ExperimentListJson {
  return { location, experiments: experiments.map(experimentJson) };
}
