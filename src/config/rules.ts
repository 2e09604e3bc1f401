import { readFileSync } from "node:fs";
import { ConfigError } from "../core/errors.js";
import { LIFECYCLE_STATES } from "../core/experiment.js";
import { GATE_OPS } from "../core/gates/gate.js";
import type { MetricRule, ParamRule, RulePack, StatusRule } from "../core/rules/rules.js";
import { compilePattern, PatternSyntaxError } from "../core/rules/pattern.js";
import { didYouMean } from "../core/suggest.js";
import { toJsBounded } from "./load.js";

/**
 * Loads a rule pack from a YAML file:
 *
 * ```yaml
 * name: my-competition
 * status: {allowed: [completed]}          # the run must have finished
 * metrics:
 *   seg_total: {required: true}            # present and finite, not gated
 *   pde_mean: {op: lt, value: 18.09}       # ops as in gates
 *   train_time_min: {threshold: registry}  # the registered threshold, in its direction
 * params:
 *   sub_step: {match: "sub_?step", type: integer, min: 1}
 *   dataset: {match: "dataset", allowed: [pdebench-2d, pdebench-3d]}
 * ```
 *
 * @throws {ConfigError} naming the file, the line and the key at fault (exit 2).
 */
export async function loadRulePack(path: string): Promise<RulePack> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(path, undefined, `cannot read the rule file: ${(e as Error).message}`);
  }
  const { parseDocument, isMap, isSeq, isScalar } = await import("yaml");
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const err = doc.errors[0];
  if (err !== undefined) {
    const pos = err.linePos?.[0];
    throw new ConfigError(path, undefined, `not valid YAML: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ""}${err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`);
  }
  // The pack is read from the document's nodes, but an alias bomb is refused all the same.
  toJsBounded(doc, path);
  const lineOf = (node: unknown): string => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (!range) return "";
    const line = text.slice(0, range[0]).split("\n").length;
    return `line ${line}: `;
  };
  const fail = (node: unknown, key: string, message: string): never => {
    throw new ConfigError(path, key, `${lineOf(node)}${message}`);
  };
  const root = doc.contents;
  if (!isMap(root)) fail(root, "", "a rule file is a mapping with keys name, description, status, metrics, params");
  const rootMap = root as import("yaml").YAMLMap;
  const allowedTop = ["name", "description", "status", "metrics", "params"];
  let name = "";
  let description: string | undefined;
  let status: StatusRule | undefined;
  const metrics: MetricRule[] = [];
  const params: ParamRule[] = [];
  /** `status: {allowed: [completed, ...], label: ...}`: lifecycle states only, each checked. */
  const statusRule = (node: unknown, keyNode: unknown): StatusRule => {
    if (!isMap(node)) fail(node ?? keyNode, "status", "must be a mapping, e.g. {allowed: [completed]}");
    const known = ["allowed", "label"];
    let allowed: string[] | undefined;
    let label: string | undefined;
    for (const f of (node as import("yaml").YAMLMap).items) {
      const fk = isScalar(f.key) ? String(f.key.value) : String(f.key);
      if (!known.includes(fk)) fail(f.key, `status.${fk}`, `unknown key.${didYouMean(fk, known)} Known keys here: ${known.join(", ")}`);
      if (fk === "label") {
        if (!isScalar(f.value) || typeof f.value.value !== "string" || f.value.value === "") fail(f.value ?? f.key, "status.label", "must be a non-empty string");
        label = String((f.value as import("yaml").Scalar).value);
        continue;
      }
      if (!isSeq(f.value) || f.value.items.length === 0) fail(f.value ?? f.key, "status.allowed", `must be a non-empty list of lifecycle states, e.g. [completed]; states: ${LIFECYCLE_STATES.join(", ")}`);
      allowed = [];
      for (const item of (f.value as import("yaml").YAMLSeq).items) {
        const v = isScalar(item) ? item.value : undefined;
        if (typeof v !== "string") fail(item ?? f.value, "status.allowed", `every entry must be a lifecycle state (${LIFECYCLE_STATES.join(", ")})`);
        if (!(LIFECYCLE_STATES as readonly string[]).includes(v as string)) {
          fail(
            item,
            "status.allowed",
            `unknown state '${String(v)}'.${didYouMean(String(v), LIFECYCLE_STATES)} States: ${LIFECYCLE_STATES.join(", ")} (a ClearML task's status counts as its lifecycle state: published is completed, stopped is cancelled)`,
          );
        }
        if (!allowed.includes(v as string)) allowed.push(v as string);
      }
    }
    if (allowed === undefined) fail(node, "status.allowed", "a status rule needs allowed, a non-empty list of lifecycle states, e.g. {allowed: [completed]}");
    return { allowed: allowed!, ...(label !== undefined ? { label } : {}) };
  };
  for (const pair of rootMap.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const value = pair.value;
    if (!allowedTop.includes(key)) fail(pair.key, key, `unknown key.${didYouMean(key, allowedTop)} Known keys: ${allowedTop.join(", ")}`);
    if (key === "name" || key === "description") {
      if (!isScalar(value) || typeof value.value !== "string" || value.value.trim() === "") fail(value ?? pair.key, key, "must be a non-empty string");
      if (key === "name") name = String((value as import("yaml").Scalar).value);
      else description = String((value as import("yaml").Scalar).value);
      continue;
    }
    if (value === null || (isScalar(value) && value.value === null)) continue;
    if (key === "status") {
      status = statusRule(value, pair.key);
      continue;
    }
    if (!isMap(value)) fail(value ?? pair.key, key, `must be a mapping of rule names to rules`);
    for (const rule of (value as import("yaml").YAMLMap).items) {
      const ruleName = isScalar(rule.key) ? String(rule.key.value) : String(rule.key);
      const at = `${key}.${ruleName}`;
      const body = rule.value;
      if (!isMap(body)) fail(body ?? rule.key, at, "a rule is a mapping, e.g. {op: lt, value: 18.09}");
      const fields = new Map<string, { node: unknown; value: unknown }>();
      for (const f of (body as import("yaml").YAMLMap).items) {
        const fk = isScalar(f.key) ? String(f.key.value) : String(f.key);
        fields.set(fk, { node: f.value ?? f.key, value: isSeq(f.value) ? f.value.toJSON() : isScalar(f.value) ? f.value.value : (f.value as { toJSON?: () => unknown } | null)?.toJSON?.() });
      }
      const known = key === "metrics" ? ["label", "required", "op", "value", "threshold"] : ["label", "match", "type", "min", "max", "allowed", "required"];
      for (const [fk, f] of fields) if (!known.includes(fk)) fail(f.node, `${at}.${fk}`, `unknown key.${didYouMean(fk, known)} Known keys here: ${known.join(", ")}`);
      const get = (fk: string) => fields.get(fk);
      const str = (fk: string): string | undefined => {
        const f = get(fk);
        if (f === undefined) return undefined;
        if (typeof f.value !== "string" || f.value === "") fail(f.node, `${at}.${fk}`, "must be a non-empty string");
        return f.value as string;
      };
      const num = (fk: string): number | undefined => {
        const f = get(fk);
        if (f === undefined) return undefined;
        if (typeof f.value !== "number" || !Number.isFinite(f.value)) fail(f.node, `${at}.${fk}`, "must be a finite number");
        return f.value as number;
      };
      const bool = (fk: string): boolean | undefined => {
        const f = get(fk);
        if (f === undefined) return undefined;
        if (typeof f.value !== "boolean") fail(f.node, `${at}.${fk}`, "must be true or false");
        return f.value as boolean;
      };
      const label = str("label");
      const required = bool("required");
      if (key === "metrics") {
        const op = str("op");
        if (op !== undefined && !(GATE_OPS as readonly string[]).includes(op)) fail(get("op")!.node, `${at}.op`, `unknown operator '${op}'.${didYouMean(op, GATE_OPS)} Operators: ${GATE_OPS.join(" ")}`);
        const v = num("value");
        const threshold = get("threshold");
        if (threshold !== undefined && threshold.value !== "registry") fail(threshold.node, `${at}.threshold`, "the only value is `registry` (the metric's registered threshold, in its direction)");
        if ((op === undefined) !== (v === undefined)) fail(get("op")?.node ?? get("value")!.node, at, "op and value go together (e.g. {op: lt, value: 18.09})");
        if (threshold !== undefined && op !== undefined) fail(threshold.node, at, "give either op and value, or threshold: registry, not both");
        metrics.push({ name: ruleName, label, required, op: op as MetricRule["op"], value: v, useThreshold: threshold !== undefined });
      } else {
        const match = str("match");
        // Without `match` the rule's own name is the expression: it must compile too.
        try {
          compilePattern(match ?? ruleName);
        } catch (e) {
          if (!(e instanceof PatternSyntaxError)) throw e;
          const where = get("match") ? `${at}.match` : at;
          fail(get("match")?.node ?? rule.key, where, `${get("match") ? "" : "the rule's name is its match, and "}not a valid regular expression (RE2 syntax): ${e.message}`);
        }
        const type = str("type");
        if (type !== undefined && !["integer", "number", "string"].includes(type)) fail(get("type")!.node, `${at}.type`, "must be integer, number or string");
        const allowedField = get("allowed");
        let allowed: string[] | undefined;
        if (allowedField !== undefined) {
          if (!Array.isArray(allowedField.value) || allowedField.value.length === 0) fail(allowedField.node, `${at}.allowed`, "must be a non-empty list");
          allowed = (allowedField.value as unknown[]).map(String);
        }
        params.push({ name: ruleName, label, match, type: type as ParamRule["type"], min: num("min"), max: num("max"), allowed, required });
      }
    }
  }
  if (name === "") fail(root, "name", "a rule pack needs a name");
  if (metrics.length === 0 && params.length === 0 && status === undefined) fail(root, "metrics", "a rule pack needs at least one rule under status, metrics or params");
  return { name, description, ...(status ? { status } : {}), metrics, params };
}
