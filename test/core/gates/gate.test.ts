import { describe, expect, it } from "vitest";
import { ExpflowError, UsageError } from "../../../src/core/errors.js";
import type { Gate, GateOp } from "../../../src/core/gates/gate.js";
import {
  compareOp,
  evaluateGates,
  formatGate,
  GATE_OP_SYMBOLS,
  GATE_OPS,
  metricValue,
  parseGate,
  thresholdGates,
} from "../../../src/core/gates/gate.js";
import { MetricRegistry } from "../../../src/core/metrics/registry.js";

function syntaxError(text: string): UsageError {
  let caught: unknown;
  try {
    parseGate(text);
  } catch (error) {
    caught = error;
  }
  expect(caught, `parseGate(${JSON.stringify(text)}) should throw`).toBeInstanceOf(UsageError);
  const error = caught as UsageError;
  expect(error).toBeInstanceOf(ExpflowError);
  expect(error.code).toBe("E_GATE_SYNTAX");
  expect(error.exitCode).toBe(2);
  expect(error.message).toContain(`'${text}'`);
  expect(error.hint).toContain("metric:op:value");
  return error;
}

const gate = (metric: string, op: GateOp, value: number): Gate => ({ metric, op, value });

describe("parseGate: valid gates", () => {
  it.each(GATE_OPS.map((op) => [op]))("reads the operator %s", (op) => {
    expect(parseGate(`pde_mean:${op}:18.09`)).toEqual({ metric: "pde_mean", op, value: 18.09 });
  });

  it("knows exactly the six operators", () => {
    expect([...GATE_OPS]).toEqual(["lt", "le", "gt", "ge", "eq", "ne"]);
    expect(GATE_OP_SYMBOLS).toEqual({ lt: "<", le: "<=", gt: ">", ge: ">=", eq: "==", ne: "!=" });
  });

  it.each([
    ["18.09", 18.09],
    ["-0.5", -0.5],
    ["1e3", 1000],
    ["2.5E-2", 0.025],
    ["+7", 7],
    ["0", 0],
    [".5", 0.5],
    ["60", 60],
  ])("reads the value %j as %d", (text, value) => {
    expect(parseGate(`x:ge:${text}`).value).toBe(value);
  });

  it("splits from the right, so a metric name may contain ':'", () => {
    expect(parseGate("Score:seg_total:gt:50")).toEqual({ metric: "Score:seg_total", op: "gt", value: 50 });
    expect(parseGate("a:b:c:lt:1")).toEqual({ metric: "a:b:c", op: "lt", value: 1 });
    expect(parseGate("ns:lt:lt:2")).toEqual({ metric: "ns:lt", op: "lt", value: 2 });
    expect(parseGate("::lt:2")).toEqual({ metric: ":", op: "lt", value: 2 });
  });

  it("reads the operator case-insensitively, normalised to lower case", () => {
    expect(parseGate("pde_mean:LT:18.09").op).toBe("lt");
    expect(parseGate("pde_mean:Ge:1").op).toBe("ge");
  });

  it("keeps the metric name's case", () => {
    expect(parseGate("PDE_Mean:lt:1").metric).toBe("PDE_Mean");
  });

  it("ignores whitespace around the gate and its parts", () => {
    expect(parseGate("  pde_mean : lt : 18.09  ")).toEqual({ metric: "pde_mean", op: "lt", value: 18.09 });
  });

  it("returns a frozen gate", () => {
    expect(Object.isFrozen(parseGate("x:lt:1"))).toBe(true);
  });
});

