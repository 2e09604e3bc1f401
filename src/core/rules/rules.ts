import { assertUnambiguous, matchesStatus } from "../experiment.js";
import type { Pattern } from "./pattern.js";
import { compilePattern, PatternSyntaxError } from "./pattern.js";
import type { GateOp } from "../gates/gate.js";
import { compareOp, GATE_OP_SYMBOLS } from "../gates/gate.js";
import { declareMetricHint, MetricRegistry } from "../metrics/registry.js";

/** A rule on one metric: required to be present and finite, and optionally bounded. */
export interface MetricRule {
  /** The metric (a name or a registered alias). */
  readonly name: string;
  /** Shown in reports; default derived from the rule (`pde_mean < 18.09`). */
  readonly label?: string;
  /**
   * Without a bound: the metric must be present and finite (reported, not gated). With a bound
   * it is implied. Default true.
   */
  readonly required?: boolean;
  /** Bound as in gates: `value op bound`. */
  readonly op?: GateOp;
  readonly value?: number;
  /** Take the bound from the metrics registry: strict, in the metric's direction, at its threshold. */
  readonly useThreshold?: boolean;
}

/** A rule on the parameters whose `Section/name` key matches `match`. */
export interface ParamRule {
  readonly name: string;
  readonly label?: string;
  /** Case-insensitive pattern (RE2 syntax, linear time: see `pattern.ts`) searched in the `Section/name` key; default: the rule's name. */
  readonly match?: string;
  /** `integer`: whole decimal numbers only (`5`, not `2.5` or `abc`); `number`: finite decimals. */
  readonly type?: "integer" | "number" | "string";
  readonly min?: number;
  readonly max?: number;
  /** The value must be one of these (compared as text). */
  readonly allowed?: readonly string[];
  /** A missing parameter fails the rule. Default true. */
  readonly required?: boolean;
}

/**
 * A rule on the run's status: a run in any other state fails, whatever its metrics, since a run
 * that did not finish (cancelled at epoch 30 of 200, failed, still running) reports partial ones.
 */
export interface StatusRule {
  /**
   * The statuses allowed: lifecycle states (`completed`); a backend's own status (ClearML's
   * `published`) matches too, as in `--status`. Non-empty.
   */
  readonly allowed: readonly string[];
  /** Shown in reports; default `status is completed` or `status is one of completed, failed`. */
  readonly label?: string;
}

/** A competition's rules. */
export interface RulePack {
  readonly name: string;
  readonly description?: string;
  /** The statuses a run may be in; without it any status passes (no check). */
  readonly status?: StatusRule;
  readonly metrics: readonly MetricRule[];
  readonly params: readonly ParamRule[];
}

/** One checked rule (snake_case in JSON, as the earlier tool's callers expect). */
export interface RuleCheck {
  /** The metric or parameter rule's name, or `status` for the status rule. */
  readonly name: string;
  readonly label: string;
  /** The value checked: a metric's number, a parameter's text, the run's status, or `null` when missing. */
  readonly value: number | string | null;
  readonly passed: boolean;
  /** Why it passed or failed, in words. */
  readonly detail: string;
}

/** The outcome of {@link validateCompetitionRules}. */
export interface RulesValidation {
  readonly all_pass: boolean;
  readonly checks: RuleCheck[];
  /** The metrics checked, as given. */
  readonly metrics: Readonly<Record<string, unknown>>;
}

/**
 * The default pack: the PDEBench competition the earlier tool served. The run must be
 * `completed`; `seg_total` must be present (the primary score, reported, not gated); `pde_mean`
 * and `train_time_min` must beat their registered thresholds strictly (18.09 and 60 unless
 * config moves them); a `sub_step` (or `substep`) parameter in any section must be a whole number
 * of at least 1.
 */
