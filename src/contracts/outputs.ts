import type { z } from "zod";
import { AuditLogSchema, AuditRulesSchema, AuditValidationSchema, AuditVerificationSchema } from "./audit.js";
import { ClearmlStatusSchema } from "./clearml.js";
import { ConfigShowSchema } from "./config.js";
import { ErrorOutputSchema } from "./error.js";
import { ExperimentListSchema } from "./experiment.js";
import { MetricAddSchema, MetricDefinitionSchema, MetricListSchema, TaskMetricsReportSchema } from "./metrics.js";
import { RankingSchema } from "./ranking.js";
import { RawRunListSchema, RegistryCheckSchema, RunStatusSchema, RunSubmitResultSchema, RunSubmitWaitResultSchema, RunSyncSchema, RunRetrySchema, RegistryRecordSchema, RunDiffSchema } from "./runs.js";
import { PinPolicySchema, PinStatusSchema } from "./security.js";
import { ApprovalListSchema, ApprovalSchema } from "./approvals.js";

/**
 * What each command prints on standard output with `--json` (keys: the command, then the flags
 * that change the shape). Every command with a `--json` option is here; the test
 * `test/contracts/json-outputs.test.ts` runs each one and fails on a command missing from this
 * table or an output that does not fit.
 */
export const JSON_OUTPUTS = {
  "compare-scores": RankingSchema,
  "clearml status": ClearmlStatusSchema,
  "clearml compare-scores": RankingSchema,
  "clearml tasks": ExperimentListSchema,
  "metrics list": MetricListSchema,
  "metrics show": MetricDefinitionSchema,
  "metrics report": RegistryRecordSchema,
  "metrics report --task-id": TaskMetricsReportSchema,
  "metrics add": MetricAddSchema,
  "run submit": RunSubmitResultSchema,
  "run submit --wait": RunSubmitWaitResultSchema,
  "run list": ExperimentListSchema,
  "run list --raw": RawRunListSchema,
  "run status": RunStatusSchema,
  "run diff": RunDiffSchema,
  "run sync": RunSyncSchema,
  "run retry": RunRetrySchema,
  "registry check": RegistryCheckSchema,
  "config show": ConfigShowSchema,
  "pin policy": PinPolicySchema,
  "pin status": PinStatusSchema,
  approvals: ApprovalListSchema,
  approve: ApprovalSchema,
  deny: ApprovalSchema,
  "audit validate": AuditValidationSchema,
  "audit rules": AuditRulesSchema,
  "audit log": AuditLogSchema,
  "audit log --verify": AuditVerificationSchema,
} as const satisfies Readonly<Record<string, z.ZodType>>;

/** A key of {@link JSON_OUTPUTS}. */
export type JsonOutput = keyof typeof JSON_OUTPUTS;

/** What every command writes to standard error when it fails under `--json` (`clearml status` also prints its report on standard output). */
export const JSON_ERROR_OUTPUT = ErrorOutputSchema;
