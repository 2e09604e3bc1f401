import { z } from "zod";
import { count, isoTime, list, paramValues, position, runState, textOrNull } from "./primitives.js";

/**
 * A line of the local registry as recorded (`stores/local/record.ts`'s `RegistryRecord`): written
 * by expflow or by the earlier Python tool, so every field but `experiment_id` is as the writer
 * left it, and fields this contract does not name are kept. Printed by `run list --raw`,
 * `run status --json` and `metrics report --json`.
 */
export const RegistryRecordSchema = z.looseObject({
  experiment_id: z.string().min(1),
});
export type RegistryRecordJson = z.infer<typeof RegistryRecordSchema>;

/** `run list --raw`: the latest snapshot of every listed run, as recorded. */
export const RawRunListSchema = list(RegistryRecordSchema);
export type RawRunListJson = z.infer<typeof RawRunListSchema>;

/** One entry of a run's `history` (`core/lifecycle/lifecycle.ts`'s `HistoryEntry`). */
export const HistoryEntrySchema = z.strictObject({
  event: z.enum(["create", "dispatch", "queue", "start", "complete", "fail", "cancel", "archive", "restore", "delete"]),
  /** `null` for `create`. */
  from: runState.nullable(),
  to: runState,
  time: isoTime,
  /** `user@host`. */
  who: z.string().min(1),
  /** Why, when there is more to say (a failure's reason). */
  reason: z.string().optional(),
});
export type HistoryEntryJson = z.infer<typeof HistoryEntrySchema>;

/** What the runner records about the process of a running run. */
export const RunnerInfoSchema = z.strictObject({
  pid: position,
  pgid: position,
  host: z.string().min(1),
  started_at: isoTime,
  agent_pid: position,
});

/** A metrics-file entry the registry refused. */
export const RejectedMetricSchema = z.strictObject({
  name: textOrNull,
  value: z.unknown(),
  reason: z.string().min(1),
});

/**
 * One metric's history in a run's record (`core/metrics/history.ts`'s `MetricHistory`): exact
 * aggregates of every value the run reported, and at most 101 `[step, value]` points spread over
 * the whole run (the first entry and the latest among them).
 */
export const MetricHistorySchema = z.strictObject({
  last: z.number(),
  min: z.number(),
  max: z.number(),
  count: z.number().int().positive(),
  steps: z.array(z.tuple([z.number(), z.number()]).readonly()).max(101).readonly(),
});
export type MetricHistoryJson = z.infer<typeof MetricHistorySchema>;

/**
 * A local run's record as expflow writes it (`run submit`, then the agent or `run submit --wait`,
 * then `metrics report`, `run cancel`, `run archive`): every field fixed. Printed by
 * `run submit --json`; `run status --json` of such a run fits it too.
 */
export const RunRecordSchema = z.strictObject({
  experiment_id: z.string().min(1),
  name: textOrNull,
  status: runState,
  queue: z.string().min(1),
  /** The command, shell-quoted for display. */
  command: z.string().min(1),
  /** The words run (without a shell), `--arg`s appended. */
  argv: z.array(z.string()).min(1).readonly(),
  shell: z.boolean(),
  /** The working directory the run starts in. */
  cwd: z.string().min(1),
  project: textOrNull,
  tags: list(z.string()),
  /** When the run was submitted. */
  timestamp: isoTime,
  method: z.literal("local"),
  clearml_task_id: z.null(),
  metrics: z.record(z.string(), z.number()),
  /** `Args/k` for every `--arg k=v`. */
  params: paramValues,
  history: z.array(HistoryEntrySchema).min(1).readonly(),
  archived: z.boolean(),
  /** Snapshot revision: 1 for the first line, +1 for each change. */
  rev: position,
  /** When this snapshot was written. */
  updated_at: isoTime,
  // Set once the run has started and ended.
  runner: RunnerInfoSchema.optional(),
  exit_code: z.number().int().nullable().optional(),
  signal: textOrNull.optional(),
  finished_at: isoTime.optional(),
  reason: z.string().min(1).optional(),
  rejected_metrics: z.array(RejectedMetricSchema).min(1).readonly().optional(),
  /** With `run retry`: the run this one retries. */
  retry_of: z.string().min(1).optional(),
  /** Each reported metric's history, read from the metrics file while the run went and at its end. */
  metric_history: z.record(z.string(), MetricHistorySchema).optional(),
});
export type RunRecordJson = z.infer<typeof RunRecordSchema>;

