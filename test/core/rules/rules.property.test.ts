import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GATE_OPS } from "../../../src/core/gates/gate.js";
import type { MetricRule, ParamRule, RulePack } from "../../../src/core/rules/rules.js";
import { PDEBENCH_RULES, validateCompetitionRules } from "../../../src/core/rules/rules.js";
import { LIFECYCLE_STATES } from "../../../src/core/experiment.js";

/** A run's status: every lifecycle state, the earlier tool's missing one, and none given. */
const status = fc.option(fc.constantFrom(...LIFECYCLE_STATES, "unknown"), { nil: undefined });
const COMPLETED = { status: "completed" } as const;

/** Finite doubles, 0, -0, subnormals and extremes included. */
const finiteDouble = fc.double({ noNaN: true, noDefaultInfinity: true });

/** Values near the pdebench bounds, where a non-strict comparison would show. */
const nearBound = (bound: number): fc.Arbitrary<number> =>
  fc.oneof(fc.constant(bound), fc.double({ min: bound - 1, max: bound + 1, noNaN: true }), finiteDouble);

/** What a run may report for seg_total: finite, non-finite, the wrong type, or nothing. */
const segTotal = fc.oneof(
  finiteDouble,
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, null, undefined, "57.09", true),
);

/** sub_step texts: integers of either sign, padded or not, and near-misses. */
const subStepText = fc.oneof(
  fc.integer({ min: -5, max: 1_000_000 }).map(String),
  fc.tuple(fc.constantFrom("", " ", "\t", "+", "0"), fc.nat(99), fc.constantFrom("", " ", "\n")).map(([a, n, b]) => `${a}${n}${b}`),
  fc.constantFrom("", " ", "abc", "2.5", "1e3", "0x10", "-0", "+-1", "1_000", "Infinity", "５"),
  fc.string({ maxLength: 6 }),
);

/** sub_step keys in any section and case. */
const subStepKey = fc
  .tuple(fc.constantFrom("Args/--", "General/", "", "Hyper/"), fc.constantFrom("sub_step", "substep", "SubStep", "SUB_STEP"))
  .map(([section, name]) => `${section}${name}`);

/** The pdebench rule for sub_step, written independently of rules.ts: whole decimal digits, >= 1. */
function subStepOk(text: string): boolean {
  const t = text.trim();
  if (!/^[+-]?[0-9]+$/.test(t)) return false;
  return Number(t) >= 1;
}

