import { existsSync } from "node:fs";
import type { z } from "zod";
import { activeRulePack, auditLog, auditSubject, auditValidationJson, resolvePack, validateSubject, verifyAuditLog } from "../app/audit.js";
import { experimentListJson } from "../app/experiment-list.js";
import { listMetricDefinitions, metricDefinition, metricJson, reportMetrics } from "../app/metrics.js";
import type { RankedStore, RankRequest } from "../app/rank.js";
import { rankExperiments } from "../app/rank.js";
import { rankingJson } from "../app/ranking-json.js";
import { diffRuns, dispatchRun, listRuns, retryRuns, runRecord } from "../app/runs.js";
import { clearmlSubmission, submitLocalRun } from "../app/submit.js";
import type { Submission } from "../app/submit.js";
import { AuditRulesSchema, AuditValidationSchema, AuditVerificationSchema } from "../contracts/audit.js";
import { ExperimentListSchema } from "../contracts/experiment.js";
import {
  AuditRulesInput,
  AuditValidateInput,
  CompareScoresInput,
  ExperimentStatusInput,
  ListExperimentsInput,
  McpAuditLogSchema,
  McpMetricListSchema,
  MetricShowInput,
  MetricsListInput,
  NoInput,
  ReportMetricsInput,
  ReportTaskMetricsInput,
  RetryRunsInput,
  RunDiffInput,
  SubmitRunInput,
} from "../contracts/mcp.js";
import { MetricDefinitionSchema, TaskMetricsReportSchema } from "../contracts/metrics.js";
import { RankingSchema } from "../contracts/ranking.js";
import { RegistryRecordSchema, RunDiffSchema, RunRetrySchema, RunStatusSchema } from "../contracts/runs.js";
import { UsageError } from "../core/errors.js";
import type { ToolContext } from "./context.js";

/** What a tool may do: read, write without destroying anything, or ask a human's approval. */
export type ToolKind = "read" | "write" | "approval";

/** A tool of the server: its contract (input and output schemas) and what it calls. */
export interface ToolDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly kind: ToolKind;
  /** A strict object: unknown keys are refused. */
  readonly input: I;
  /** The `--json` contract of the command it mirrors (an object). */
  readonly output: O;
  readonly run: (args: z.infer<I>, ctx: ToolContext) => Promise<z.infer<O>>;
}

function tool<I extends z.ZodObject, O extends z.ZodType>(t: ToolDefinition<I, O>): ToolDefinition {
  return t as unknown as ToolDefinition;
}

const ARG_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The parameters of a submission, checked as `run submit` checks them. @throws {UsageError} `E_USAGE`. */
function submissionArgs(args: Readonly<Record<string, string>> | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(args ?? {})) {
    if (!ARG_NAME.test(name)) {
      throw new UsageError("E_USAGE", `parameter name '${name}' in args: expected letters, digits, '_', '.' or '-', not starting with '-'`, { hint: "e.g. {\"lr\": \"3e-4\"} (passed to the command as --lr 3e-4)", field: "args", value: name });
    }
    out.push([name, value]);
  }
  return out;
}