/** What a ClearML run's record keeps of its task's state, as last synced: ClearML's own words. */
export const ClearmlTaskStateSchema = z.strictObject({
  /** ClearML's status (`queued`, `in_progress`, `stopped`, ...). */
  status: z.string().min(1),
  status_reason: textOrNull,
  status_message: textOrNull,
  status_changed: textOrNull,
  /** The task carries the system tag `archived`. */
  archived: z.literal(true).optional(),
  /** The task no longer exists on the server (nothing local was deleted). */
  missing: z.literal(true).optional(),
});

/**
 * A ClearML run's record as expflow writes it (`run submit --clearml`, then `run sync`,
 * `run cancel`, ...): the local fields, and the task it is linked to.
 */
export const ClearmlRunRecordSchema = RunRecordSchema.pick({
  experiment_id: true,
  name: true,
  status: true,
  command: true,
  shell: true,
  cwd: true,
  project: true,
  tags: true,
  timestamp: true,
  metrics: true,
  params: true,
  history: true,
  archived: true,
  rev: true,
  updated_at: true,
}).extend({
  /** The ClearML queue's name. */
  queue: z.string().min(1),
  /** The words run (empty for a clone, whose command is its source's). */
  argv: z.array(z.string()).readonly(),
  method: z.literal("clearml"),
  clearml_task_id: z.string().min(1),
  /** The API server. */
  clearml_server: z.string().min(1),
  clearml_queue_id: z.string().min(1),
  /** The task in the web app, when `api.web_server` is known. */
  clearml_web_url: z.string().min(1).optional(),
  /** With `--clone`: the task it was cloned from. */
  clearml_source_task_id: z.string().min(1).optional(),
  clearml: ClearmlTaskStateSchema.optional(),
  /** ClearML's status reason of a failed task. */
  reason: z.string().min(1).optional(),
  /** With `run retry`: the run this one retries. */
  retry_of: z.string().min(1).optional(),
});

/** `run retry --json`: the runs made, each with the run it retries. */
export const RunRetrySchema = z.strictObject({
  retried: list(z.strictObject({ of: z.string().min(1), id: z.string().min(1), queue: z.string().min(1), status: runState })),
  /** With `--interrupted`: interrupted runs left out because a retry of them exists already. */
  alreadyRetried: list(z.string().min(1)),
});
export type RunRetryJson = z.infer<typeof RunRetrySchema>;
export type ClearmlRunRecordJson = z.infer<typeof ClearmlRunRecordSchema>;

/**
 * `run submit --json`: the record created (queued; dispatched to ClearML with `--clearml`). With
 * `--wait`, the final record once the run has ended, or `null` when it was deleted meanwhile.
 */
export const RunSubmitResultSchema = z.union([RunRecordSchema, ClearmlRunRecordSchema]);
export const RunSubmitWaitResultSchema = RunSubmitResultSchema.nullable();

/** One run a sync moved (or could not move). */
const SyncChangeSchema = z.strictObject({
  id: z.string().min(1),
  taskId: z.string().min(1),
  from: z.string().min(1),
  to: z.string().min(1),
  clearml: z.strictObject({ status: z.string().min(1), statusReason: textOrNull, statusMessage: textOrNull }),
});

/** `run sync --json`: what the refresh of the linked runs found and did. */
export const RunSyncSchema = z.strictObject({
  /** The ClearML API server; `null` when no run is linked (nothing was asked). */
  server: textOrNull,
  checked: count,
  moved: list(SyncChangeSchema),
  /** Runs whose record changed otherwise (ClearML's status words, metrics). */
  updated: count,
  /** Runs whose task no longer exists. */
  missing: list(z.string().min(1)),
  /** Runs whose task is in a state the lifecycle does not allow from theirs. */
  blocked: list(SyncChangeSchema),
  /** Linked runs of another ClearML server, not read. */
  otherServer: list(z.strictObject({ id: z.string().min(1), server: z.string().min(1) })),
  metricsImported: count,
  metricsLeftOut: list(z.string()),
});
export type RunSyncJson = z.infer<typeof RunSyncSchema>;

