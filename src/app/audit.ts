import { resolve } from "node:path";
import type { ResolvedConfig } from "../config/load.js";
import { loadRulePack } from "../config/rules.js";
import type { AuditRecordJson, AuditRulesJson, AuditValidationJson, AuditVerificationJson, MetricRuleJson, ParamRuleJson } from "../contracts/audit.js";
import { ConfigError, ExpflowError } from "../core/errors.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
import type { RulePack, RulesValidation } from "../core/rules/rules.js";
import { metricBound, PDEBENCH_RULES, statusRuleLabel, validateCompetitionRules } from "../core/rules/rules.js";
import { readAudit, verifyAudit } from "../security/audit-log.js";
import type { Experiment } from "../core/experiment.js";
import { assertValidId } from "../core/ids.js";
import type { RegistryRecord } from "../stores/local/record.js";
import { experimentFromRecord, plainObject } from "../stores/local/record.js";
import type { Store } from "../stores/store.js";
import type { LocalBackend } from "./backend.js";
import { runRecord } from "./runs.js";

/** What an audit reads: from a registry record, or from a ClearML task. */
export interface AuditSubject {
  /** The id the report shows. */
  readonly label: string;
  readonly experiment: Experiment;
  /** The metrics and parameters checked (a local record's as written, unnormalised). */
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly params: Readonly<Record<string, unknown>>;
  /** Where the metrics and parameters came from, for the report. */
  readonly source: string | null;
}

/** Opens the backends an audit may read, only when it needs them. */
export interface AuditBackends {
  readonly local: () => Promise<LocalBackend>;
  /** The ClearML store (for `taskId` and records linked to a task). */
  readonly clearml: () => Store | Promise<Store>;
}

/** The ClearML task a record links to, checked by the id rule. @throws {UsageError} `E_BAD_ID`. */
function linkedTask(record: RegistryRecord): string | null {
  const t = record.clearml_task_id;
  if (typeof t === "string" && t.trim() !== "") return assertValidId(t.trim(), "ClearML task id");
  if (typeof t === "number" && Number.isFinite(t)) return assertValidId(String(t), "ClearML task id");
  return null;
}

/** The ClearML task `taskId`, as an audit subject labelled `label`. */
async function taskSubject(store: Store, label: string, taskId: string): Promise<AuditSubject> {
  const task = await store.require(taskId);
  return { label, experiment: task, metrics: task.metrics, params: task.params, source: `ClearML task ${taskId} on ${store.location}` };
}

/**
 * The experiment to audit: with `taskId`, that ClearML task (the id is then only a label);
 * otherwise the latest live record by id or unique prefix, and a record linked to a ClearML task
 * (`clearml_task_id`) takes its status, tags, metrics and parameters from that task, where they
 * are current (a stale local status must not certify a task that was stopped), keeping the local
 * id, name and project.
 */
export async function auditSubject(backends: AuditBackends, id: string, taskId?: string): Promise<AuditSubject> {
  if (taskId !== undefined) {
    // The id first: one that is not a name is exit 2 before ClearML is even looked for.
    const task = assertValidId(taskId, "ClearML task id");
    return taskSubject(await backends.clearml(), id, task);
  }
  // The latest live record by id or unique prefix (a full read also finds ids written with \u escapes).
  const record = await runRecord(await backends.local(), id);
  const task = linkedTask(record);
  if (task === null) {
    return {
      label: record.experiment_id,
      experiment: experimentFromRecord(record, record.experiment_id),
      metrics: plainObject(record.metrics) ?? {},
      params: plainObject(record.params) ?? {},
      source: null,
    };
  }
  let linked: AuditSubject;
  try {
    linked = await taskSubject(await backends.clearml(), record.experiment_id, task);
  } catch (e) {
    // Say why ClearML is needed at all: the user asked about a local experiment. The error keeps
    // its class, code, hint and ClearML details.
    if (e instanceof ExpflowError) e.message = `experiment ${record.experiment_id} is linked to ClearML task ${task}, whose metrics and parameters are read from ClearML: ${e.message}`;
    throw e;
  }
  const local = experimentFromRecord(record, record.experiment_id);
  return { ...linked, experiment: { ...linked.experiment, id: local.id, name: local.name ?? linked.experiment.name, project: local.project ?? linked.experiment.project } };
}

