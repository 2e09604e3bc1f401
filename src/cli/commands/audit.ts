import { declareMetricCommand } from "../output/terminal-words.js";
import { existsSync, statSync } from "node:fs";
import type { AuditRulesJson, AuditValidationJson, MetricRuleJson, ParamRuleJson, StatusRuleJson } from "../../contracts/audit.js";
import { makeDirs, storageError } from "../../util/fs-errors.js";
import { dirname, resolve } from "node:path";
import { metricRegistryOf } from "../../config/load.js";
import { ExpflowError, UsageError } from "../../core/errors.js";
import type { Experiment } from "../../core/experiment.js";
import { replaceFileAtomic, writeAll } from "../../util/atomic-file.js";
import { GATE_OP_SYMBOLS } from "../../core/gates/gate.js";
import type { RuleCheck, RulesValidation } from "../../core/rules/rules.js";
import type { CommandContext } from "../context.js";
import type { AuditReportOptions, AuditRulesOptions, AuditValidateOptions } from "../define/audit.js";
import { formatOf } from "../context.js";
import { renderAuditReport } from "../output/audit-report.js";
import { renderJUnit } from "../output/junit.js";
import type { Column } from "../output/render.js";
import { formatNumber, renderCsv, renderMarkdown, renderTable } from "../output/render.js";
import { tableWidth } from "../output/table-fit.js";
import { printable } from "../output/sanitize.js";
import type { ClearmlFlags } from "../clearml.js";
import type { ActivePack, AuditSubject } from "../../app/audit.js";
import { activeRulePack as activeRulePackOf, auditSubject as auditSubjectOf, auditValidationJson, resolvePack, validateSubject } from "../../app/audit.js";
import { openLocal } from "../backend.js";
import { openClearml } from "../clearml.js";

export type { ActivePack };

/**
 * The rule pack in force: `--rules FILE` (relative to the working directory), else `audit.rules`
 * from configuration, else the built-in pack; see the application's `activeRulePack`.
 *
 * @throws {ConfigError} (exit 2) naming the rule file, the line and the key at fault.
 */
export async function activeRulePack(ctx: CommandContext, rulesFlag: string | undefined, registryFlag?: string): Promise<ActivePack> {
  const config = rulesFlag === undefined ? await ctx.config({ registry: registryFlag }) : undefined;
  return activeRulePackOf({ cwd: ctx.io.cwd, config }, rulesFlag);
}

/** The experiment to audit (see {@link auditSubjectOf}), with the command's registry and ClearML flags. */
function auditSubject(ctx: CommandContext, id: string, flags: { registry?: string; taskId?: string } & ClearmlFlags): Promise<AuditSubject> {
  return auditSubjectOf({ local: () => openLocal(ctx, { registry: flags.registry }), clearml: () => openClearml(ctx, flags).store }, id, flags.taskId);
}

/** The `--json` contract of `expflow audit validate`: `AuditValidationSchema` in `src/contracts`. */
export type AuditValidateJson = AuditValidationJson;

/** The checked value as exact text: a rounded 18.0900001 beside FAIL would read as a wrong verdict. */
function cellValue(v: RuleCheck["value"]): string | null {
  return v === null ? null : String(v);
}

const CHECK_COLUMNS: Column<RuleCheck>[] = [
  { header: "RESULT", key: "result", get: (c) => (c.passed ? "PASS" : "FAIL"), paint: (c, t, col) => (c.passed ? col.green(t) : col.red(t)) },
  { header: "RULE", key: "label", get: (c) => c.label, shrink: { min: 16, order: 1 } },
  { header: "VALUE", key: "value", get: (c) => cellValue(c.value), align: "right" },
  // The detail is cut first to fit the terminal, then the rule's label.
  { header: "DETAIL", key: "detail", get: (c) => c.detail, shrink: { min: 12, order: 0 } },
];

const CSV_COLUMNS: Column<RuleCheck>[] = [
  { header: "name", get: (c) => c.name },
  { header: "label", get: (c) => c.label },
  { header: "value", get: (c) => c.value },
  { header: "passed", get: (c) => (c.passed ? "true" : "false") },
  { header: "detail", get: (c) => c.detail },
];

/**
 * Writes `text` to `path` atomically (a temporary file in the same directory, then rename),
 * creating missing parent directories (one at a time, after checking the existing prefix: never
 * a recursive mkdir, which hangs under /proc); the file's mode follows the umask.
 *
 * @throws {UsageError} (exit 2) the path is a directory, under a file, or its directory cannot
 *   be made; {@link BackendError} (exit 4) the disk is full, read-only or refuses permission.
 */