describe("parseGate: malformed gates", () => {
  it.each([
    ["no separator", "pde_mean"],
    ["one separator", "pde_mean:lt"],
    ["one separator, value-like", "pde_mean:18.09"],
    ["empty string", ""],
    ["blank", "   "],
    ["lone colon", ":"],
    ["two colons only", "::"],
  ])("rejects %s", (_label, text) => {
    syntaxError(text);
  });

  it("says three parts are expected when a separator is missing", () => {
    expect(syntaxError("pde_mean:lt").message).toContain("three parts");
  });

  it("rejects an empty metric name", () => {
    expect(syntaxError(":lt:5").message).toContain("metric name is empty");
    expect(syntaxError("  :lt:5").message).toContain("metric name is empty");
  });

  it("rejects an empty operator", () => {
    expect(syntaxError("pde_mean::5").message).toContain("operator is empty");
  });

  it("rejects an empty value", () => {
    expect(syntaxError("pde_mean:lt:").message).toContain("value is empty");
    expect(syntaxError("pde_mean:lt:  ").message).toContain("value is empty");
  });

  it.each(["<", "lte", "less", "=", "==", "gte5", "l t"])("rejects the unknown operator %j, listing the operators", (op) => {
    const error = syntaxError(`pde_mean:${op}:5`);
    expect(error.message).toContain("unknown operator");
    expect(error.message).toContain("lt le gt ge eq ne");
  });

  it("suggests the nearest operator", () => {
    expect(syntaxError("pde_mean:ltt:5").message).toContain("Did you mean 'lt'?");
    expect(syntaxError("pde_mean:nq:5").message).toMatch(/Did you mean '(ne|eq)'\?/);
  });

  it.each(["abc", "Infinity", "-Infinity", "NaN", "0x10", "0b11", "1e999", "1,5", "18.09.1", "5 5", "e3", "1e"])(
    "rejects the value %j",
    (value) => {
      expect(syntaxError(`pde_mean:lt:${value}`).message).toContain("not a finite decimal number");
    },
  );

  it("quotes the gate exactly as given, whitespace included", () => {
    expect(syntaxError("  pde_mean:lt:abc ").message).toContain("'  pde_mean:lt:abc '");
  });
});

describe("formatGate", () => {
  it("writes metric:op:value", () => {
    expect(formatGate(gate("pde_mean", "lt", 18.09))).toBe("pde_mean:lt:18.09");
    expect(formatGate(gate("x", "ge", -0.5))).toBe("x:ge:-0.5");
    expect(formatGate(gate("Score:seg_total", "gt", 50))).toBe("Score:seg_total:gt:50");
  });

  it("is read back by parseGate to an equal gate", () => {
    for (const g of [gate("a:b", "ne", 1e-7), gate("pde_mean", "le", 1e21), gate("m", "eq", -123.456)]) {
      expect(parseGate(formatGate(g))).toEqual(g);
    }
  });
});

describe("compareOp", () => {
  it.each([
    ["lt", 1, 2, true],
    ["lt", 2, 2, false],
    ["lt", 3, 2, false],
    ["le", 1, 2, true],
    ["le", 2, 2, true],
    ["le", 3, 2, false],
    ["gt", 1, 2, false],
    ["gt", 2, 2, false],
    ["gt", 3, 2, true],
    ["ge", 1, 2, false],
    ["ge", 2, 2, true],
    ["ge", 3, 2, true],
    ["eq", 2, 2, true],
    ["eq", 2.0000001, 2, false],
    ["ne", 2, 2, false],
    ["ne", 1, 2, true],
    ["eq", -0, 0, true],
    ["lt", -1, 0, true],
  ] as const)("%s(%d, %d) is %s", (op, actual, threshold, expected) => {
    expect(compareOp(op, actual, threshold)).toBe(expected);
  });
});

describe("metricValue", () => {
  it("reads finite numbers, 0 and negatives included", () => {
    expect(metricValue({ x: 0 }, "x")).toBe(0);
    expect(metricValue({ x: -2 }, "x")).toBe(-2);
    expect(metricValue({ x: 3.5 }, "x")).toBe(3.5);
  });

  it.each([
    ["absent", {}],
    ["null", { x: null }],
    ["NaN", { x: Number.NaN }],
    ["Infinity", { x: Number.POSITIVE_INFINITY }],
    ["a numeric string", { x: "5" }],
    ["a boolean", { x: true }],
    ["undefined", { x: undefined }],
  ])("is null when the value is %s", (_label, metrics) => {
    expect(metricValue(metrics, "x")).toBeNull();
  });

  it("falls back to the aliases, in order, when the canonical value is missing", () => {
    expect(metricValue({ a1: 4 }, "x", ["a1"])).toBe(4);
    expect(metricValue({ x: null, a1: Number.NaN, a2: 7 }, "x", ["a1", "a2"])).toBe(7);
    expect(metricValue({ x: 1, a1: 4 }, "x", ["a1"])).toBe(1);
    expect(metricValue({ a1: 4 }, "x")).toBeNull();
  });

  it("does not read inherited Object.prototype members as metrics", () => {
    expect(metricValue({}, "constructor")).toBeNull();
    expect(metricValue({}, "toString")).toBeNull();
  });
});

