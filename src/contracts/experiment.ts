import { z } from "zod";
import { list, metricValues, paramValues, textOrNull } from "./primitives.js";

/**
 * An experiment as every store presents it (`core/experiment.ts`'s `Experiment`, in snake_case):
 * a local run and a ClearML task have exactly these keys, in this order.
 */
export const ExperimentSchema = z.strictObject({
  /** `experiment_id` in the local registry, the task id on ClearML. */
  id: z.string().min(1),
  name: textOrNull,
  /** The lifecycle state (`completed`, `running`, ...; `unknown` for a record without one; as recorded otherwise). */
  status: z.string(),
  /** A ClearML task's own status (`published`, `in_progress`, `stopped`, ...); `null` for a local run. */
  clearml_status: textOrNull,
  project: textOrNull,
  tags: list(z.string()),
  /** Creation time as recorded (a local record's epoch seconds become ISO 8601), or `null`. */
  created: textOrNull,
  archived: z.boolean(),
  /** Reported metrics as recorded; a metric a task reports under two titles appears under both qualified names. */
  metrics: metricValues,
  /** A bare metric name reported under two titles, to its qualified names (`{"seg_total": ["Loss/seg_total", "Score/seg_total"]}`); `{}` when none. */
  ambiguous_metrics: z.record(z.string(), z.array(z.string()).min(2).readonly()),
  params: paramValues,
});
export type ExperimentJson = z.infer<typeof ExperimentSchema>;

/** `run list --json` and `clearml tasks --json`: the experiments listed, and where they live. */
export const ExperimentListSchema = z.strictObject({
  /** The store's location: the registry file (local), the server's URL (ClearML). */
  location: z.string().min(1),
  experiments: list(ExperimentSchema),
});
export type ExperimentListJson = z.infer<typeof ExperimentListSchema>;
