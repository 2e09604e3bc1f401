import { z } from "zod";
import { list } from "./primitives.js";

/** A metric definition of the metrics registry (`core/metrics/registry.ts`'s `MetricDefinition`). */
export const MetricDefinitionSchema = z.strictObject({
  /** Canonical name, as runs report it (`pde_mean`). */
  name: z.string().min(1),
  /** Score, Loss, PDE, Time, Model, Training, or a user's own. */
  group: z.string().min(1),
  direction: z.enum(["lower", "higher"]),
  /** One line saying what the metric measures (may be empty for a metric added in config). */
  description: z.string(),
  /** The value a run must beat, strictly, in the metric's direction; `null` when none. */
  threshold: z.number().nullable(),
  unit: z.string().nullable(),
  aliases: list(z.string().min(1)),
  /** `true` for the 13 standard metrics (possibly overridden), `false` for those added in config. */
  standard: z.boolean(),
});
export type MetricDefinitionJson = z.infer<typeof MetricDefinitionSchema>;

/** `metrics list --json`: the registered metrics, in registry order. */
export const MetricListSchema = list(MetricDefinitionSchema);
export type MetricListJson = z.infer<typeof MetricListSchema>;

/** `metrics add --json`: the configuration file written and the metric it now defines. */
export const MetricAddSchema = z.strictObject({
  /** The configuration file the metric was declared in. */
  file: z.string().min(1),
  /** Whether the file was created by this declaration. */
  created: z.boolean(),
  metric: MetricDefinitionSchema,
});
export type MetricAddJson = z.infer<typeof MetricAddSchema>;

/** One scalar sent to a ClearML task: metric = the registry group, variant = the metric's name. */
export const ReportedScalarSchema = z.strictObject({
  metric: z.string().min(1),
  variant: z.string().min(1),
  value: z.number(),
});
export type ReportedScalarJson = z.infer<typeof ReportedScalarSchema>;

/** `metrics report --task-id ID --json`: what was sent to the task (at iteration 0). */
export const TaskMetricsReportSchema = z.strictObject({
  task_id: z.string().min(1),
  /** The server's URL. */
  server: z.string().min(1),
  iteration: z.literal(0),
  scalars: z.array(ReportedScalarSchema).min(1).readonly(),
});
export type TaskMetricsReportJson = z.infer<typeof TaskMetricsReportSchema>;
