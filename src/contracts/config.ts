import { z } from "zod";
import { list } from "./primitives.js";

/** A setting's value and where it came from (`default`, a file, `env`, `flag`). */
function sourced<T extends z.ZodType>(value: T) {
  return z.strictObject({ value, source: z.string().min(1) });
}

/** A metric added or overridden in config: the merged fields, and the file that last set one. */
export const MetricOverrideSchema = z.strictObject({
  direction: z.enum(["lower", "higher"]).optional(),
  threshold: z.number().nullable().optional(),
  group: z.string().min(1).optional(),
  unit: z.string().nullable().optional(),
  description: z.string().optional(),
  aliases: list(z.string().min(1)).optional(),
  source: z.string().min(1),
});
export type MetricOverrideJson = z.infer<typeof MetricOverrideSchema>;

/** `config show --json`: the effective configuration, each setting with its source. */
export const ConfigShowSchema = z.strictObject({
  /** `EXPFLOW_HOME`, default `~/.expflow`. */
  home: z.string().min(1),
  /** Configuration files read, lowest layer first. */
  files: list(z.string().min(1)),
  registry: sourced(z.string().min(1)),
  /** Only the metrics configuration adds or overrides; `{}` for the standard ones alone. */
  metrics: z.record(z.string(), MetricOverrideSchema),
  /** `metrics.strict`: `true` refuses unregistered metrics; `false` (default) keeps them as custom metrics. */
  metrics_strict: sourced(z.boolean()),
  pin: z.strictObject({ allow_force: sourced(z.boolean()) }),
  /** `audit.rules`: a rule file, or `pdebench (built in)` from `default`. */
  audit: z.strictObject({ rules: sourced(z.string().min(1)) }),
});
export type ConfigShowJson = z.infer<typeof ConfigShowSchema>;