describe("validateCompetitionRules (properties)", () => {
  it("gives the pdebench verdict status completed && pde_mean < 18.09 && train_time_min < 60 && seg_total finite && sub_step integer >= 1", () => {
    fc.assert(
      fc.property(
        nearBound(18.09),
        nearBound(60),
        segTotal,
        fc.option(fc.tuple(subStepKey, subStepText), { nil: undefined }),
        status,
        (pde, time, seg, sub, runStatus) => {
          const metrics: Record<string, unknown> = { pde_mean: pde, train_time_min: time };
          if (seg !== undefined) metrics.seg_total = seg;
          const params = sub === undefined ? {} : { [sub[0]]: sub[1], "Args/lr": "0.001" };
          const expected =
            runStatus === "completed" &&
            pde < 18.09 &&
            time < 60 &&
            typeof seg === "number" &&
            Number.isFinite(seg) &&
            sub !== undefined &&
            subStepOk(sub[1]);
          const result = validateCompetitionRules(metrics, params, PDEBENCH_RULES, { status: runStatus });
          expect(result.all_pass).toBe(expected);
          expect(result.checks.map((c) => c.passed)).toEqual([
            runStatus === "completed",
            typeof seg === "number" && Number.isFinite(seg),
            pde < 18.09,
            time < 60,
            sub !== undefined && subStepOk(sub[1]),
          ]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("reports a checked metric's value as given", () => {
    fc.assert(
      fc.property(finiteDouble, finiteDouble, finiteDouble, (seg, pde, time) => {
        const result = validateCompetitionRules({ seg_total: seg, pde_mean: pde, train_time_min: time }, {}, PDEBENCH_RULES, COMPLETED);
        expect(result.checks.slice(1, 4).map((c) => c.value)).toEqual([seg, pde, time]);
      }),
    );
  });

  it("agrees with the op for every custom metric rule", () => {
    const ops: Record<(typeof GATE_OPS)[number], (a: number, b: number) => boolean> = {
      lt: (a, b) => a < b,
      le: (a, b) => a <= b,
      gt: (a, b) => a > b,
      ge: (a, b) => a >= b,
      eq: (a, b) => a === b,
      ne: (a, b) => a !== b,
    };
    fc.assert(
      fc.property(fc.constantFrom(...GATE_OPS), finiteDouble, fc.oneof(finiteDouble, fc.constant(0)), (op, actual, bound) => {
        const pack: RulePack = { name: "p", metrics: [{ name: "m", op, value: bound }], params: [] };
        expect(validateCompetitionRules({ m: actual }, {}, pack).all_pass).toBe(ops[op](actual, bound));
      }),
    );
  });

  /** JSON-ish values: what a store, a YAML file or a REST response can hold. */
  const jsonish = fc.oneof(
    fc.jsonValue(),
    fc.constantFrom(undefined, Number.NaN, Number.POSITIVE_INFINITY, -0, "", " 5 "),
    fc.anything({ withNullPrototype: false, withBigInt: false }),
  );
  const metricName = fc.oneof(fc.constantFrom("seg_total", "pde_mean", "train_time_min", "m"), fc.string({ maxLength: 8 }));
  const paramKey = fc.oneof(subStepKey, fc.constantFrom("sub_step", "Data/dataset", "x"), fc.string({ maxLength: 12 }));
  const bag = (key: fc.Arbitrary<string>) =>
    fc.oneof(
      fc.dictionary(key, jsonish, { maxKeys: 6 }),
      fc.constantFrom(null, undefined),
    ) as fc.Arbitrary<Record<string, unknown> | null | undefined>;

  const metricRule: fc.Arbitrary<MetricRule> = fc.record(
    {
      name: metricName,
      required: fc.boolean(),
      op: fc.constantFrom(...GATE_OPS),
      value: finiteDouble,
      useThreshold: fc.boolean(),
    },
    { requiredKeys: ["name"] },
  );
  const paramRule: fc.Arbitrary<ParamRule> = fc.record(
    {
      name: fc.constantFrom("sub_step", "dataset", "lr", "x"),
      match: fc.constantFrom("sub_?step", "dataset", "^Args/", ".*", "x$"),
      type: fc.constantFrom("integer" as const, "number" as const, "string" as const),
      min: finiteDouble,
      max: finiteDouble,
      allowed: fc.array(fc.string({ maxLength: 4 }), { minLength: 1, maxLength: 3 }),
      required: fc.boolean(),
    },
    { requiredKeys: ["name"] },
  );
  const statusRule = fc.record(
    { allowed: fc.array(fc.constantFrom(...LIFECYCLE_STATES, "published"), { minLength: 1, maxLength: 3 }), label: fc.string({ maxLength: 6 }) },
    { requiredKeys: ["allowed"] },
  );
  const pack: fc.Arbitrary<RulePack> = fc.oneof(
    fc.constant(PDEBENCH_RULES),
    fc.record(
      { name: fc.constant("arb"), status: statusRule, metrics: fc.array(metricRule, { maxLength: 4 }), params: fc.array(paramRule, { maxLength: 3 }) },
      { requiredKeys: ["name", "metrics", "params"] },
    ),
  );
  const backendStatus = fc.option(fc.constantFrom("published", "stopped", "in_progress", "completed"), { nil: undefined });

  it("never throws on arbitrary JSON-ish metrics and params, and returns one check per rule, the status rule's first", () => {
    fc.assert(
      fc.property(bag(metricName), bag(paramKey), pack, status, backendStatus, (metrics, params, rules, runStatus, backend) => {
        const result = validateCompetitionRules(metrics, params, rules, { status: runStatus, backendStatus: backend });
        expect(result.checks).toHaveLength((rules.status ? 1 : 0) + rules.metrics.length + rules.params.length);
        if (rules.status) {
          const allowed = rules.status.allowed;
          expect(result.checks[0]).toMatchObject({
            name: "status",
            value: runStatus ?? null,
            passed: runStatus !== undefined && (allowed.includes(runStatus) || (backend !== undefined && allowed.includes(backend))),
          });
        }
        expect(result.all_pass).toBe(result.checks.every((c) => c.passed));
        for (const c of result.checks) {
          expect(typeof c.name).toBe("string");
          expect(typeof c.label).toBe("string");
          expect(typeof c.detail).toBe("string");
          expect(typeof c.passed).toBe("boolean");
          expect(c.value === null || typeof c.value === "string" || (typeof c.value === "number" && Number.isFinite(c.value))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("fails every metric check of the default pack whose value is not a finite number", () => {
    const notFinite = fc.oneof(
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, null, undefined),
      fc.string(),
      fc.boolean(),
      fc.object(),
      fc.array(fc.integer()),
    );
    fc.assert(
      fc.property(fc.constantFrom("seg_total", "pde_mean", "train_time_min"), notFinite, (name, raw) => {
        const metrics: Record<string, unknown> = { seg_total: 1, pde_mean: 1, train_time_min: 1, [name]: raw };
        const result = validateCompetitionRules(metrics, { sub_step: "1" }, PDEBENCH_RULES, COMPLETED);
        expect(result.all_pass).toBe(false);
        expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual([name]);
      }),
    );
  });

  // Bug: the not-finite detail uses JSON.stringify(raw), which throws on a BigInt, so one odd
  // value (e.g. from a YAML or JSON reader set to read big integers) crashes the whole audit.
  it("does not throw on a BigInt metric value", () => {
    const result = validateCompetitionRules({ seg_total: 1, pde_mean: 10n, train_time_min: 1 }, { sub_step: "1" }, PDEBENCH_RULES, COMPLETED);
    expect(result.checks[2]).toMatchObject({ name: "pde_mean", passed: false, value: null });
  });
});

describe("validateCompetitionRules on hostile JSON values", () => {
  // Bug: checkParam turns a value into text with String(raw), which throws for an object whose
  // toString is not a function, as JSON.parse('{"toString": 1}') gives.
  it("does not throw on a parameter value that JSON.parse made with a toString key", () => {
    const params = JSON.parse('{"Args/--sub_step": {"toString": 1}}') as Record<string, unknown>;
    const result = validateCompetitionRules({ seg_total: 1, pde_mean: 1, train_time_min: 1 }, params, PDEBENCH_RULES, COMPLETED);
    expect(result.checks[4]).toMatchObject({ name: "sub_step", passed: false });
  });
});
