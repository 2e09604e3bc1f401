import { describe, expect, it } from "vitest";
import { GATE_OPS } from "../../../src/core/gates/gate.js";
import type { GateOp } from "../../../src/core/gates/gate.js";
import { MetricRegistry } from "../../../src/core/metrics/registry.js";
import type { MetricRule, ParamRule, RuleCheck, RulePack, RulesValidation } from "../../../src/core/rules/rules.js";
import { metricBound, PDEBENCH_RULES, statusRuleLabel, validateCompetitionRules } from "../../../src/core/rules/rules.js";

/** The earlier tool's passing run. */
const GOOD_METRICS = { seg_total: 57.09, pde_mean: 15.0, train_time_min: 45.5 } as const;
const GOOD_PARAMS = { "Args/--sub_step": "5" } as const;

type Options = NonNullable<Parameters<typeof validateCompetitionRules>[3]>;

/**
 * validateCompetitionRules for a completed run: the metric and parameter cases below are about
 * a finished run (the pdebench pack also requires `completed`; see the status rule's own cases).
 */
function validate(metrics: Parameters<typeof validateCompetitionRules>[0], params?: Parameters<typeof validateCompetitionRules>[1], rules?: RulePack, options: Options = {}): RulesValidation {
  return validateCompetitionRules(metrics, params, rules, { status: "completed", ...options });
}