describe("evaluateGates", () => {
  it("passes with no gates", () => {
    expect(evaluateGates({}, [])).toEqual({ passed: true, results: [] });
  });

  it("reports a passing gate with reason null and the actual value", () => {
    expect(evaluateGates({ pde_mean: 17 }, [gate("pde_mean", "lt", 18.09)])).toEqual({
      passed: true,
      results: [{ metric: "pde_mean", op: "lt", threshold: 18.09, actual: 17, passed: true, reason: null }],
    });
  });

  it("fails a missed gate with reason not_met", () => {
    expect(evaluateGates({ pde_mean: 19 }, [gate("pde_mean", "lt", 18.09)])).toEqual({
      passed: false,
      results: [{ metric: "pde_mean", op: "lt", threshold: 18.09, actual: 19, passed: false, reason: "not_met" }],
    });
  });

  it.each([
    ["absent", {}],
    ["null", { x: null }],
    ["NaN", { x: Number.NaN }],
    ["Infinity", { x: Number.POSITIVE_INFINITY }],
    ["-Infinity", { x: Number.NEGATIVE_INFINITY }],
    ["a string", { x: "5" }],
    ["a boolean", { x: false }],
    ["an object", { x: { value: 5 } }],
  ])("fails with reason missing when the metric is %s", (_label, metrics) => {
    // `ne` would pass for any real value, so only the missing check can fail it.
    const { passed, results } = evaluateGates(metrics, [gate("x", "ne", 12345)]);
    expect(passed).toBe(false);
    expect(results[0]).toMatchObject({ actual: null, passed: false, reason: "missing" });
  });

  it("treats 0 as a value", () => {
    expect(evaluateGates({ x: 0 }, [gate("x", "ge", 0)]).passed).toBe(true);
    expect(evaluateGates({ x: 0 }, [gate("x", "eq", 0)]).passed).toBe(true);
    expect(evaluateGates({ x: 0 }, [gate("x", "le", 0)]).passed).toBe(true);
    expect(evaluateGates({ x: 0 }, [gate("x", "gt", 0)]).results[0]).toMatchObject({ actual: 0, reason: "not_met" });
    expect(evaluateGates({ x: 0 }, [gate("x", "lt", 1)]).results[0]).toMatchObject({ actual: 0, passed: true, reason: null });
  });

  it("treats negative numbers as values", () => {
    expect(evaluateGates({ x: -1 }, [gate("x", "lt", 0)]).passed).toBe(true);
    expect(evaluateGates({ x: -1 }, [gate("x", "gt", -2)]).passed).toBe(true);
    expect(evaluateGates({ x: -1 }, [gate("x", "ge", 0)]).results[0]).toMatchObject({ actual: -1, reason: "not_met" });
  });

  it("is strict at the boundary for lt and gt, inclusive for le and ge", () => {
    const at = { pde_mean: 18.09 };
    expect(evaluateGates(at, [gate("pde_mean", "lt", 18.09)]).results[0]).toMatchObject({ passed: false, reason: "not_met" });
    expect(evaluateGates(at, [gate("pde_mean", "le", 18.09)]).passed).toBe(true);
    expect(evaluateGates(at, [gate("pde_mean", "gt", 18.09)]).passed).toBe(false);
    expect(evaluateGates(at, [gate("pde_mean", "ge", 18.09)]).passed).toBe(true);
    expect(evaluateGates(at, [gate("pde_mean", "eq", 18.09)]).passed).toBe(true);
    expect(evaluateGates(at, [gate("pde_mean", "ne", 18.09)]).passed).toBe(false);
  });

  it("applies parsed gates the same way", () => {
    expect(evaluateGates({ pde_mean: 18.09 }, [parseGate("pde_mean:lt:18.09")]).passed).toBe(false);
    expect(evaluateGates({ pde_mean: 18.089 }, [parseGate("pde_mean:lt:18.09")]).passed).toBe(true);
  });

  it("fails when any gate fails, reporting every gate in order", () => {
    const gates = [gate("a", "gt", 0), gate("b", "lt", 10), gate("c", "eq", 1)];
    const { passed, results } = evaluateGates({ a: 1, b: 11 }, gates);
    expect(passed).toBe(false);
    expect(results.map((r) => [r.metric, r.passed, r.reason])).toEqual([
      ["a", true, null],
      ["b", false, "not_met"],
      ["c", false, "missing"],
    ]);
  });

  it("passes only when every gate passes", () => {
    const gates = [gate("a", "gt", 0), gate("b", "lt", 10)];
    expect(evaluateGates({ a: 1, b: 9 }, gates).passed).toBe(true);
    expect(evaluateGates({ a: 0, b: 9 }, gates).passed).toBe(false);
  });

  it("reads a value reported under an alias when given the registry", () => {
    const registry = MetricRegistry.create({ pde_mean: { aliases: ["pde"] } });
    const g = [gate("pde_mean", "lt", 18.09)];
    expect(evaluateGates({ pde: 10 }, g, { registry })).toMatchObject({ passed: true, results: [{ actual: 10 }] });
    expect(evaluateGates({ pde: 10 }, g).results[0]).toMatchObject({ reason: "missing" });
  });

  it("does not mistake Object.prototype members for metric values", () => {
    expect(evaluateGates({}, [gate("constructor", "ne", 0)]).results[0]).toMatchObject({ reason: "missing" });
  });
});

