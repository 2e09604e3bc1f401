import { z } from "zod";
import { ApprovalListSchema, ApprovalSchema, approvalId } from "./approvals.js";
import { AuditLogSchema } from "./audit.js";
import { MetricListSchema } from "./metrics.js";
import { isoTime } from "./primitives.js";

/**
 * What the MCP server (`expflow mcp`) takes and returns beyond the `--json` contracts it shares
 * with the CLI: the tools' arguments (strict objects: an unknown key is refused), and the
 * wrappers of the outputs that are arrays on the command line (MCP structured content is an
 * object). Every other tool returns exactly the `--json` shape of its command.
 */

const id = z.string().min(1).describe("an experiment id or a unique prefix of one");
const text = z.string().min(1);
const texts = z.array(text);
const flag = z.boolean();

/** The selection of the listing tools: project, tags, states, archived runs. */
const selection = {
  project: text.optional().describe("only experiments of this project (exact name)"),
  tags: texts.optional().describe("only experiments carrying all of these tags"),
  statuses: texts.optional().describe("only experiments in one of these states"),
  include_archived: flag.optional().describe("include archived experiments (left out by default)"),
};

/** `list_experiments`: `run list`. */
export const ListExperimentsInput = z.strictObject({
  ...selection,
  since: z.iso.datetime({ offset: true }).optional().describe("only runs created at this time or later (ISO 8601)"),
  sort_by: text.optional().describe("a field (id, name, status, queue, project, tags, created, updated_at, archived) or a metric"),
  ascending: flag.optional().describe("lowest first (default: a metric in its registered direction, a field lowest first)"),
  limit: z.number().int().positive().optional(),
  offline: flag.optional().describe("do not refresh runs linked to ClearML first"),
});

/** `experiment_status`: `run status`. */
export const ExperimentStatusInput = z.strictObject({ id, offline: flag.optional() });

/** `compare_scores`: `compare-scores`, and `clearml compare-scores` with `clearml: true`. */
export const CompareScoresInput = z.strictObject({
  ...selection,
  sort_by: text.optional().describe("the metric to rank by (required unless pareto is given; with it, orders each front)"),
  pareto: text.optional().describe("rank by Pareto fronts of two or more objectives, e.g. pde_mean:min,train_time_min:min"),
  ascending: flag.optional().describe("true: lowest sort_by first; false: highest first; default: the metric's registered direction"),
  then_by: texts.optional().describe("tie-breakers, in their registered direction"),
  gates: texts.optional().describe("gates as metric:op:value, e.g. pde_mean:lt:18.09; ops lt le gt ge eq ne"),
  use_thresholds: flag.optional().describe("gate every registered metric that has a threshold"),
  only_passing: flag.optional().describe("only the experiments passing every gate"),
  max: z.number().int().positive().optional().describe("at most this many rows, after ordering"),
  clearml: flag.optional().describe("rank the tasks of a ClearML project (project required) instead of the local registry"),
  any_tag: flag.optional().describe("ClearML: tags means any of them rather than all"),
  include_subprojects: flag.optional().describe("ClearML: include the tasks of the project's subprojects"),
});

/** `audit_validate`: `audit validate`. */
export const AuditValidateInput = z.strictObject({
  id: text.describe("the experiment (id or unique prefix); with task_id, only a label"),
  task_id: text.optional().describe("audit this ClearML task"),
  rules: text.optional().describe("a rule pack file (default: audit.rules in config, else the built-in pdebench pack)"),
});

/** `run_diff`: `run diff`. */
export const RunDiffInput = z.strictObject({
  ids: z.array(text).min(2).describe("two or more runs (ids or unique prefixes); the first is the reference"),
  all: flag.optional().describe("every row, not only those that differ"),
  offline: flag.optional(),
});

/** `metrics_list`: `metrics list`. */
export const MetricsListInput = z.strictObject({ group: text.optional() });
/** `metric_show`: `metrics show`. */
export const MetricShowInput = z.strictObject({ name: text.describe("a registered metric's name or alias") });
/** `audit_rules`: `audit rules`. */
export const AuditRulesInput = z.strictObject({ rules: text.optional().describe("a rule pack file (default: the active one)") });
/** `audit_log` and `audit_verify`: `audit log` and `audit log --verify`. */
export const NoInput = z.strictObject({});
/** `approval_status`: one approval request. */
export const ApprovalStatusInput = z.strictObject({ id: text.describe("the approval request's id (apr-...) or a unique prefix of one") });
/** `approvals_list`: the pending requests, or every one. */
export const ApprovalsListInput = z.strictObject({
  all: flag.optional().describe("every request, decided ones too (default: pending ones only)"),
  limit: z.number().int().positive().max(1000).optional().describe("at most this many, newest first"),
});