export function writeOutputFile(path: string, text: string, what: string): void {
  try {
    if (existsSync(path) && statSync(path).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    makeDirs(dirname(path));
    replaceFileAtomic(path, (fd) => writeAll(fd, text));
  } catch (e) {
    const err = storageError(e, path);
    if (err instanceof ExpflowError) {
      err.message = `cannot write the ${what}: ${err.message}`;
      throw err;
    }
    throw new UsageError("E_OUTPUT_NOT_WRITABLE", `cannot write the ${what} to ${path}: ${(e as Error).message}`, { hint: "choose a path in a directory you can write to", cause: e });
  }
}

/** The run's status for people: `completed`, or `cancelled (ClearML status stopped)`. */
function statusText(e: Experiment): string {
  const own = printable(e.status);
  return e.backendStatus !== undefined && e.backendStatus !== e.status ? `${own} (ClearML status ${printable(e.backendStatus)})` : own;
}

function summary(v: RulesValidation): string {
  const failed = v.checks.filter((c) => !c.passed).length;
  const n = v.checks.length;
  return v.all_pass ? `PASS: all ${n} check${n === 1 ? "" : "s"} pass.` : `FAIL: ${failed} of ${n} check${n === 1 ? "" : "s"} fail.`;
}

/**
 * `expflow audit validate <id>`: checks an experiment's metrics and parameters (from its
 * registry record) against the active rule pack ({@link activeRulePack}), with the configured
 * metrics registry, so a threshold override in config moves the pdebench rules. `--junit FILE`
 * also writes JUnit XML, before anything is printed. Returns 0 when every check passes, 1 when
 * any fails.
 *
 * @throws {ConfigError} a broken rule file (exit 2).
 * @throws {BackendError} (exit 4) when ClearML is needed (`--task-id`, or a record linked to a
 *   task) and is not configured, unreachable or failing.
 * @throws {NotFoundError} `E_TASK_NOT_FOUND` (exit 2) for an unknown task.
 * @throws {NotFoundError} / {UsageError} unknown or ambiguous id, unwritable `--junit` (exit 2).
 */
export async function auditValidateCommand(id: string, flags: AuditValidateOptions, ctx: CommandContext): Promise<number> {
  const active = await activeRulePack(ctx, flags.rules, flags.registry);
  const registry = metricRegistryOf(await ctx.config({ registry: flags.registry }));
  const subject = await auditSubject(ctx, id, flags);
  const experimentId = subject.label;
  const { experiment } = subject;
  const validation = validateSubject(subject, active.pack, registry);

  if (flags.junit !== undefined) {
    const file = resolve(ctx.io.cwd, flags.junit);
    const properties = {
      experiment_id: experimentId,
      status: experiment.status,
      ...(experiment.backendStatus !== undefined ? { clearml_status: experiment.backendStatus } : {}),
      rules_source: active.source,
      ...(subject.source ? { metrics_source: subject.source } : {}),
    };
    writeOutputFile(file, renderJUnit({ suite: active.pack.name, classname: experimentId, checks: validation.checks, properties }), "JUnit report");
  }

  const { stdout } = ctx.io;
  const format = formatOf(flags);
  if (format === "json") {
    const out: AuditValidateJson = auditValidationJson(subject, active.pack, validation);
    stdout.write(`${JSON.stringify(out)}\n`);
  } else if (format === "csv") {
    stdout.write(renderCsv(validation.checks, CSV_COLUMNS));
  } else if (format === "markdown") {
    stdout.write(renderMarkdown(validation.checks, CHECK_COLUMNS));
  } else {
    const c = ctx.colors;
    stdout.write(`${c.bold("Rules")}       ${printable(`${active.pack.name} (${active.source})`)}\n${c.bold("Experiment")}  ${printable(experimentId)}\n${c.bold("Status")}      ${statusText(experiment)}\n`);
    if (subject.source) stdout.write(`${c.bold("Metrics")}     from ${printable(subject.source)}\n`);
    stdout.write("\n");
    stdout.write(renderTable(validation.checks, CHECK_COLUMNS, c, { width: tableWidth(stdout, ctx.io.env) }));
    const line = summary(validation);
    stdout.write(`\n${validation.all_pass ? c.green(line) : c.red(line)}\n`);
    if (flags.junit !== undefined) stdout.write(`JUnit report written to ${resolve(ctx.io.cwd, flags.junit)}.\n`);
  }
  return validation.all_pass ? 0 : 1;
}

/** A metric rule with its bound resolved, as `audit rules --json` prints it (`MetricRuleSchema`). */
export type ResolvedMetricRule = MetricRuleJson;

/** A parameter rule, as `audit rules --json` prints it (`ParamRuleSchema`). */
export type ResolvedParamRule = ParamRuleJson;

/** The status rule, as `audit rules --json` prints it (`StatusRuleSchema`). */
export type ResolvedStatusRule = StatusRuleJson;

/** The `--json` contract of `expflow audit rules`: `AuditRulesSchema` in `src/contracts`. */
export type { AuditRulesJson };

export { resolvePack };

function metricRuleText(r: ResolvedMetricRule, useThreshold: boolean, registered: boolean): string {
  if (r.op !== null && r.value !== null) {
    return `${r.name} ${GATE_OP_SYMBOLS[r.op as keyof typeof GATE_OP_SYMBOLS]} ${formatNumber(r.value)} (${r.bound_source === "registry" ? "registered threshold" : "rule"})`;
  }
  // Issue 14: a rule on a metric the registry does not know says how to declare it.
  if (useThreshold && !registered) return `${r.name} present and finite (unknown metric, so no registered threshold: not gated; ${declareMetricCommand(r.name).replace(" --direction lower|higher`", " --direction lower|higher --threshold V`")})`;
  if (useThreshold) return `${r.name} present and finite (no registered threshold: not gated)`;
  return r.required ? `${r.name} present and finite (reported, not gated)` : `${r.name} optional: finite when reported`;
}

function paramRuleText(r: ResolvedParamRule): string {
  const parts = [`key matches /${r.match}/i`];
  if (r.type !== null) parts.push(`type ${r.type}`);
  if (r.min !== null) parts.push(`min ${formatNumber(r.min)}`);
  if (r.max !== null) parts.push(`max ${formatNumber(r.max)}`);
  if (r.allowed !== null) parts.push(`allowed: ${r.allowed.join(", ")}`);
  parts.push(r.required ? "required" : "optional");
  return parts.join("; ");
}

/**
 * `expflow audit rules`: the active rule pack, every metric rule with its bound resolved through
 * the configured metrics registry, and every parameter rule. Returns 0.
 *
 * @throws {ConfigError} a broken rule file (exit 2).
 */
export async function auditRulesCommand(flags: AuditRulesOptions, ctx: CommandContext): Promise<number> {
  const active = await activeRulePack(ctx, flags.rules);
  const config = await ctx.config();
  const resolved = resolvePack(active, metricRegistryOf(config));
  const { stdout } = ctx.io;
  if (flags.json) {
    stdout.write(`${JSON.stringify(resolved)}\n`);
    return 0;
  }
  const c = ctx.colors;
  const out = [`${c.bold("Rule pack")}  ${resolved.name} (${resolved.source})`];
  if (resolved.description !== null) out.push(resolved.description);
  const width = Math.max(0, ...resolved.metrics.map((m) => m.name.length), ...resolved.params.map((p) => p.name.length));
  out.push("", c.bold("Status"));
  out.push(resolved.status === null ? "  any (the pack has no status rule)" : `  ${resolved.status.allowed.join(", ")}${resolved.status.allowed.length > 1 ? " (any of them)" : ""}: a run in another state fails`);
  out.push("", c.bold("Metrics"));
  if (resolved.metrics.length === 0) out.push("  (none)");
  const registry = metricRegistryOf(config);
  resolved.metrics.forEach((m, i) => out.push(`  ${m.name.padEnd(width)}  ${metricRuleText(m, active.pack.metrics[i]!.useThreshold === true, registry.definitionOf(m.name) !== undefined)}`));
  out.push("", c.bold("Params"));
  if (resolved.params.length === 0) out.push("  (none)");
  for (const p of resolved.params) out.push(`  ${p.name.padEnd(width)}  ${paramRuleText(p)}`);
  stdout.write(`${out.join("\n")}\n`);
  return 0;
}

/**
 * `expflow audit report <id>`: a Markdown report of the experiment (title, status, project, tags,
 * the rules' verdict with every check, the parameters and the metrics), every value escaped. To
 * standard output, or atomically to `--output FILE` (then one line on standard output says where).
 * Returns 0 whatever the verdict: the report is a document, `audit validate` is the gate.
 *
 * @throws {ConfigError} a broken rule file (exit 2).
 * @throws {NotFoundError} / {UsageError} unknown or ambiguous id, unwritable `--output` (exit 2).
 * @throws {BackendError} (exit 4) for a record linked to ClearML when ClearML is not configured,
 *   unreachable or failing.
 */
export async function auditReportCommand(id: string, flags: AuditReportOptions, ctx: CommandContext): Promise<number> {
  const active = await activeRulePack(ctx, flags.rules, flags.registry);
  const registry = metricRegistryOf(await ctx.config({ registry: flags.registry }));
  const subject = await auditSubject(ctx, id, flags);
  const e = subject.experiment;
  const validation = validateSubject(subject, active.pack, registry);
  const text = renderAuditReport({
    experimentId: subject.label,
    name: e.name,
    status: statusText(e),
    project: e.project,
    tags: e.tags,
    rules: active.pack.name,
    rulesSource: active.source,
    validation,
    params: subject.params,
    metrics: subject.metrics,
    metricsSource: subject.source,
  });
  if (flags.output === undefined) {
    ctx.io.stdout.write(text);
    return 0;
  }
  const file = resolve(ctx.io.cwd, flags.output);
  writeOutputFile(file, text, "report");
  ctx.io.stdout.write(`Report on ${subject.label} (${validation.all_pass ? "PASS" : "FAIL"}) written to ${file}.\n`);
  return 0;
}
