import { UsageError } from "../errors.js";
import type { MetricRegistry } from "../metrics/registry.js";
import { parseDecimal } from "../metrics/registry.js";
import { didYouMean } from "../suggest.js";

/** Comparison operators of the gate grammar. */
export type GateOp = "lt" | "le" | "gt" | "ge" | "eq" | "ne";

/** Every operator, in documentation order. */
export const GATE_OPS: readonly GateOp[] = Object.freeze(["lt", "le", "gt", "ge", "eq", "ne"]);

/** Symbols for display. */
export const GATE_OP_SYMBOLS: Readonly<Record<GateOp, string>> = Object.freeze({
  lt: "<",
  le: "<=",
  gt: ">",
  ge: ">=",
  eq: "==",
  ne: "!=",
});

/** A parsed gate: the experiment's `metric` must satisfy `actual op value`. */
export interface Gate {
  readonly metric: string;
  readonly op: GateOp;
  readonly value: number;
}

/** Why a gate failed: the metric is absent (or null / non-finite), or its value misses the bound. */
export type GateFailure = "missing" | "not_met";

/** The outcome of one gate on one experiment. */
export interface GateResult {
  readonly metric: string;
  readonly op: GateOp;
  readonly threshold: number;
  /** The experiment's value, or `null` when missing. */
  readonly actual: number | null;
  readonly passed: boolean;
  /** `null` when passed. */
  readonly reason: GateFailure | null;
}

const GRAMMAR_HINT = `a gate is metric:op:value, e.g. pde_mean:lt:18.09; ops: ${GATE_OPS.join(" ")}; the value is a finite decimal number`;

function isOp(text: string): text is GateOp {
  return (GATE_OPS as readonly string[]).includes(text);
}

/**
 * Parses `metric:op:value`. The string is split from the right, so a metric name may itself
 * contain `:` (`Score:seg_total:gt:50` gates the metric `Score:seg_total`). The op is one of
 * `lt le gt ge eq ne` (case-insensitive); the value a finite decimal (`18.09`, `-0.5`, `1e3`).
 *
 * @throws {UsageError} `E_GATE_SYNTAX`, quoting the gate and saying what is wrong with it.
 */
export function parseGate(text: string): Gate {
  const gate = text.trim();
  const fail = (why: string): never => {
    throw new UsageError("E_GATE_SYNTAX", `invalid gate '${text}': ${why}`, { hint: GRAMMAR_HINT });
  };
  const valueSep = gate.lastIndexOf(":");
  const opSep = valueSep <= 0 ? -1 : gate.lastIndexOf(":", valueSep - 1);
  if (valueSep < 0 || opSep < 0) fail("expected three parts separated by ':'");
  const metric = gate.slice(0, opSep).trim();
  const opText = gate.slice(opSep + 1, valueSep).trim().toLowerCase();
  const valueText = gate.slice(valueSep + 1).trim();
  if (metric === "") fail("the metric name is empty");
  if (!isOp(opText)) {
    fail(
      opText === ""
        ? "the operator is empty"
        : `unknown operator '${opText}'.${didYouMean(opText, GATE_OPS)} Operators: ${GATE_OPS.join(" ")}`,
    );
  }
  if (valueText === "") fail("the value is empty");
  const value = parseDecimal(valueText);
  if (value === undefined) fail(`the value '${valueText}' is not a finite decimal number`);
  return Object.freeze({ metric, op: opText as GateOp, value: value! });
}

/** The canonical text of a gate, which {@link parseGate} reads back to an equal gate. */
export function formatGate(gate: Gate): string {
  return `${gate.metric}:${gate.op}:${String(gate.value)}`;
}

/** Whether `actual op threshold` holds. */
export function compareOp(op: GateOp, actual: number, threshold: number): boolean {
  switch (op) {
    case "lt":
      return actual < threshold;
    case "le":
      return actual <= threshold;
    case "gt":
      return actual > threshold;
    case "ge":
      return actual >= threshold;
    case "eq":
      return actual === threshold;
    case "ne":
      return actual !== threshold;
  }
}

/**
 * The finite value of `name` in `metrics`, trying the registry's aliases of it when the canonical
 * name is absent; `null` when missing, null or non-finite. 0 and negative numbers are values.
 */
export function metricValue(metrics: Readonly<Record<string, unknown>>, name: string, aliases: readonly string[] = []): number | null {
  const direct = metrics[name];
  if (typeof direct === "number" && Number.isFinite(direct)) return direct;
  for (const alias of aliases) {
    const v = metrics[alias];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return null;
}

/**
 * Evaluates gates against one experiment's metrics. A metric that is missing, `null` or not a
 * finite number fails its gate with reason `missing`.
 *
 * @param options.registry resolves aliases: a gate on `pde_mean` also reads a value reported
 *   under one of its aliases.
 */
export function evaluateGates(
  metrics: Readonly<Record<string, unknown>>,
  gates: readonly Gate[],
  options: { registry?: MetricRegistry } = {},
): { passed: boolean; results: GateResult[] } {
  let passed = true;
  const results = gates.map((g): GateResult => {
    const actual = metricValue(metrics, g.metric, options.registry?.get(g.metric)?.aliases);
    const ok = actual !== null && compareOp(g.op, actual, g.value);
    if (!ok) passed = false;
    return { metric: g.metric, op: g.op, threshold: g.value, actual, passed: ok, reason: ok ? null : actual === null ? "missing" : "not_met" };
  });
  return { passed, results };
}

/**
 * A predicate telling whether an experiment's metrics pass every gate: {@link evaluateGates}
 * without the per-gate detail, with aliases resolved once, for ranking many experiments.
 */
export function gatePredicate(gates: readonly Gate[], options: { registry?: MetricRegistry } = {}): (metrics: Readonly<Record<string, unknown>>) => boolean {
  const compiled = gates.map((g) => ({ ...g, aliases: options.registry?.get(g.metric)?.aliases ?? [] }));
  return (metrics) => {
    for (const g of compiled) {
      const actual = metricValue(metrics, g.metric, g.aliases);
      if (actual === null || !compareOp(g.op, actual, g.value)) return false;
    }
    return true;
  };
}

/**
 * {@link evaluateGates} with aliases resolved once, for evaluating the same gates against many
 * experiments: `evaluator(metrics)` equals `evaluateGates(metrics, gates, options).results`.
 */
export function gateEvaluator(gates: readonly Gate[], options: { registry?: MetricRegistry } = {}): (metrics: Readonly<Record<string, unknown>>) => GateResult[] {
  const aliases = gates.map((g) => options.registry?.get(g.metric)?.aliases);
  return (metrics) => {
    const results: GateResult[] = new Array<GateResult>(gates.length);
    for (let i = 0; i < gates.length; i++) {
      const g = gates[i]!;
      const actual = metricValue(metrics, g.metric, aliases[i]);
      const ok = actual !== null && compareOp(g.op, actual, g.value);
      results[i] = { metric: g.metric, op: g.op, threshold: g.value, actual, passed: ok, reason: ok ? null : actual === null ? "missing" : "not_met" };
    }
    return results;
  };
}

/**
 * One gate for each registered metric with a threshold, strict and in its direction:
 * `lower` gives `lt`, `higher` gives `gt` (`pde_mean:lt:18.09`, `train_time_min:lt:60`).
 */
export function thresholdGates(registry: MetricRegistry): Gate[] {
  return registry
    .list()
    .filter((d) => d.threshold !== null)
    .map((d) => Object.freeze({ metric: d.name, op: d.direction === "lower" ? ("lt" as const) : ("gt" as const), value: d.threshold! }));
}