/** `submit_run`: `run submit` (`clearml: true`: `run submit --clearml`). */
export const SubmitRunInput = z.strictObject({
  command: z.array(z.string()).describe("the command's words, e.g. [\"python\", \"train.py\"] (empty only with clone)"),
  args: z.record(z.string(), z.string()).optional().describe("parameters: each passed as --name value and recorded as Args/name"),
  shell: flag.optional().describe("the words form one shell command line"),
  queue: text.optional(),
  name: text.optional(),
  project: text.optional(),
  tags: texts.optional(),
  clearml: flag.optional().describe("dispatch the run to a ClearML queue"),
  clone: text.optional().describe("ClearML: clone this task instead of running a command"),
  no_repo: flag.optional().describe("ClearML: send no repository with the task"),
});

/** `report_metrics`: `metrics report ID name=value...`. */
export const ReportMetricsInput = z.strictObject({
  id,
  values: z.record(z.string(), z.union([z.number(), z.string()])).describe("metric values by name, e.g. {\"pde_mean\": 16.2}"),
});
/** `report_task_metrics`: `metrics report --task-id ID name=value...`. */
export const ReportTaskMetricsInput = z.strictObject({
  task_id: text,
  values: z.record(z.string(), z.union([z.number(), z.string()])),
});

/** `retry_runs`: `run retry`. */
export const RetryRunsInput = z.strictObject({
  id: text.optional().describe("the failed or cancelled run to retry"),
  interrupted: flag.optional().describe("retry every run an interrupted agent failed (no id then)"),
  queue: text.optional(),
});

/** Why the agent asks: shown to the human who decides, recorded with the request. */
const reason = z.string().max(2000).optional().describe("why you ask, for the human who decides (shown and recorded with the request)");

/** `cancel_run`, `archive_run`, `restore_run`, `delete_run`: a request for a human's approval. */
export const RunActionInput = z.strictObject({ id, reason });
/** `compact_registry`, `pin_clear`, `pin_change`: a request for a human's approval (the new PIN of `pin_change` is typed by the human). */
export const ApprovalOnlyInput = z.strictObject({ reason });
/** `pin_policy`: whether `--force` may stand in for the PIN. */
export const PinPolicyInput = z.strictObject({ allow_force: flag.describe("true: --force may stand in for the PIN (each use logged); false: it may not"), reason });

/**
 * What a destructive tool returns: the pending request it made (nothing was done) and what
 * happens next: the commands a human runs, and how the agent follows the outcome.
 */
export const ApprovalRequestedSchema = z.strictObject({
  request: ApprovalSchema,
  next: z.strictObject({
    /** `expflow approve <id>`: shows the request, asks the PIN, performs it through the guard. */
    approve: z.string().min(1),
    /** `expflow deny <id>`: refuses it. */
    deny: z.string().min(1),
    /** `expflow approvals`: what is pending. */
    list: z.literal("expflow approvals"),
    /** The tool to call, and its arguments, to follow the outcome. */
    follow: z.strictObject({ tool: z.literal("approval_status"), arguments: z.strictObject({ id: approvalId }) }),
    /** Unless decided before, the request expires then (and can no longer be approved). */
    expires_at: isoTime,
    /** The same, in words, for the agent to relay to its human. */
    message: z.string().min(1),
  }),
});
export type ApprovalRequestedJson = z.infer<typeof ApprovalRequestedSchema>;

/** `approvals_list`'s structured content: `approvals --json`'s array, as `approvals`. */
export const McpApprovalListSchema = z.strictObject({ approvals: ApprovalListSchema });

/** `metrics_list`'s structured content: `metrics list --json`'s array, as `metrics`. */
export const McpMetricListSchema = z.strictObject({ metrics: MetricListSchema });
/** `audit_log`'s structured content: `audit log --json`'s array, as `records`. */
export const McpAuditLogSchema = z.strictObject({ records: AuditLogSchema });
