import { describe, expect, it } from "vitest";
import { ConfigError, ValidationError } from "../../../src/core/errors.js";
import { customNameProblem, declareMetricHint, MetricRegistry, validateMetricValues } from "../../../src/core/metrics/registry.js";

// Metrics for any project (issue 14): unregistered names kept as custom metrics unless strict.

describe("custom metrics", () => {
  it("validateMetricValues keeps valid unregistered names with custom: true, under their own names; aliases still resolve", () => {
    const registry = MetricRegistry.create({ f1_macro: { direction: "higher", aliases: ["f1"] } });
    expect(validateMetricValues(new Map<string, unknown>([["val_loss", "0.5"], ["f1", 0.7], ["constructor", 1]]), registry, { custom: true })).toEqual(Object.fromEntries([["val_loss", 0.5], ["f1_macro", 0.7], ["constructor", 1]]));
  });

  it("without custom (the library's default) or with a strict registry, an unknown name is refused, saying how to declare one, as data too", () => {
    const strict = MetricRegistry.create({}, undefined, { strict: true });
    expect(strict.strict).toBe(true);
    expect(MetricRegistry.create().strict).toBe(false);
    for (const [registry, options] of [[MetricRegistry.standard(), {}], [strict, { custom: true }]] as const) {
      let error: unknown;
      try {
        validateMetricValues({ val_loss: 0.1 }, registry, options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ValidationError);
      const v = error as ValidationError;
      expect(v.message).toMatch(/^unknown metric 'val_loss'/);
      expect(v.hint).toContain(declareMetricHint("val_loss"));
      expect(v.hint).toContain("val_loss: {direction: lower} or {direction: higher}");
      expect(v.field).toBe("values");
      expect(v.value).toBe("val_loss");
    }
  });

  it("a custom name must be a name: no control or bidi characters, no white space, at most 128 characters, not a step key", () => {
    expect(customNameProblem("val_loss")).toBeNull();
    expect(customNameProblem("loss/train")).toBeNull();
    expect(customNameProblem("constructor")).toBeNull();
    for (const bad of ["", "a b", "a\u001b[31m", "x\u0085", "a\u202eb", "a\u2066b", "a\u2028b", "x".repeat(129), "step", "iteration", "__proto__"]) expect(customNameProblem(bad), JSON.stringify(bad)).not.toBeNull();
    expect(() => validateMetricValues({ "a\u001bb": 1 }, MetricRegistry.standard(), { custom: true })).toThrow(/cannot be kept as a custom metric: a metric name must contain no white space and no control/);
    // No advice to declare a name that cannot be one.
    let hint: string | undefined = "unset";
    try {
      validateMetricValues({ "a b": 1 }, MetricRegistry.standard(), { custom: true });
    } catch (e) {
      hint = (e as ValidationError).hint;
    }
    expect(hint).toBeUndefined();
  });

  it("step and iteration cannot be metrics or aliases in config: in a metrics file they are the entry's step", () => {
    expect(() => MetricRegistry.create({ step: { direction: "lower" } })).toThrow(ConfigError);
    expect(() => MetricRegistry.create({ val_loss: { direction: "lower", aliases: ["iteration"] } })).toThrow(/alias 'iteration' cannot be a metric's/);
  });
});