function check(result: RulesValidation, name: string): RuleCheck {
  const found = result.checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no check named '${name}' in ${JSON.stringify(result.checks.map((c) => c.name))}`);
  return found;
}

function metricPack(...metrics: MetricRule[]): RulePack {
  return { name: "custom", metrics, params: [] };
}

function paramPack(...params: ParamRule[]): RulePack {
  return { name: "custom", metrics: [], params };
}

describe("validateCompetitionRules with the default pdebench pack: the earlier tool's cases", () => {
  it("passes the completed reference run (57.09 / 15.0 / 45.5, sub_step 5) with five checks: its status, then four", () => {
    const result = validate(GOOD_METRICS, GOOD_PARAMS);
    expect(result.all_pass).toBe(true);
    expect(result.checks).toHaveLength(5);
    expect(result.checks.map((c) => c.name)).toEqual(["status", "seg_total", "pde_mean", "train_time_min", "sub_step"]);
    expect(check(result, "status")).toEqual({ name: "status", label: "status is completed", value: "completed", passed: true, detail: "the run's status is completed" });
    expect(result.checks.every((c) => c.passed)).toBe(true);
    expect(check(result, "seg_total").value).toBe(57.09);
    expect(check(result, "pde_mean").value).toBe(15);
    expect(check(result, "train_time_min").value).toBe(45.5);
    expect(check(result, "sub_step").value).toBe("5");
  });

  it("uses PDEBENCH_RULES when no pack is given", () => {
    expect(validateCompetitionRules(GOOD_METRICS, GOOD_PARAMS)).toEqual(validateCompetitionRules(GOOD_METRICS, GOOD_PARAMS, PDEBENCH_RULES));
    expect(validateCompetitionRules(GOOD_METRICS, GOOD_PARAMS, undefined, { status: "completed" })).toEqual(validate(GOOD_METRICS, GOOD_PARAMS, PDEBENCH_RULES));
  });

  it("fails pde_mean 20", () => {
    const result = validate({ ...GOOD_METRICS, pde_mean: 20 }, GOOD_PARAMS);
    expect(result.all_pass).toBe(false);
    expect(check(result, "pde_mean")).toMatchObject({ passed: false, value: 20, detail: "20 is not < 18.09" });
    expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(["pde_mean"]);
  });

  it("fails train_time_min 75", () => {
    const result = validate({ ...GOOD_METRICS, train_time_min: 75 }, GOOD_PARAMS);
    expect(result.all_pass).toBe(false);
    expect(check(result, "train_time_min")).toMatchObject({ passed: false, value: 75, detail: "75 is not < 60" });
    expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(["train_time_min"]);
  });

  it.each(["seg_total", "pde_mean", "train_time_min"] as const)("fails a missing %s with detail `metric 'x' not found`", (name) => {
    const metrics: Record<string, number> = { ...GOOD_METRICS };
    delete metrics[name];
    const result = validate(metrics, GOOD_PARAMS);
    expect(result.all_pass).toBe(false);
    expect(check(result, name)).toMatchObject({ passed: false, value: null, detail: `metric '${name}' not found` });
  });

  it.each([
    ["undefined", undefined],
    ["null", null],
    ["{}", {}],
  ] as const)("fails sub_step when task_params are absent (params %s), saying it is missing", (_label, params) => {
    const result = validate(GOOD_METRICS, params);
    expect(result.all_pass).toBe(false);
    expect(result.checks).toHaveLength(5);
    const sub = check(result, "sub_step");
    expect(sub.passed).toBe(false);
    expect(sub.value).toBeNull();
    expect(sub.detail).toMatch(/sub_step/);
    expect(sub.detail).toMatch(/not found/);
  });

  it("passes the metric checks when only sub_step is missing", () => {
    const result = validate(GOOD_METRICS, undefined);
    expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(["sub_step"]);
  });

  it("fails sub_step \"0\"", () => {
    const result = validate(GOOD_METRICS, { "Args/--sub_step": "0" });
    expect(result.all_pass).toBe(false);
    expect(check(result, "sub_step")).toMatchObject({ passed: false, value: "0" });
    expect(check(result, "sub_step").detail).toMatch(/below the minimum 1/);
  });

  it("fails every metric check on empty metrics {}", () => {
    const result = validate({}, GOOD_PARAMS);
    expect(result.all_pass).toBe(false);
    const metricChecks = result.checks.filter((c) => c.name !== "sub_step" && c.name !== "status");
    expect(metricChecks).toHaveLength(3);
    for (const c of metricChecks) {
      expect(c.passed).toBe(false);
      expect(c.value).toBeNull();
      expect(c.detail).toBe(`metric '${c.name}' not found`);
    }
    expect(check(result, "sub_step").passed).toBe(true);
  });

  it.each([
    ["null", null],
    ["undefined", undefined],
  ])("treats metrics %s as no metrics", (_label, metrics) => {
    const result = validate(metrics, GOOD_PARAMS);
    expect(result.all_pass).toBe(false);
    expect(result.metrics).toEqual({});
    expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(["seg_total", "pde_mean", "train_time_min"]);
  });

  it("treats a metric reported as null as not found", () => {
    const result = validate({ ...GOOD_METRICS, pde_mean: null }, GOOD_PARAMS);
    expect(check(result, "pde_mean")).toMatchObject({ passed: false, value: null, detail: "metric 'pde_mean' not found" });
  });

  it.each([
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["a numeric string", "15"],
    ["a string", "abc"],
    ["a boolean", true],
    ["an object", { value: 15 }],
  ])("fails a metric whose value is %s as not a finite number", (_label, raw) => {
    for (const name of ["seg_total", "pde_mean", "train_time_min"]) {
      const result = validate({ ...GOOD_METRICS, [name]: raw }, GOOD_PARAMS);
      expect(result.all_pass).toBe(false);
      const c = check(result, name);
      expect(c.passed).toBe(false);
      expect(c.value).toBeNull();
      expect(c.detail).toContain(`metric '${name}' is not a finite number`);
    }
  });

  it("quotes the offending value in the not-finite detail", () => {
    const result = validate({ ...GOOD_METRICS, pde_mean: "abc" }, GOOD_PARAMS);
    expect(check(result, "pde_mean").detail).toBe(`metric 'pde_mean' is not a finite number ("abc")`);
    const nan = validate({ ...GOOD_METRICS, pde_mean: Number.NaN }, GOOD_PARAMS);
    expect(check(nan, "pde_mean").detail).toMatch(/^metric 'pde_mean' is not a finite number \(/);
  });

  it.each([
    ["pde_mean", 0],
    ["pde_mean", -1],
    ["pde_mean", -0],
    ["train_time_min", 0],
    ["train_time_min", -5],
    ["seg_total", 0],
    ["seg_total", -100],
  ] as const)("treats %s = %d as a value, which passes", (name, v) => {
    const result = validate({ ...GOOD_METRICS, [name]: v }, GOOD_PARAMS);
    expect(result.all_pass).toBe(true);
    expect(check(result, name).value).toBe(v);
  });

  it("returns the metrics it was given", () => {
    const metrics = { ...GOOD_METRICS, extra: "whatever" };
    expect(validate(metrics, GOOD_PARAMS).metrics).toBe(metrics);
  });

  it("does not mutate its inputs", () => {
    const metrics = { ...GOOD_METRICS };
    const params = { ...GOOD_PARAMS };
    validate(metrics, params);
    expect(metrics).toEqual(GOOD_METRICS);
    expect(params).toEqual(GOOD_PARAMS);
  });
});

describe("strict boundaries (the earlier tool wrongly passed these)", () => {
  it("fails pde_mean exactly 18.09", () => {
    const result = validate({ ...GOOD_METRICS, pde_mean: 18.09 }, GOOD_PARAMS);
    expect(result.all_pass).toBe(false);
    expect(check(result, "pde_mean")).toMatchObject({ passed: false, value: 18.09, detail: "18.09 is not < 18.09" });
  });

  it("fails train_time_min exactly 60", () => {
    const result = validate({ ...GOOD_METRICS, train_time_min: 60 }, GOOD_PARAMS);
    expect(result.all_pass).toBe(false);
    expect(check(result, "train_time_min")).toMatchObject({ passed: false, value: 60, detail: "60 is not < 60" });
  });

  it("passes just under each bound", () => {
    const result = validate({ seg_total: 1, pde_mean: 18.089999, train_time_min: 59.9999 }, GOOD_PARAMS);
    expect(result.all_pass).toBe(true);
    expect(check(result, "pde_mean").detail).toBe("18.089999 < 18.09");
    expect(check(result, "train_time_min").detail).toBe("59.9999 < 60");
  });

  it("fails the next double above each bound", () => {
    const above = (x: number): number => x + Number.EPSILON * x;
    const result = validate({ seg_total: 1, pde_mean: above(18.09), train_time_min: above(60) }, GOOD_PARAMS);
    expect(check(result, "pde_mean").passed).toBe(false);
    expect(check(result, "train_time_min").passed).toBe(false);
  });
});

describe("thresholds come from the metrics registry", () => {
  it("moves the pde_mean rule with an override: threshold 20 makes 19 pass", () => {
    const registry = MetricRegistry.create({ pde_mean: { threshold: 20 } });
    const metrics = { ...GOOD_METRICS, pde_mean: 19 };
    expect(validate(metrics, GOOD_PARAMS).all_pass).toBe(false);
    const result = validate(metrics, GOOD_PARAMS, PDEBENCH_RULES, { registry });
    expect(result.all_pass).toBe(true);
    expect(check(result, "pde_mean")).toMatchObject({ passed: true, label: "pde_mean < 20", detail: "19 < 20" });
  });

  it("moves the train_time_min rule down as well as up", () => {
    const registry = MetricRegistry.create({ train_time_min: { threshold: 30 } });
    const result = validate(GOOD_METRICS, GOOD_PARAMS, PDEBENCH_RULES, { registry });
    expect(check(result, "train_time_min")).toMatchObject({ passed: false, label: "train_time_min < 30", detail: "45.5 is not < 30" });
  });

  it("gives gt for a higher-is-better metric with a threshold", () => {
    const registry = MetricRegistry.create({ seg_total: { threshold: 50 } });
    const rule: MetricRule = { name: "seg_total", useThreshold: true };
    expect(metricBound(rule, registry)).toEqual({ op: "gt", value: 50 });
    const pack = metricPack(rule);
    const pass = validate({ seg_total: 57.09 }, {}, pack, { registry });
    expect(check(pass, "seg_total")).toMatchObject({ passed: true, label: "seg_total > 50", detail: "57.09 > 50" });
    const boundary = validate({ seg_total: 50 }, {}, pack, { registry });
    expect(check(boundary, "seg_total")).toMatchObject({ passed: false, detail: "50 is not > 50" });
  });

  it("gives lt for a lower-is-better metric", () => {
    expect(metricBound({ name: "pde_mean", useThreshold: true }, MetricRegistry.standard())).toEqual({ op: "lt", value: 18.09 });
    expect(metricBound({ name: "train_time_min", useThreshold: true }, MetricRegistry.standard())).toEqual({ op: "lt", value: 60 });
  });

  it("prefers the registry to op/value when useThreshold is set", () => {
    expect(metricBound({ name: "pde_mean", useThreshold: true, op: "gt", value: 1 }, MetricRegistry.standard())).toEqual({ op: "lt", value: 18.09 });
  });

  it("checks only presence when the registered threshold is null, and says so", () => {
    const registry = MetricRegistry.create({ pde_mean: { threshold: null } });
    expect(metricBound({ name: "pde_mean", useThreshold: true }, registry)).toBeNull();
    const result = validate({ ...GOOD_METRICS, pde_mean: 1000 }, GOOD_PARAMS, PDEBENCH_RULES, { registry });
    const c = check(result, "pde_mean");
    expect(c.passed).toBe(true);
    expect(c.value).toBe(1000);
    expect(c.label).toBe("pde_mean present");
    expect(c.detail).toContain("no registered threshold");
    expect(c.detail).toContain("nothing is gated");
    expect(result.all_pass).toBe(true);
  });

  it("still requires presence when the threshold is null", () => {
    const registry = MetricRegistry.create({ pde_mean: { threshold: null } });
    const result = validate({ seg_total: 1, train_time_min: 1 }, GOOD_PARAMS, PDEBENCH_RULES, { registry });
    expect(check(result, "pde_mean")).toMatchObject({ passed: false, detail: "metric 'pde_mean' not found" });
  });

  it("checks only presence for a useThreshold rule on an unregistered metric", () => {
    const result = validate({ my_score: 3 }, {}, metricPack({ name: "my_score", useThreshold: true }));
    expect(check(result, "my_score")).toMatchObject({ passed: true, value: 3 });
    expect(check(result, "my_score").detail).toContain("no registered threshold");
    // Issue 14: it says how to declare one.
    expect(check(result, "my_score").detail).toContain("(it is not a registered metric), so nothing is gated; to gate it, declare it with its direction under metrics: in expflow.yaml (my_score: {direction: lower} or {direction: higher}) and a threshold");
  });

  it("gates a user-added metric at its registered threshold", () => {
    const registry = MetricRegistry.create({ accuracy: { direction: "higher", threshold: 0.9 } });
    const pack = metricPack({ name: "accuracy", useThreshold: true });
    expect(validate({ accuracy: 0.95 }, {}, pack, { registry }).all_pass).toBe(true);
    expect(validate({ accuracy: 0.9 }, {}, pack, { registry }).all_pass).toBe(false);
  });
});

describe("aliases", () => {
  const registry = MetricRegistry.create({ pde_mean: { aliases: ["pde_avg", "PDE/mean"] }, train_time_min: { aliases: ["time_min"] } });

  it("reads a metric reported under an alias, and names the check by the canonical name", () => {
    const result = validate({ seg_total: 57.09, "PDE/mean": 15, time_min: 45.5 }, GOOD_PARAMS, PDEBENCH_RULES, { registry });
    expect(result.all_pass).toBe(true);
    expect(check(result, "pde_mean")).toMatchObject({ value: 15, label: "pde_mean < 18.09" });
    expect(check(result, "train_time_min").value).toBe(45.5);
  });

  it("gates the aliased value", () => {
    const result = validate({ seg_total: 57.09, pde_avg: 19, train_time_min: 45.5 }, GOOD_PARAMS, PDEBENCH_RULES, { registry });
    expect(check(result, "pde_mean")).toMatchObject({ passed: false, value: 19 });
  });

  it("prefers the canonical name to an alias", () => {
    const result = validate({ seg_total: 1, pde_mean: 10, pde_avg: 30, train_time_min: 1 }, GOOD_PARAMS, PDEBENCH_RULES, { registry });
    expect(check(result, "pde_mean")).toMatchObject({ passed: true, value: 10 });
  });

  it("accepts a rule written with an alias", () => {
    const result = validate({ pde_mean: 10 }, {}, metricPack({ name: "pde_avg", useThreshold: true }), { registry });
    expect(check(result, "pde_mean")).toMatchObject({ passed: true, value: 10, label: "pde_mean < 18.09" });
  });

  it("reports a missing aliased metric under its canonical name", () => {
    const result = validate({ seg_total: 1, train_time_min: 1 }, GOOD_PARAMS, PDEBENCH_RULES, { registry });
    expect(check(result, "pde_mean").detail).toBe("metric 'pde_mean' not found");
  });

  it("ignores aliases the registry does not know", () => {
    const result = validate({ seg_total: 1, pde_avg: 10, train_time_min: 1 }, GOOD_PARAMS);
    expect(check(result, "pde_mean").detail).toBe("metric 'pde_mean' not found");
  });
});

describe("sub_step in the default pack", () => {
  it.each(["Args/--sub_step", "General/SubStep", "sub_step", "Args/substep", "ARGS/SUB_STEP", "Hyper/Sub_Step", "General/my_substep_value"])(
    "finds the key %s case-insensitively in any section",
    (key) => {
      const result = validate(GOOD_METRICS, { [key]: "5" });
      expect(check(result, "sub_step")).toMatchObject({ passed: true, value: "5" });
      expect(check(result, "sub_step").detail).toBe(`${key} = "5"`);
    },
  );

  it.each(["Args/--step", "Args/sub-step", "Args/subsSteps_count", "General/stepsub"])("does not take %s for sub_step", (key) => {
    const result = validate(GOOD_METRICS, { [key]: "5" });
    expect(check(result, "sub_step")).toMatchObject({ passed: false, value: null });
  });

  it.each(["5", " 7 ", "1", "+3", "007", "\t12\n", "123456789"])("passes the value %j", (v) => {
    const result = validate(GOOD_METRICS, { "Args/--sub_step": v });
    expect(result.all_pass).toBe(true);
    expect(check(result, "sub_step").value).toBe(v);
  });

  it("passes a number (not text) sub_step", () => {
    const result = validate(GOOD_METRICS, { "Args/--sub_step": 5 });
    expect(check(result, "sub_step")).toMatchObject({ passed: true, value: "5" });
  });

  // Integer means whole decimal digits only, with an optional sign (INTEGER in rules.ts): so
  // "1e3" and "0x10" are not integers even though Number() would read them as one.
  it.each([
    ["0", /below the minimum 1/],
    ["-1", /below the minimum 1/],
    ["-0", /below the minimum 1/],
    ["abc", /is not an integer/],
    ["2.5", /is not an integer/],
    ["5.0", /is not an integer/],
    ["", /is not an integer/],
    ["   ", /is not an integer/],
    ["1e3", /is not an integer/],
    ["0x10", /is not an integer/],
    ["5 5", /is not an integer/],
    ["Infinity", /is not an integer/],
    ["NaN", /is not an integer/],
    ["５", /is not an integer/],
  ])("fails the value %j with the reason in detail", (v, why) => {
    const result = validate(GOOD_METRICS, { "Args/--sub_step": v });
    expect(result.all_pass).toBe(false);
    const c = check(result, "sub_step");
    expect(c.passed).toBe(false);
    expect(c.value).toBe(v);
    expect(c.detail).toContain(`Args/--sub_step = ${JSON.stringify(v)}`);
    expect(c.detail).toMatch(why);
  });

  it.each([
    ["a number below 1", 0],
    ["a fractional number", 2.5],
    ["a boolean", true],
    ["null", null],
  ])("fails a sub_step that is %s", (_label, v) => {
    const result = validate(GOOD_METRICS, { "Args/--sub_step": v });
    expect(check(result, "sub_step").passed).toBe(false);
  });

  it("fails when two matching keys disagree and one is bad, naming the bad key", () => {
    for (const params of [
      { "Args/--sub_step": "5", "General/SubStep": "0" },
      { "General/SubStep": "abc", "Args/--sub_step": "5" },
    ]) {
      const result = validate(GOOD_METRICS, params);
      expect(result.all_pass).toBe(false);
      const c = check(result, "sub_step");
      expect(c.passed).toBe(false);
      expect(c.detail).toMatch(/^General\/SubStep = /);
    }
  });

  it("passes two matching keys that are both good, listing both", () => {
    const result = validate(GOOD_METRICS, { "Args/--sub_step": "5", "General/SubStep": "7" });
    expect(check(result, "sub_step")).toMatchObject({ passed: true, value: "5", detail: `Args/--sub_step = "5", General/SubStep = "7"` });
  });

  it("ignores parameters that do not match", () => {
    const result = validate(GOOD_METRICS, { "Args/--sub_step": "5", "Args/lr": "abc", "General/epochs": "-1" });
    expect(result.all_pass).toBe(true);
  });
});

describe("the result shape", () => {
  it("is {all_pass, checks: [{name, label, value, passed, detail}], metrics} with snake_case all_pass", () => {
    const result = validate(GOOD_METRICS, GOOD_PARAMS);
    expect(Object.keys(result).sort()).toEqual(["all_pass", "checks", "metrics"]);
    expect(result).not.toHaveProperty("allPass");
    for (const c of result.checks) {
      expect(Object.keys(c).sort()).toEqual(["detail", "label", "name", "passed", "value"]);
      expect(typeof c.label).toBe("string");
      expect(typeof c.detail).toBe("string");
      expect(typeof c.passed).toBe("boolean");
    }
  });

  it("labels the default pack's checks as the earlier tool did", () => {
    const result = validate(GOOD_METRICS, GOOD_PARAMS);
    expect(result.checks.map((c) => c.label)).toEqual([
      "status is completed",
      "seg_total present (primary score)",
      "pde_mean < 18.09",
      "train_time_min < 60",
      "sub_step is an integer >= 1",
    ]);
  });

  it("keeps the labels when the checks fail", () => {
    const result = validate({}, {}, undefined, { status: "cancelled" });
    expect(result.checks.map((c) => c.label)).toEqual([
      "status is completed",
      "seg_total present (primary score)",
      "pde_mean < 18.09",
      "train_time_min < 60",
      "sub_step is an integer >= 1",
    ]);
  });

  it("round-trips through JSON", () => {
    const result = validate(GOOD_METRICS, { "Args/--sub_step": "0" });
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it("is a frozen default pack", () => {
    expect(Object.isFrozen(PDEBENCH_RULES)).toBe(true);
    expect(Object.isFrozen(PDEBENCH_RULES.metrics)).toBe(true);
    expect(PDEBENCH_RULES.name).toBe("pdebench");
  });
});

describe("custom packs: metric rules", () => {
  const cases: [GateOp, number, number, boolean][] = [
    ["lt", 1, 2, true],
    ["lt", 2, 2, false],
    ["lt", 3, 2, false],
    ["le", 1, 2, true],
    ["le", 2, 2, true],
    ["le", 3, 2, false],
    ["gt", 3, 2, true],
    ["gt", 2, 2, false],
    ["gt", 1, 2, false],
    ["ge", 3, 2, true],
    ["ge", 2, 2, true],
    ["ge", 1, 2, false],
    ["eq", 2, 2, true],
    ["eq", 3, 2, false],
    ["ne", 3, 2, true],
    ["ne", 2, 2, false],
  ];
  const symbols: Record<GateOp, string> = { lt: "<", le: "<=", gt: ">", ge: ">=", eq: "==", ne: "!=" };

  it("covers every gate op", () => {
    expect(new Set(cases.map(([op]) => op))).toEqual(new Set(GATE_OPS));
  });

  it.each(cases)("op %s: %d against %d passes = %s", (op, actual, bound, passes) => {
    const result = validate({ score: actual }, {}, metricPack({ name: "score", op, value: bound }));
    const c = check(result, "score");
    expect(c.passed).toBe(passes);
    expect(result.all_pass).toBe(passes);
    expect(c.label).toBe(`score ${symbols[op]} ${bound}`);
    expect(c.detail).toBe(passes ? `${actual} ${symbols[op]} ${bound}` : `${actual} is not ${symbols[op]} ${bound}`);
  });

  it("uses a rule's own label", () => {
    const result = validate({ score: 1 }, {}, metricPack({ name: "score", label: "score is small", op: "lt", value: 2 }));
    expect(check(result, "score").label).toBe("score is small");
  });

  it("passes a present metric without a bound, labelled `present`", () => {
    const result = validate({ score: -3 }, {}, metricPack({ name: "score" }));
    expect(check(result, "score")).toMatchObject({ passed: true, value: -3, label: "score present", detail: "present: -3" });
  });

  it("fails a missing metric without a bound (required by default)", () => {
    const result = validate({}, {}, metricPack({ name: "score" }));
    expect(check(result, "score")).toMatchObject({ passed: false, detail: "metric 'score' not found" });
  });

  it("passes a missing `required: false` metric without a bound", () => {
    const result = validate({}, {}, metricPack({ name: "score", required: false }));
    expect(result.all_pass).toBe(true);
    expect(check(result, "score")).toMatchObject({ passed: true, value: null, detail: "not reported (optional)" });
  });

  it("still fails a non-finite `required: false` metric that is reported", () => {
    const result = validate({ score: Number.NaN }, {}, metricPack({ name: "score", required: false }));
    expect(check(result, "score").passed).toBe(false);
  });

  it("implies required for a `required: false` metric with a bound", () => {
    const result = validate({}, {}, metricPack({ name: "score", required: false, op: "lt", value: 1 }));
    expect(check(result, "score")).toMatchObject({ passed: false, detail: "metric 'score' not found" });
  });

  it("gives an empty pack a vacuous pass with no checks", () => {
    const result = validate({}, {}, { name: "empty", metrics: [], params: [] });
    expect(result).toEqual({ all_pass: true, checks: [], metrics: {} });
  });

  it("fails all_pass when any one of several checks fails", () => {
    const pack = metricPack({ name: "a", op: "lt", value: 1 }, { name: "b", op: "gt", value: 1 });
    expect(validate({ a: 0, b: 2 }, {}, pack).all_pass).toBe(true);
    expect(validate({ a: 0, b: 0 }, {}, pack).all_pass).toBe(false);
    expect(validate({ a: 2, b: 2 }, {}, pack).all_pass).toBe(false);
  });

  // Regression: `canonical in metrics` also finds Object.prototype's members, so a metric named
  // like one of them was "present" with a function for a value instead of "not found".
  it("treats metrics named like Object.prototype members (constructor, toString, __proto__) as names like any other", () => {
    const names = ["constructor", "toString", "hasOwnProperty", "__proto__"];
    const result = validate({}, {}, metricPack(...names.map((name) => ({ name }))));
    expect(result.checks.map((c) => c.detail)).toEqual(names.map((name) => `metric '${name}' not found`));
  });
});

describe("custom packs: param rules", () => {
  it("checks an `allowed` list (compared as trimmed text)", () => {
    const pack = paramPack({ name: "dataset", allowed: ["pdebench-2d", "pdebench-3d"] });
    expect(validate({}, { "Data/dataset": "pdebench-2d" }, pack).all_pass).toBe(true);
    expect(validate({}, { "Data/dataset": " pdebench-3d " }, pack).all_pass).toBe(true);
    const bad = validate({}, { "Data/dataset": "pdebench-1d" }, pack);
    expect(bad.all_pass).toBe(false);
    expect(check(bad, "dataset")).toMatchObject({
      passed: false,
      value: "pdebench-1d",
      label: "dataset is one of pdebench-2d, pdebench-3d",
      detail: `Data/dataset = "pdebench-1d" is not one of pdebench-2d, pdebench-3d`,
    });
    expect(check(validate({}, { "Data/dataset": "PDEBENCH-2D" }, pack), "dataset").passed).toBe(false);
  });

  it("compares numbers in an allowed list as text", () => {
    const pack = paramPack({ name: "batch", allowed: ["16", "32"] });
    expect(validate({}, { "Args/batch": 32 }, pack).all_pass).toBe(true);
    expect(validate({}, { "Args/batch": 64 }, pack).all_pass).toBe(false);
  });

  it("defaults `match` to the rule's name, case-insensitively over the whole key", () => {
    const pack = paramPack({ name: "dataset" });
    expect(check(validate({}, { "Data/DataSet": "x" }, pack), "dataset")).toMatchObject({ passed: true, value: "x", label: "dataset present" });
    const missing = validate({}, { "Data/data": "x" }, pack);
    expect(check(missing, "dataset")).toMatchObject({ passed: false, value: null, detail: "parameter 'dataset' not found (no key matches /dataset/i)" });
  });

  it("uses an explicit `match` instead of the name", () => {
    const pack = paramPack({ name: "data", match: "^Data/(dataset|ds)$" });
    expect(validate({}, { "data/ds": "x" }, pack).all_pass).toBe(true);
    expect(validate({}, { "Args/data": "x" }, pack).all_pass).toBe(false);
  });

  it("matches the section too, since match covers the full Section/name key", () => {
    const pack = paramPack({ name: "x", match: "^General/" });
    expect(validate({}, { "General/anything": "1" }, pack).all_pass).toBe(true);
    expect(validate({}, { "Args/General": "1" }, pack).all_pass).toBe(false);
  });

  it("passes a missing `required: false` param, and still checks it when present", () => {
    const pack = paramPack({ name: "seed", type: "integer", required: false });
    expect(check(validate({}, {}, pack), "seed")).toMatchObject({ passed: true, value: null, detail: "not set (optional)" });
    expect(validate({}, { "Args/seed": "x" }, pack).all_pass).toBe(false);
    expect(validate({}, { "Args/seed": "42" }, pack).all_pass).toBe(true);
  });

  it("checks min and max for a number type", () => {
    const pack = paramPack({ name: "lr", type: "number", min: 0.0001, max: 0.1 });
    expect(validate({}, { "Args/lr": "0.01" }, pack).all_pass).toBe(true);
    expect(validate({}, { "Args/lr": "1e-3" }, pack).all_pass).toBe(true);
    expect(validate({}, { "Args/lr": ".05" }, pack).all_pass).toBe(true);
    expect(validate({}, { "Args/lr": "0.1" }, pack).all_pass).toBe(true);
    expect(validate({}, { "Args/lr": "0.0001" }, pack).all_pass).toBe(true);
    const low = check(validate({}, { "Args/lr": "0" }, pack), "lr");
    expect(low).toMatchObject({ passed: false, detail: `Args/lr = "0" is below the minimum 0.0001` });
    const high = check(validate({}, { "Args/lr": "0.5" }, pack), "lr");
    expect(high).toMatchObject({ passed: false, detail: `Args/lr = "0.5" is above the maximum 0.1` });
    for (const bad of ["abc", "", "Infinity", "1e999", "0x1", "NaN"]) {
      const c = check(validate({}, { "Args/lr": bad }, pack), "lr");
      expect(c.passed).toBe(false);
      expect(c.detail).toBe(`Args/lr = ${JSON.stringify(bad)} is not a number`);
    }
  });

  it("reads min and max as numeric even without a type", () => {
    const pack = paramPack({ name: "workers", max: 8 });
    expect(validate({}, { "Args/workers": "8" }, pack).all_pass).toBe(true);
    expect(validate({}, { "Args/workers": "9" }, pack).all_pass).toBe(false);
    expect(check(validate({}, { "Args/workers": "many" }, pack), "workers").detail).toMatch(/is not a number/);
  });

  it("checks max for an integer type", () => {
    const pack = paramPack({ name: "sub_step", type: "integer", min: 1, max: 10 });
    expect(validate({}, { sub_step: "10" }, pack).all_pass).toBe(true);
    expect(check(validate({}, { sub_step: "11" }, pack), "sub_step").detail).toMatch(/above the maximum 10/);
  });

  it("accepts any text for a string type", () => {
    const pack = paramPack({ name: "optimizer", type: "string" });
    expect(validate({}, { "Args/optimizer": "adam" }, pack).all_pass).toBe(true);
    expect(validate({}, { "Args/optimizer": "" }, pack).all_pass).toBe(true);
  });

  it("combines type, bounds and allowed", () => {
    const pack = paramPack({ name: "k", type: "integer", min: 1, allowed: ["2", "4"] });
    expect(validate({}, { k: "4" }, pack).all_pass).toBe(true);
    expect(check(validate({}, { k: "3" }, pack), "k").detail).toMatch(/is not one of 2, 4/);
    expect(check(validate({}, { k: "0" }, pack), "k").detail).toMatch(/below the minimum/);
  });

  it("derives labels from the rule", () => {
    const label = (rule: ParamRule): string => check(validate({}, {}, paramPack(rule)), rule.name).label;
    expect(label({ name: "sub_step", type: "integer", min: 1 })).toBe("sub_step is an integer, >= 1");
    expect(label({ name: "lr", min: 0, max: 1 })).toBe("lr is >= 0, <= 1");
    expect(label({ name: "seed" })).toBe("seed present");
    expect(label({ name: "seed", label: "the seed" })).toBe("the seed");
  });

  // Bug: paramLabel writes "an" before every type, so these read "an number" / "an string".
  it("labels number and string rules with the right article", () => {
    const pack = paramPack({ name: "lr", type: "number" }, { name: "opt", type: "string" });
    expect(validate({}, {}, pack).checks.map((c) => c.label)).toEqual(["lr is a number", "opt is a string"]);
  });

  it("orders checks: metric rules first, then param rules, each in pack order", () => {
    const pack: RulePack = {
      name: "mixed",
      metrics: [{ name: "b" }, { name: "a" }],
      params: [{ name: "z" }, { name: "y" }],
    };
    expect(validate({}, {}, pack).checks.map((c) => c.name)).toEqual(["b", "a", "z", "y"]);
  });
});

describe("validateCompetitionRules: the status rule (no certificate for an unfinished run)", () => {
  it.each(["cancelled", "failed", "running", "queued", "created", "dispatched", "unknown"])(
    "the pdebench pack fails a %s run whose metrics and parameters are perfect",
    (status) => {
      const result = validateCompetitionRules(GOOD_METRICS, GOOD_PARAMS, PDEBENCH_RULES, { status });
      expect(result.all_pass).toBe(false);
      expect(result.checks.filter((c) => !c.passed)).toEqual([{ name: "status", label: "status is completed", value: status, passed: false, detail: `the run's status is ${status}, not completed` }]);
    },
  );

  it("fails, and says why, when the status is not given at all (a library caller that forgot it)", () => {
    const result = validateCompetitionRules(GOOD_METRICS, GOOD_PARAMS);
    expect(result.all_pass).toBe(false);
    expect(check(result, "status")).toEqual({
      name: "status",
      label: "status is completed",
      value: null,
      passed: false,
      detail: "the run's status is not known, so it cannot be shown to be completed",
    });
  });

  it("matches the backend's status too, and shows it: ClearML's published is completed, stopped is cancelled", () => {
    const published = validateCompetitionRules(GOOD_METRICS, GOOD_PARAMS, PDEBENCH_RULES, { status: "completed", backendStatus: "published" });
    expect(check(published, "status")).toMatchObject({ value: "completed", passed: true, detail: "the run's status is completed (published)" });
    const stopped = validateCompetitionRules(GOOD_METRICS, GOOD_PARAMS, PDEBENCH_RULES, { status: "cancelled", backendStatus: "stopped" });
    expect(check(stopped, "status")).toMatchObject({ value: "cancelled", passed: false, detail: "the run's status is cancelled (stopped), not completed" });
    const same = validateCompetitionRules(GOOD_METRICS, GOOD_PARAMS, PDEBENCH_RULES, { status: "failed", backendStatus: "failed" });
    expect(check(same, "status").detail).toBe("the run's status is failed, not completed");
    const byBackend = validateCompetitionRules({}, {}, { name: "p", status: { allowed: ["published"] }, metrics: [], params: [] }, { status: "completed", backendStatus: "published" });
    expect(byBackend.all_pass).toBe(true);
  });

  it("allows several statuses, with a label saying so, or the pack's own label", () => {
    const pack: RulePack = { name: "p", status: { allowed: ["completed", "failed"] }, metrics: [], params: [] };
    expect(validateCompetitionRules({}, {}, pack, { status: "failed" }).all_pass).toBe(true);
    const running = validateCompetitionRules({}, {}, pack, { status: "running" });
    expect(running.checks).toEqual([{ name: "status", label: "status is one of completed, failed", value: "running", passed: false, detail: "the run's status is running, not one of completed, failed" }]);
    expect(statusRuleLabel({ allowed: ["completed"], label: "finished training" })).toBe("finished training");
    expect(validateCompetitionRules({}, {}, { ...pack, status: { allowed: ["completed"], label: "finished training" } }, { status: "completed" }).checks[0]!.label).toBe("finished training");
  });

  it("a pack without a status rule checks no status, whatever the run's", () => {
    const pack = metricPack({ name: "score" });
    const result = validateCompetitionRules({ score: 1 }, {}, pack, { status: "cancelled" });
    expect(result.checks.map((c) => c.name)).toEqual(["score"]);
    expect(result.all_pass).toBe(true);
  });

  it("the pdebench pack requires completed, frozen", () => {
    expect(PDEBENCH_RULES.status).toEqual({ allowed: ["completed"] });
    expect(Object.isFrozen(PDEBENCH_RULES.status)).toBe(true);
    expect(Object.isFrozen(PDEBENCH_RULES.status!.allowed)).toBe(true);
  });
});