export const PDEBENCH_RULES: RulePack = Object.freeze({
  name: "pdebench",
  description: "PDEBench competition: a completed run, primary score present, PDE residual and training time under their limits, a positive sub_step",
  status: Object.freeze({ allowed: Object.freeze(["completed"]) }),
  metrics: Object.freeze([
    { name: "seg_total", label: "seg_total present (primary score)", required: true },
    { name: "pde_mean", useThreshold: true },
    { name: "train_time_min", useThreshold: true },
  ]),
  params: Object.freeze([{ name: "sub_step", label: "sub_step is an integer >= 1", match: "sub_?step", type: "integer" as const, min: 1 }]),
});

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function finite(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Any value as text, never throwing (a BigInt, an object whose toString is not callable). */
function toText(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (v === null || v === undefined) return String(v);
  try {
    return JSON.stringify(v) ?? Object.prototype.toString.call(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

function fmt(n: number): string {
  return String(n);
}

/** The bound a metric rule applies, resolved through the registry, or `null` for presence only. */
export function metricBound(rule: MetricRule, registry: MetricRegistry): { op: GateOp; value: number } | null {
  if (rule.useThreshold) {
    const def = registry.definitionOf(rule.name);
    if (def === undefined || def.threshold === null) return null;
    return { op: def.direction === "lower" ? "lt" : "gt", value: def.threshold };
  }
  if (rule.op !== undefined && rule.value !== undefined) return { op: rule.op, value: rule.value };
  return null;
}

function checkMetric(rule: MetricRule, metrics: Readonly<Record<string, unknown>>, registry: MetricRegistry): RuleCheck {
  const canonical = registry.resolve(rule.name) ?? rule.name;
  const aliases = registry.get(rule.name)?.aliases ?? [];
  // As gates read metrics: own properties only, the canonical name first, then its aliases.
  const own = (k: string): unknown => (Object.hasOwn(metrics, k) ? metrics[k] : undefined);
  const raw = [canonical, ...aliases].map(own).find((v) => v !== undefined && v !== null) ?? own(canonical);
  const present = raw !== undefined && raw !== null;
  const value = finite(raw);
  const bound = metricBound(rule, registry);
  const label = rule.label ?? (bound ? `${canonical} ${GATE_OP_SYMBOLS[bound.op]} ${fmt(bound.value)}` : `${canonical} present`);
  const base = { name: canonical, label };
  if (!present && rule.required === false && bound === null) return { ...base, value: null, passed: true, detail: "not reported (optional)" };
  if (!present) return { ...base, value: null, passed: false, detail: `metric '${canonical}' not found` };
  if (value === null) return { ...base, value: null, passed: false, detail: `metric '${canonical}' is not a finite number (${typeof raw === "string" ? JSON.stringify(raw) : toText(raw)})` };
  if (bound === null) {
    if (rule.useThreshold && registry.definitionOf(rule.name) === undefined) {
      return { ...base, value, passed: true, detail: `present (${fmt(value)}); '${canonical}' has no registered threshold (it is not a registered metric), so nothing is gated; to gate it, ${declareMetricHint(canonical)} and a threshold` };
    }
    if (rule.useThreshold) return { ...base, value, passed: true, detail: `present (${fmt(value)}); '${canonical}' has no registered threshold, so nothing is gated` };
    return { ...base, value, passed: true, detail: `present: ${fmt(value)}` };
  }
  const passed = compareOp(bound.op, value, bound.value);
  const sym = GATE_OP_SYMBOLS[bound.op];
  return { ...base, value, passed, detail: passed ? `${fmt(value)} ${sym} ${fmt(bound.value)}` : `${fmt(value)} is not ${sym} ${fmt(bound.value)}` };
}

/** The label of a status rule: its own, else `status is completed` / `status is one of a, b`. */
export function statusRuleLabel(rule: StatusRule): string {
  return rule.label ?? `status is ${allowedText(rule.allowed)}`;
}

function allowedText(allowed: readonly string[]): string {
  return allowed.length === 1 ? allowed[0]! : `one of ${allowed.join(", ")}`;
}

function checkStatus(rule: StatusRule, status: string | undefined, backendStatus: string | undefined): RuleCheck {
  const base = { name: "status", label: statusRuleLabel(rule) };
  if (status === undefined) return { ...base, value: null, passed: false, detail: `the run's status is not known, so it cannot be shown to be ${allowedText(rule.allowed)}` };
  const shown = backendStatus !== undefined && backendStatus !== status ? `${status} (${backendStatus})` : status;
  const passed = matchesStatus({ status, backendStatus }, rule.allowed);
  return { ...base, value: status, passed, detail: passed ? `the run's status is ${shown}` : `the run's status is ${shown}, not ${allowedText(rule.allowed)}` };
}

function paramLabel(rule: ParamRule): string {
  if (rule.label) return rule.label;
  const parts: string[] = [];
  if (rule.type) parts.push(`${rule.type === "integer" ? "an" : "a"} ${rule.type}`);
  if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  if (rule.allowed) parts.push(`one of ${rule.allowed.join(", ")}`);
  return parts.length > 0 ? `${rule.name} is ${parts.join(", ")}` : `${rule.name} present`;
}

function checkValue(rule: ParamRule, key: string, text: string): string | null {
  const t = text.trim();
  let n: number | undefined;
  if (rule.type === "integer") {
    if (!INTEGER.test(t)) return `${key} = ${JSON.stringify(text)} is not an integer`;
    n = Number(t);
  } else if (rule.type === "number" || rule.min !== undefined || rule.max !== undefined) {
    if (!DECIMAL.test(t) || !Number.isFinite(Number(t))) return `${key} = ${JSON.stringify(text)} is not a number`;
    n = Number(t);
  }
  if (n !== undefined && rule.min !== undefined && n < rule.min) return `${key} = ${JSON.stringify(text)} is below the minimum ${rule.min}`;
  if (n !== undefined && rule.max !== undefined && n > rule.max) return `${key} = ${JSON.stringify(text)} is above the maximum ${rule.max}`;
  if (rule.allowed && !rule.allowed.includes(t)) return `${key} = ${JSON.stringify(text)} is not one of ${rule.allowed.join(", ")}`;
  return null;
}

function checkParam(rule: ParamRule, params: Readonly<Record<string, unknown>>): RuleCheck {
  let pattern: Pattern;
  try {
    // RE2 semantics in linear time: a pattern such as `(a+)+$` cannot hang on a long key.
    pattern = compilePattern(rule.match ?? rule.name);
  } catch (e) {
    if (!(e instanceof PatternSyntaxError)) throw e;
    return { name: rule.name, label: paramLabel(rule), value: null, passed: false, detail: `the rule's match is not a valid regular expression (RE2 syntax): ${e.message}` };
  }
  const keys = Object.keys(params).filter((k) => pattern.test(k));
  const label = paramLabel(rule);
  if (keys.length === 0) {
    const required = rule.required ?? true;
    return {
      name: rule.name,
      label,
      value: null,
      passed: !required,
      detail: required ? `parameter '${rule.name}' not found (no key matches /${pattern.source}/i)` : "not set (optional)",
    };
  }
  // Every matching key must satisfy the rule: two sections disagreeing is itself a problem.
  for (const key of keys) {
    const raw = params[key];
    const text = raw === null || raw === undefined ? "" : toText(raw);
    const why = checkValue(rule, key, text);
    if (why !== null) return { name: rule.name, label, value: text, passed: false, detail: why };
  }
  const value = toText(params[keys[0]!]);
  return { name: rule.name, label, value, passed: true, detail: keys.map((k) => `${k} = ${JSON.stringify(toText(params[k]))}`).join(", ") };
}

/**
 * Checks a run's status, metrics and parameters against a competition's rules. Pure.
 *
 * Checks come in the pack's order: the status rule first (when the pack has one), then the
 * metric rules, then the parameter rules.
 *
 * @param metrics metric name to value (a missing, null or non-finite value fails its rule).
 * @param params `Section/name` to value; `undefined` or `null` counts as no parameters.
 * @param rules the rule pack (default {@link PDEBENCH_RULES}, which requires `completed`).
 * @param options.registry resolves aliases and the thresholds of `useThreshold` rules (default:
 *   the standard metrics), so an override in config moves the rule.
 * @param options.ambiguousMetrics bare names the run reports under two titles (see
 *   `Experiment.ambiguousMetrics`).
 * @param options.status the run's lifecycle state; when the pack has a status rule and none is
 *   given, the status check fails (a run of unknown status gets no pass).
 * @param options.backendStatus the backend's own status (ClearML's `published`), also matched.
 * @throws {UsageError} `E_METRIC_AMBIGUOUS` when a metric rule names one of those.
 */
export function validateCompetitionRules(
  metrics: Readonly<Record<string, unknown>> | null | undefined,
  params?: Readonly<Record<string, unknown>> | null,
  rules: RulePack = PDEBENCH_RULES,
  options: { registry?: MetricRegistry; ambiguousMetrics?: Readonly<Record<string, readonly string[]>>; status?: string; backendStatus?: string } = {},
): RulesValidation {
  const registry = options.registry ?? MetricRegistry.standard();
  const m = metrics ?? {};
  if (options.ambiguousMetrics !== undefined) {
    const run = { id: "under audit", name: null, status: "", project: null, tags: [], created: null, metrics: m, params: {}, ambiguousMetrics: options.ambiguousMetrics };
    assertUnambiguous(
      [run],
      rules.metrics.map((r) => ({
        name: registry.resolve(r.name) ?? r.name,
        aliases: registry.get(r.name)?.aliases ?? [],
        field: "rules",
        where: `rule '${r.label ?? r.name}'`,
        group: registry.get(r.name)?.group,
        example: (q: string) => `a rule pack whose metric rule has name: ${q}`,
      })),
    );
  }
  const p = params ?? {};
  const checks = [
    ...(rules.status ? [checkStatus(rules.status, options.status, options.backendStatus)] : []),
    ...rules.metrics.map((r) => checkMetric(r, m, registry)),
    ...rules.params.map((r) => checkParam(r, p)),
  ];
  return { all_pass: checks.every((c) => c.passed), checks, metrics: m };
}