/** `run status --json`: the latest snapshot of one run, as recorded. */
export const RunStatusSchema = RegistryRecordSchema;

/** One run of `run diff --json`: who each column of the values is. */
export const RunDiffRunSchema = z.strictObject({
  id: z.string().min(1),
  name: textOrNull,
  /** As recorded (`unknown` for a record without one). */
  status: z.string().min(1),
  /** Creation time as recorded (ISO 8601), or `null`. */
  created: textOrNull,
});

/** A value of a diff row for one run: text, a finite number, or `null` (missing). */
const diffValue = z.union([z.string(), z.number(), z.null()]);

/**
 * One row of `run diff --json` (`core/experiment-diff.ts`'s `DiffRow`): a field (`name`,
 * `status`, `project`, `tags`), a parameter (`Section/name`) or a metric, one value per run.
 */
export const RunDiffRowSchema = z
  .strictObject({
    kind: z.enum(["field", "param", "metric"]),
    key: z.string(),
    values: z.array(diffValue).min(2).readonly(),
    /** The values are not all equal (a missing value differs from a present one). */
    differs: z.boolean(),
    /** A metric's registered direction; `null` for a field, a parameter or a custom metric. */
    direction: z.enum(["lower", "higher"]).nullable(),
    /** Per run, against the first run in `direction`; `null` for the first run, a missing value, no direction. */
    marks: list(z.enum(["better", "worse", "same"]).nullable()),
    /** Positions (0-based) of the runs holding the best value, when at least two values are present and not all equal. */
    best: list(count),
  })
  .refine((r) => r.marks.length === r.values.length, { message: "one mark per value" })
  .refine((r) => r.marks[0] === null, { message: "the first run is the reference: it has no mark" })
  .refine((r) => r.direction !== null || (r.best.length === 0 && r.marks.every((m) => m === null)), { message: "only a row with a direction has marks or a best" })
  .refine((r) => r.best.every((i) => i < r.values.length), { message: "best holds positions of values" })
  .refine((r) => r.differs === !r.values.every((v) => v === r.values[0]), { message: "differs is whether the values are not all equal" });
export type RunDiffRowJson = z.infer<typeof RunDiffRowSchema>;

/**
 * `run diff --json`: two or more runs side by side; only the rows that differ unless `all`.
 * Rows come fields first, then parameters, then metrics.
 */
export const RunDiffSchema = z
  .strictObject({
    /** In the order given: the first is the reference the others are marked against. */
    runs: z.array(RunDiffRunSchema).min(2).readonly(),
    /** Every row, not only those that differ (`--all`). */
    all: z.boolean(),
    rows: list(RunDiffRowSchema),
    /** How many rows differ. */
    differing: count,
    /** How many rows were compared (shown or not). */
    compared: count,
  })
  .refine((d) => d.rows.every((r) => r.values.length === d.runs.length), { message: "one value per run in every row" })
  .refine((d) => (d.all ? d.rows.length === d.compared : d.rows.length === d.differing && d.rows.every((r) => r.differs)), { message: "without all, the rows are those that differ; with all, every row compared" })
  .refine((d) => d.differing <= d.compared, { message: "no more rows differ than were compared" });
export type RunDiffJson = z.infer<typeof RunDiffSchema>;

/** One damaged line of the registry. */
export const DamagedLineSchema = z.strictObject({
  line: position,
  reason: z.string().min(1),
});

/** `registry check --json`: what the registry file holds. */
export const RegistryCheckSchema = z
  .strictObject({
    path: z.string().min(1),
    /** Non-blank lines. */
    lines: count,
    /** Readable lines (snapshots, tombstones included). */
    records: count,
    /** Distinct experiments, deleted ones left out, archived ones counted. */
    experiments: count,
    archived: count,
    deleted: count,
    damaged: list(DamagedLineSchema),
    healthy: z.boolean(),
  })
  .refine((h) => h.healthy === (h.damaged.length === 0), { message: "healthy is whether no line is damaged" })
  .refine((h) => h.records + h.damaged.length === h.lines, { message: "lines are records plus damaged lines" });
export type RegistryCheckJson = z.infer<typeof RegistryCheckSchema>;
