import { z } from "zod";
import { count, gateOp, isoTime, list, metricValues, position, sha256Hex, textOrNull } from "./primitives.js";

/** One checked rule (`core/rules/rules.ts`'s `RuleCheck`). */
export const RuleCheckSchema = z.strictObject({
  /** The metric or parameter rule's name, or `status` for the status rule. */
  name: z.string().min(1),
  label: z.string().min(1),
  /** A metric's number, a parameter's text, the run's status, or `null` when missing. */
  value: z.union([z.number(), z.string()]).nullable(),
  passed: z.boolean(),
  /** Why it passed or failed, in words. */
  detail: z.string(),
});
export type RuleCheckJson = z.infer<typeof RuleCheckSchema>;

/** `audit validate --json`: an experiment checked against a rule pack. */
export const AuditValidationSchema = z
  .strictObject({
    /** The id audited (with `--task-id`: the label given). */
    experiment_id: z.string().min(1),
    /** The run's lifecycle state (`unknown` for a record without one). */
    status: z.string(),
    /** The ClearML task's own status when audited from ClearML, else `null`. */
    clearml_status: textOrNull,
    /** The rule pack's name. */
    rules: z.string().min(1),
    all_pass: z.boolean(),
    /** The status check first (when the pack has a status rule), then metric rules, then parameter rules. */
    checks: list(RuleCheckSchema),
    /** The metrics checked, as recorded. */
    metrics: metricValues,
  })
  .refine((v) => v.all_pass === v.checks.every((c) => c.passed), { message: "all_pass is whether every check passed" });
export type AuditValidationJson = z.infer<typeof AuditValidationSchema>;

/** A metric rule with its bound resolved through the metrics registry. */
export const MetricRuleSchema = z
  .strictObject({
    name: z.string().min(1),
    label: z.string().min(1),
    required: z.boolean(),
    op: gateOp.nullable(),
    value: z.number().nullable(),
    /** `registry` (the metric's registered threshold), `rule` (op and value in the pack), or `null` (presence only). */
    bound_source: z.enum(["registry", "rule"]).nullable(),
  })
  .refine((r) => (r.op === null) === (r.value === null) && (r.op === null) === (r.bound_source === null), {
    message: "op, value and bound_source are all set or all null",
  });
export type MetricRuleJson = z.infer<typeof MetricRuleSchema>;

/** A parameter rule; fields the pack leaves out are `null`. */
export const ParamRuleSchema = z.strictObject({
  name: z.string().min(1),
  label: z.string().min(1),
  /** The pattern (RE2 syntax, case-insensitive) searched in `Section/name` keys. */
  match: z.string().min(1),
  type: z.enum(["integer", "number", "string"]).nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  allowed: z.array(z.string()).min(1).readonly().nullable(),
  required: z.boolean(),
});
export type ParamRuleJson = z.infer<typeof ParamRuleSchema>;

/** The status rule: the states a run may be in. */
export const StatusRuleSchema = z.strictObject({
  label: z.string().min(1),
  allowed: z.array(z.string()).min(1).readonly(),
});
export type StatusRuleJson = z.infer<typeof StatusRuleSchema>;

/** `audit rules --json`: the active rule pack, every bound resolved. */
export const AuditRulesSchema = z.strictObject({
  name: z.string().min(1),
  description: textOrNull,
  /** `built-in`, or the rule file (absolute). */
  source: z.string().min(1),
  /** `null` when the pack allows any status. */
  status: StatusRuleSchema.nullable(),
  metrics: list(MetricRuleSchema),
  params: list(ParamRuleSchema),
});
export type AuditRulesJson = z.infer<typeof AuditRulesSchema>;

/** One record of the audit log (`$EXPFLOW_HOME/audit.jsonl`), as expflow writes it. */
export const AuditRecordSchema = z.strictObject({
  /** 1, 2, 3, ...: a gap or repeat shows a removed or inserted record. */
  seq: position,
  time: isoTime,
  user: z.string(),
  host: z.string(),
  /** `pin.check`, `pin.init`, `run.cancel`, `registry.compact`, ... */
  action: z.string().min(1),
  /** An experiment id, a registry path, `pin`, ... */
  target: z.string(),
  outcome: z.enum(["allowed", "denied", "forced", "locked", "no-pin", "done", "failed", "damaged", "confirmed", "requested", "expired"]),
  detail: textOrNull,
  /** The previous record's hash (64 zeros for the first). */
  prev: sha256Hex,
  hash: sha256Hex,
});
export type AuditRecordJson = z.infer<typeof AuditRecordSchema>;

/**
 * `audit log --json`: every readable record, in the order of the log. A line altered by hand is
 * printed as it is found (so it may not fit {@link AuditRecordSchema}); `audit log --verify` says so.
 */
export const AuditLogSchema = list(AuditRecordSchema);
export type AuditLogJson = z.infer<typeof AuditLogSchema>;

/** One thing wrong with the audit log. */
export const AuditProblemSchema = z.strictObject({
  /** The 1-based line concerned, when there is one. */
  line: position.nullable(),
  /** The record's seq concerned, when known (as found: a tampered log may hold any number). */
  seq: z.number().int().nullable(),
  reason: z.string().min(1),
});
export type AuditProblemJson = z.infer<typeof AuditProblemSchema>;

/** `audit log --verify --json`: whether the hash chain and its anchors hold. */
export const AuditVerificationSchema = z
  .strictObject({
    ok: z.boolean(),
    /** Records read. */
    records: count,
    /** The first of `problems`, or `null`. */
    problem: AuditProblemSchema.nullable(),
    problems: list(AuditProblemSchema),
    /** What is not a problem but worth knowing (crash remnants a later write confirmed). */
    notes: list(z.string()),
  })
  .refine((v) => v.ok === (v.problems.length === 0), { message: "ok is whether no problem was found" })
  .refine((v) => JSON.stringify(v.problem) === JSON.stringify(v.problems[0] ?? null), { message: "problem is the first of problems" });
export type AuditVerificationJson = z.infer<typeof AuditVerificationSchema>;