/** The active rule pack and where it came from. */
export interface ActivePack {
  readonly pack: RulePack;
  /** `built-in`, or the rule file (absolute). */
  readonly source: string;
  /** How it was chosen: named by the caller (`rules`), `audit.rules` in config, or the built-in default. */
  readonly origin: "flag" | "config" | "builtin";
}

/** The end of the hint of a broken rule pack named by configuration (the terminal says it with its flag). */
export const RULES_CONFIG_HINT_END = "fix it there, or name another rule file with the rules option";

/**
 * The rule pack in force: `rules` (a file, relative to `cwd`), else `audit.rules` from `config`
 * (relative to its file), else the built-in {@link PDEBENCH_RULES}.
 *
 * @throws {ConfigError} (exit 2) naming the rule file, the line and the key at fault; for a pack
 *   named by configuration, the hint names the configuration file.
 */
export async function activeRulePack(where: { readonly cwd: string; readonly config?: ResolvedConfig }, rules: string | undefined): Promise<ActivePack> {
  if (rules !== undefined) {
    const file = resolve(where.cwd, rules);
    return { pack: await loadRulePack(file), source: file, origin: "flag" };
  }
  const auditRules = where.config?.auditRules;
  if (auditRules !== undefined) {
    const file = auditRules.value;
    try {
      return { pack: await loadRulePack(file), source: file, origin: "config" };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const prefix = `${e.source}${e.key ? `: key '${e.key}'` : ""}: `;
      const message = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
      throw new ConfigError(e.source, e.key, message, {
        hint: `the rule pack is set by audit.rules in ${auditRules.source}; ${RULES_CONFIG_HINT_END}`,
        cause: e,
      });
    }
  }
  return { pack: PDEBENCH_RULES, source: "built-in", origin: "builtin" };
}

/** What the rules check about the run: its status and metrics and parameters. */
export function validateSubject(subject: AuditSubject, pack: RulePack, registry: MetricRegistry): RulesValidation {
  const e = subject.experiment;
  return validateCompetitionRules(subject.metrics, subject.params, pack, { registry, ambiguousMetrics: e.ambiguousMetrics, status: e.status, backendStatus: e.backendStatus });
}

/** An audit's verdict in its contract (`AuditValidationSchema`): what `audit validate --json` prints and the MCP server returns. */
export function auditValidationJson(subject: AuditSubject, pack: RulePack, validation: RulesValidation): AuditValidationJson {
  return {
    experiment_id: subject.label,
    status: subject.experiment.status,
    clearml_status: subject.experiment.backendStatus ?? null,
    rules: pack.name,
    all_pass: validation.all_pass,
    checks: validation.checks,
    metrics: validation.metrics,
  };
}

/** The pack with every bound resolved through `registry`, and the labels the checks will carry (`AuditRulesSchema`). */
export function resolvePack(active: ActivePack, registry: MetricRegistry): AuditRulesJson {
  const { pack } = active;
  // The labels come from the validation itself, so they cannot drift from what `validate` shows.
  // The status rule's check, when there is one, comes first.
  const labels = validateCompetitionRules({}, {}, pack, { registry })
    .checks.map((c) => c.label)
    .slice(pack.status ? 1 : 0);
  const metrics = pack.metrics.map((r, i): MetricRuleJson => {
    const bound = metricBound(r, registry);
    return {
      name: registry.resolve(r.name) ?? r.name,
      label: labels[i]!,
      required: bound !== null || r.required !== false,
      op: bound?.op ?? null,
      value: bound?.value ?? null,
      bound_source: bound === null ? null : r.useThreshold ? "registry" : "rule",
    };
  });
  const params = pack.params.map(
    (r, i): ParamRuleJson => ({
      name: r.name,
      label: labels[pack.metrics.length + i]!,
      match: r.match ?? r.name,
      type: r.type ?? null,
      min: r.min ?? null,
      max: r.max ?? null,
      allowed: r.allowed ? [...r.allowed] : null,
      required: r.required ?? true,
    }),
  );
  const status = pack.status ? { label: statusRuleLabel(pack.status), allowed: [...pack.status.allowed] } : null;
  return { name: pack.name, description: pack.description ?? null, source: active.source, status, metrics, params };
}

/** The audit log of `home`, every record as written (`AuditLogSchema`). */
export function auditLog(home: string): AuditRecordJson[] {
  return readAudit(home);
}

/** The verification of the audit log's hash chain and anchors (`AuditVerificationSchema`). */
export function verifyAuditLog(home: string): AuditVerificationJson {
  return verifyAudit(home);
}