describe("thresholdGates", () => {
  it("gives exactly pde_mean < 18.09 and train_time_min < 60 for the standard registry", () => {
    expect(thresholdGates(MetricRegistry.standard())).toEqual([gate("pde_mean", "lt", 18.09), gate("train_time_min", "lt", 60)]);
  });

  it("follows a moved threshold", () => {
    expect(thresholdGates(MetricRegistry.create({ pde_mean: { threshold: 15 } }))).toEqual([
      gate("pde_mean", "lt", 15),
      gate("train_time_min", "lt", 60),
    ]);
  });

  it("uses gt for a metric whose direction is higher", () => {
    expect(thresholdGates(MetricRegistry.create({ pde_mean: { direction: "higher" } }))).toContainEqual(gate("pde_mean", "gt", 18.09));
    expect(thresholdGates(MetricRegistry.create({ seg_total: { threshold: 50 } }))).toEqual([
      gate("seg_total", "gt", 50),
      gate("pde_mean", "lt", 18.09),
      gate("train_time_min", "lt", 60),
    ]);
  });

  it("drops a metric whose threshold is set to null", () => {
    expect(thresholdGates(MetricRegistry.create({ train_time_min: { threshold: null } }))).toEqual([gate("pde_mean", "lt", 18.09)]);
    expect(thresholdGates(MetricRegistry.create({ train_time_min: { threshold: null }, pde_mean: { threshold: null } }))).toEqual([]);
  });

  it("keeps a threshold of 0", () => {
    expect(thresholdGates(MetricRegistry.create({ pde_mean: { threshold: 0 } }))).toContainEqual(gate("pde_mean", "lt", 0));
  });

  it("includes user-added metrics with a threshold, after the standard ones", () => {
    const registry = MetricRegistry.create({ accuracy: { direction: "higher", threshold: 0.9 }, latency: { direction: "lower" } });
    expect(thresholdGates(registry)).toEqual([
      gate("pde_mean", "lt", 18.09),
      gate("train_time_min", "lt", 60),
      gate("accuracy", "gt", 0.9),
    ]);
  });

  it("gives gates that are strict in the metric's direction", () => {
    const [pde, time] = thresholdGates(MetricRegistry.standard());
    expect(evaluateGates({ pde_mean: 18.09, train_time_min: 59.99 }, [pde!, time!]).results.map((r) => r.passed)).toEqual([false, true]);
    expect(evaluateGates({ pde_mean: 18.08, train_time_min: 60 }, [pde!, time!]).results.map((r) => r.passed)).toEqual([true, false]);
  });
});