/** Metric values as the registry's validation takes them (text, as a command line gives them). */
function assignments(values: Readonly<Record<string, number | string>>): Map<string, string> {
  return new Map(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

const listExperiments = tool({
  name: "list_experiments",
  title: "List experiments",
  description: "The runs of the local registry (as `expflow run list --json`): filtered by project, tags, states and creation time, ordered by a field or a metric, at most limit. Runs linked to ClearML are refreshed first unless offline.",
  kind: "read",
  input: ListExperimentsInput,
  output: ExperimentListSchema,
  run: async (a, ctx) => {
    const config = await ctx.config();
    const listing = await listRuns(
      await ctx.local(),
      { project: a.project, tags: a.tags, includeArchived: a.include_archived === true, statuses: a.statuses, since: a.since === undefined ? undefined : new Date(a.since) },
      { refresh: a.offline !== true, warn: ctx.warn, order: { sortBy: a.sort_by, ascending: a.ascending, limit: a.limit }, missingIsEmpty: config.registry.source === "default" },
    );
    return experimentListJson(listing.location, listing.rows.map((r) => r.experiment));
  },
});

const experimentStatus = tool({
  name: "experiment_status",
  title: "Status of an experiment",
  description: "One run's latest record, as recorded (as `expflow run status ID --json`): state, command, metrics and their history, params, lifecycle history. A run linked to ClearML is refreshed first unless offline.",
  kind: "read",
  input: ExperimentStatusInput,
  output: RunStatusSchema,
  run: async (a, ctx) => runRecord(await ctx.local(), a.id, { refresh: a.offline !== true, warn: ctx.warn }),
});

/** The ranking a compare_scores call asks for. */
export function rankRequestOfArgs(a: z.infer<typeof CompareScoresInput>): RankRequest {
  return {
    filter: { project: a.project, tags: a.tags, includeArchived: a.include_archived, anyTag: a.any_tag, includeSubprojects: a.include_subprojects },
    statuses: a.statuses ?? [],
    sortBy: a.sort_by,
    pareto: a.pareto,
    ascending: a.ascending,
    thenBy: a.then_by,
    gates: a.gates ?? [],
    useThresholds: a.use_thresholds,
    onlyPassing: a.only_passing,
    max: a.max,
  };
}

/** Ranks the local registry (a fresh home's missing default registry as an empty one) or, with `clearml`, a ClearML project. */
export async function rankFor(a: z.infer<typeof CompareScoresInput>, ctx: ToolContext): Promise<z.infer<typeof RankingSchema>> {
  const registry = await ctx.metrics();
  let store: RankedStore;
  if (a.clearml === true) {
    if (a.project === undefined) throw new UsageError("E_USAGE", "a ClearML ranking needs the project", { hint: "name the ClearML project (exact name; a subproject by its full path)", field: "project" });
    store = await ctx.clearml({ listParams: false });
  } else {
    if (a.any_tag !== undefined || a.include_subprojects !== undefined) throw new UsageError("E_USAGE", "any_tag and include_subprojects select ClearML tasks: add clearml", { field: "clearml" });
    const config = await ctx.config();
    const { store: local } = await ctx.local();
    store = config.registry.source === "default" && !existsSync(local.location) ? { location: local.location, list: async () => [] } : local;
  }
  const ranking = await rankExperiments(store, rankRequestOfArgs(a), registry);
  if (ranking.listed === 0) ctx.warn(`no experiments match the selection in ${ranking.location}`);
  return rankingJson(ranking.result);
}

const compareScores = tool({
  name: "compare_scores",
  title: "Rank experiments",
  description:
    "Rank experiments by a metric (sort_by) or by Pareto fronts (pareto), with gates (metric:op:value), the registry's thresholds (use_thresholds), tie-breakers, a status selection (default: completed) and max; as `expflow compare-scores --json`. With clearml and project: the tasks of a ClearML project.",
  kind: "read",
  input: CompareScoresInput,
  output: RankingSchema,
  run: rankFor,
});

const auditValidate = tool({
  name: "audit_validate",
  title: "Audit an experiment",
  description: "Check an experiment's status, metrics and parameters against the active rule pack (as `expflow audit validate ID --json`); all_pass is the verdict. task_id audits a ClearML task.",
  kind: "read",
  input: AuditValidateInput,
  output: AuditValidationSchema,
  run: async (a, ctx) => {
    const config = await ctx.config();
    const active = await activeRulePack({ cwd: ctx.options.cwd, config }, a.rules);
    const registry = await ctx.metrics();
    const subject = await auditSubject({ local: () => ctx.local(), clearml: () => ctx.clearml() }, a.id, a.task_id);
    return auditValidationJson(subject, active.pack, validateSubject(subject, active.pack, registry));
  },
});

const runDiff = tool({
  name: "run_diff",
  title: "Compare runs",
  description: "Two or more runs side by side (as `expflow run diff --json`): the fields, params and metrics that differ (every row with all), each metric marked better or worse than the first run's in its registered direction.",
  kind: "read",
  input: RunDiffInput,
  output: RunDiffSchema,
  run: async (a, ctx) => diffRuns(await ctx.local(), a.ids, { all: a.all === true, refresh: a.offline !== true, warn: ctx.warn }),
});

const metricsList = tool({
  name: "metrics_list",
  title: "The metrics registry",
  description: "The registered metrics (as `expflow metrics list --json`, under metrics): name, group, direction, threshold, unit, aliases. group: one group only.",
  kind: "read",
  input: MetricsListInput,
  output: McpMetricListSchema,
  run: async (a, ctx) => ({ metrics: listMetricDefinitions(await ctx.metrics(), a.group).map(metricJson) }),
});

const metricShow = tool({
  name: "metric_show",
  title: "One registered metric",
  description: "A registered metric by name or alias (as `expflow metrics show NAME --json`).",
  kind: "read",
  input: MetricShowInput,
  output: MetricDefinitionSchema,
  run: async (a, ctx) => metricJson(metricDefinition(await ctx.metrics(), a.name)),
});

const auditRules = tool({
  name: "audit_rules",
  title: "The rule pack",
  description: "The active rule pack (or the one in rules), every metric rule with its bound resolved through the metrics registry, and every parameter rule (as `expflow audit rules --json`).",
  kind: "read",
  input: AuditRulesInput,
  output: AuditRulesSchema,
  run: async (a, ctx) => {
    const config = await ctx.config();
    return resolvePack(await activeRulePack({ cwd: ctx.options.cwd, config }, a.rules), await ctx.metrics());
  },
});

const auditLogTool = tool({
  name: "audit_log",
  title: "The audit log",
  description: "Every record of the audit log of protected actions (as `expflow audit log --json`, under records): who, what, on what, the outcome.",
  kind: "read",
  input: NoInput,
  output: McpAuditLogSchema,
  run: async (_a, ctx) => ({ records: auditLog((await ctx.config()).home) }),
});

const auditVerify = tool({
  name: "audit_verify",
  title: "Verify the audit log",
  description: "Verify the audit log's hash chain and anchors (as `expflow audit log --verify --json`); ok false means tampered or damaged.",
  kind: "read",
  input: NoInput,
  output: AuditVerificationSchema,
  run: async (_a, ctx) => verifyAuditLog((await ctx.config()).home),
});

const submitRun = tool({
  name: "submit_run",
  title: "Submit a run",
  description:
    "Record a new run for the local agent of its queue and return its record (as `expflow run submit --json`); with clearml, dispatch it to a ClearML queue (a new task from the command, or a clone of the task clone).",
  kind: "write",
  input: SubmitRunInput,
  output: RegistryRecordSchema,
  run: async (a, ctx) => {
    if (a.clearml !== true && (a.clone !== undefined || a.no_repo !== undefined)) throw new UsageError("E_USAGE", "clone and no_repo make a ClearML task: add clearml", { field: "clearml" });
    if (a.clone !== undefined) {
      if (a.command.length > 0) throw new UsageError("E_USAGE", "clone makes the task from an existing one: give no command", { hint: "change its parameters with args", field: "command" });
      if (a.shell === true) throw new UsageError("E_USAGE", "shell applies to a command; clone takes none", { field: "shell" });
    } else if (a.command.length === 0 || a.command[0]!.trim() === "") {
      throw new UsageError("E_USAGE", "no command to run", { hint: "give the command's words, e.g. [\"python\", \"train.py\", \"--epochs\", \"10\"]", field: "command" });
    }
    const submission: Submission = { command: a.command, args: submissionArgs(a.args), shell: a.shell === true, cwd: ctx.options.cwd, queue: a.queue, name: a.name ?? null, project: a.project ?? null, tags: a.tags };
    const backend = await ctx.local();
    if (a.clearml === true) {
      const done = await dispatchRun(backend, clearmlSubmission(submission, { clone: a.clone, noRepo: a.no_repo === true }));
      for (const note of done.notes) ctx.warn(note);
      return done.record;
    }
    const { id, record } = await submitLocalRun(backend, { ...submission, tags: a.tags ?? [] });
    return record ?? { experiment_id: id };
  },
});

const reportMetricsTool = tool({
  name: "report_metrics",
  title: "Report metrics to a run",
  description: "Validate metric values through the metrics registry and merge them into a local run's record (as `expflow metrics report ID name=value --json`); an unregistered name is kept as a custom metric unless the registry is strict.",
  kind: "write",
  input: ReportMetricsInput,
  output: RegistryRecordSchema,
  run: async (a, ctx) => {
    const registry = await ctx.metrics();
    const report = await reportMetrics({ registry, local: () => ctx.local(), clearml: () => ctx.clearml() }, { kind: "local", id: a.id }, assignments(a.values));
    for (const name of report.custom) ctx.warn(`'${name}' is not a registered metric: kept as a custom metric`);
    if (report.kind !== "local") throw new Error("a local report came back from ClearML");
    return report.record;
  },
});

const reportTaskMetrics = tool({
  name: "report_task_metrics",
  title: "Report metrics to a ClearML task",
  description: "Validate metric values through the metrics registry and send them to a ClearML task as scalars at iteration 0 (as `expflow metrics report --task-id ID name=value --json`).",
  kind: "write",
  input: ReportTaskMetricsInput,
  output: TaskMetricsReportSchema,
  run: async (a, ctx) => {
    const registry = await ctx.metrics();
    const store = await ctx.clearml();
    const report = await reportMetrics({ registry, local: () => ctx.local(), clearml: () => store }, { kind: "clearml", taskId: a.task_id }, assignments(a.values));
    if (report.kind !== "clearml") throw new Error("a ClearML report came back local");
    return { task_id: report.taskId, server: report.server, iteration: 0 as const, scalars: [...report.scalars] };
  },
});

const retryRunsTool = tool({
  name: "retry_runs",
  title: "Retry runs",
  description: "Requeue a failed or cancelled run (id) as a new run linked to it, or every run an interrupted agent failed (interrupted); the originals stay as they are (as `expflow run retry --json`).",
  kind: "write",
  input: RetryRunsInput,
  output: RunRetrySchema,
  run: async (a, ctx) => {
    if ((a.id === undefined) === (a.interrupted !== true)) {
      throw new UsageError("E_USAGE", a.id === undefined ? "name the run to retry (id), or set interrupted" : "interrupted retries every interrupted run: give no id with it", { field: "id" });
    }
    const report = await retryRuns(await ctx.local(), a.id === undefined ? { interrupted: true } : { id: a.id }, a.queue === undefined ? {} : { queue: a.queue });
    return { retried: report.retried.map((r) => ({ ...r, status: r.status as z.infer<typeof RunRetrySchema>["retried"][number]["status"] })), alreadyRetried: report.alreadyRetried };
  },
});

/** Every read and non-destructive tool, in the order of the tool list. */
export const READ_WRITE_TOOLS: readonly ToolDefinition[] = [
  listExperiments,
  experimentStatus,
  compareScores,
  auditValidate,
  runDiff,
  metricsList,
  metricShow,
  auditRules,
  auditLogTool,
  auditVerify,
  submitRun,
  reportMetricsTool,
  reportTaskMetrics,
  retryRunsTool,
];
