import { describe, expect, it, vi } from "vitest";
import { ConfigError, ExpflowError, ValidationError } from "../../../src/core/errors.js";
import type { Direction, MetricDefinition, MetricOverride, MetricValues } from "../../../src/core/metrics/registry.js";
import {
  MetricRegistry,
  parseDecimal,
  reportStandard,
  STANDARD_METRICS,
  validateMetricValues,
} from "../../../src/core/metrics/registry.js";

/** Runs `fn` and returns what it threw; fails the test when it does not throw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw, but nothing was thrown");
}

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, but the promise resolved");
}

function configError(overrides: Record<string, MetricOverride>, sourceOf?: (m: string) => string): ConfigError {
  const error = thrown(() => MetricRegistry.create(overrides, sourceOf));
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

const EXPECTED_STANDARD: readonly [string, string, "higher" | "lower", number | null][] = [
  ["seg_total", "Score", "higher", null],
  ["seg1", "Score", "higher", null],
  ["seg2", "Score", "higher", null],
  ["seg3", "Score", "higher", null],
  ["val_mse", "Loss", "lower", null],
  ["val_relmse", "Loss", "lower", null],
  ["pde_mean", "PDE", "lower", 18.09],
  ["pde_seg1", "PDE", "lower", null],
  ["pde_seg2", "PDE", "lower", null],
  ["pde_seg3", "PDE", "lower", null],
  ["train_time_min", "Time", "lower", 60],
  ["arch_params", "Model", "lower", null],
  ["epochs", "Training", "lower", null],
];

const STANDARD_NAMES = EXPECTED_STANDARD.map(([name]) => name);

describe("STANDARD_METRICS", () => {
  it("has exactly the 13 standard metrics, in display order", () => {
    expect(STANDARD_METRICS.map((d) => d.name)).toEqual(STANDARD_NAMES);
    expect(STANDARD_METRICS).toHaveLength(13);
  });

  it.each(EXPECTED_STANDARD)("%s: group %s, direction %s, threshold %s", (name, group, direction, threshold) => {
    const d = STANDARD_METRICS.find((m) => m.name === name);
    expect(d).toBeDefined();
    expect(d!.group).toBe(group);
    expect(d!.direction).toBe(direction);
    expect(d!.threshold).toBe(threshold);
    expect(d!.standard).toBe(true);
    expect(d!.aliases).toEqual([]);
    expect(d!.description).not.toBe("");
  });

  it("gives units to training time and parameter count", () => {
    const unit = (n: string) => STANDARD_METRICS.find((m) => m.name === n)?.unit;
    expect(unit("train_time_min")).toBe("min");
    expect(unit("arch_params")).toBe("params");
    expect(unit("seg_total")).toBeNull();
  });

  it("is frozen, list and definitions alike", () => {
    expect(Object.isFrozen(STANDARD_METRICS)).toBe(true);
    for (const d of STANDARD_METRICS) expect(Object.isFrozen(d)).toBe(true);
  });
});

describe("MetricRegistry.standard", () => {
  const registry = MetricRegistry.standard();

  it("registers the 13 standard metrics and nothing else", () => {
    expect(registry.names()).toEqual(STANDARD_NAMES);
    expect(registry.allNames()).toEqual(STANDARD_NAMES);
    expect(registry.list().map((d) => d.name)).toEqual(STANDARD_NAMES);
  });

  it("lists the groups in display order", () => {
    expect(registry.groups()).toEqual(["Score", "Loss", "PDE", "Time", "Model", "Training"]);
  });

  it("filters by group, case-insensitively", () => {
    expect(registry.list("pde").map((d) => d.name)).toEqual(["pde_mean", "pde_seg1", "pde_seg2", "pde_seg3"]);
    expect(registry.list("SCORE").map((d) => d.name)).toEqual(["seg_total", "seg1", "seg2", "seg3"]);
    expect(registry.list("no-such-group")).toEqual([]);
  });

  it("resolves, gets and knows registered names only", () => {
    expect(registry.resolve("pde_mean")).toBe("pde_mean");
    expect(registry.get("pde_mean")?.threshold).toBe(18.09);
    expect(registry.has("epochs")).toBe(true);
    expect(registry.resolve("pde")).toBeUndefined();
    expect(registry.get("accuracy")).toBeUndefined();
    expect(registry.has("accuracy")).toBe(false);
    // Names are case-sensitive.
    expect(registry.has("PDE_MEAN")).toBe(false);
  });
});

describe("MetricRegistry.create: overrides", () => {
  it("with no overrides equals the standard registry", () => {
    expect(MetricRegistry.create().list()).toEqual(MetricRegistry.standard().list());
    expect(MetricRegistry.create({}).list()).toEqual(MetricRegistry.standard().list());
  });

  it("overrides direction, threshold, group, unit and description of a standard metric", () => {
    const r = MetricRegistry.create({
      pde_mean: { direction: "higher", threshold: 17.5, group: "Physics", unit: "res", description: "my residual" },
    });
    const d = r.get("pde_mean")!;
    expect(d).toMatchObject({
      name: "pde_mean",
      direction: "higher",
      threshold: 17.5,
      group: "Physics",
      unit: "res",
      description: "my residual",
      standard: true,
    });
  });

  it("keeps the fields not given", () => {
    const d = MetricRegistry.create({ pde_mean: { threshold: 17 } }).get("pde_mean")!;
    expect(d).toMatchObject({ direction: "lower", group: "PDE", threshold: 17, unit: null, standard: true });
    expect(d.description).toBe(STANDARD_METRICS.find((m) => m.name === "pde_mean")!.description);
  });

  it("removes a threshold set to null and a unit set to null", () => {
    const r = MetricRegistry.create({ pde_mean: { threshold: null }, train_time_min: { unit: null } });
    expect(r.get("pde_mean")!.threshold).toBeNull();
    expect(r.get("train_time_min")!.unit).toBeNull();
    expect(r.get("train_time_min")!.threshold).toBe(60);
  });

  it("accepts a threshold of 0 and a negative threshold", () => {
    const r = MetricRegistry.create({ seg1: { threshold: 0 }, seg2: { threshold: -3.5 } });
    expect(r.get("seg1")!.threshold).toBe(0);
    expect(r.get("seg2")!.threshold).toBe(-3.5);
  });

  it("keeps an overridden standard metric in its display position", () => {
    const r = MetricRegistry.create({ val_mse: { group: "Errors" } });
    expect(r.names()).toEqual(STANDARD_NAMES);
    expect(r.groups()).toEqual(["Score", "Errors", "Loss", "PDE", "Time", "Model", "Training"]);
  });

  it("does not change the standard metrics or the standard registry", () => {
    MetricRegistry.create({ pde_mean: { threshold: 1, direction: "higher" } });
    expect(STANDARD_METRICS.find((m) => m.name === "pde_mean")).toMatchObject({ threshold: 18.09, direction: "lower" });
    expect(MetricRegistry.standard().get("pde_mean")).toMatchObject({ threshold: 18.09, direction: "lower" });
  });

  it("adds a new metric after the standard ones, with defaults for the fields not given", () => {
    const r = MetricRegistry.create({ accuracy: { direction: "higher" } });
    expect(r.names()).toEqual([...STANDARD_NAMES, "accuracy"]);
    const expected: MetricDefinition = {
      name: "accuracy",
      group: "Custom",
      direction: "higher",
      description: "",
      threshold: null,
      unit: null,
      aliases: [],
      standard: false,
    };
    expect(r.get("accuracy")).toEqual(expected);
    expect(r.groups()).toEqual(["Score", "Loss", "PDE", "Time", "Model", "Training", "Custom"]);
  });

  it("adds a new metric with every field given", () => {
    const r = MetricRegistry.create({
      f1: { direction: "higher", threshold: 0.8, group: "Quality", unit: "ratio", description: "F1 score", aliases: ["f1_score"] },
    });
    expect(r.get("f1")).toEqual({
      name: "f1",
      group: "Quality",
      direction: "higher",
      description: "F1 score",
      threshold: 0.8,
      unit: "ratio",
      aliases: ["f1_score"],
      standard: false,
    });
    expect(r.list("quality").map((d) => d.name)).toEqual(["f1"]);
  });

  it("returns frozen definitions", () => {
    const r = MetricRegistry.create({ accuracy: { direction: "higher", aliases: ["acc"] } });
    expect(Object.isFrozen(r.get("accuracy"))).toBe(true);
    expect(Object.isFrozen(r.get("accuracy")!.aliases)).toBe(true);
  });

  it("does not share the caller's alias array", () => {
    const aliases = ["acc"];
    const r = MetricRegistry.create({ accuracy: { direction: "higher", aliases } });
    aliases.push("accu");
    expect(r.get("accuracy")!.aliases).toEqual(["acc"]);
    expect(r.has("accu")).toBe(false);
  });
});

describe("MetricRegistry.create: aliases", () => {
  const r = MetricRegistry.create({
    pde_mean: { aliases: ["pde", "PDE/mean"] },
    accuracy: { direction: "higher", aliases: ["acc"] },
  });

  it("resolves aliases to the canonical name", () => {
    expect(r.resolve("pde")).toBe("pde_mean");
    expect(r.resolve("PDE/mean")).toBe("pde_mean");
    expect(r.resolve("acc")).toBe("accuracy");
    expect(r.resolve("pde_mean")).toBe("pde_mean");
  });

  it("gets the canonical definition through an alias", () => {
    expect(r.get("pde")?.name).toBe("pde_mean");
    expect(r.get("pde")?.threshold).toBe(18.09);
    expect(r.has("acc")).toBe(true);
  });

  it("lists aliases among all names, but not among canonical names", () => {
    expect(r.allNames()).toEqual(expect.arrayContaining(["pde", "PDE/mean", "acc", "pde_mean", "accuracy"]));
    expect(r.names()).not.toContain("pde");
    expect(r.names()).not.toContain("acc");
  });

  it("replaces a metric's aliases when overridden again with new ones", () => {
    const only = MetricRegistry.create({ pde_mean: { aliases: ["residual"] } });
    expect(only.resolve("residual")).toBe("pde_mean");
    expect(only.resolve("pde")).toBeUndefined();
  });
});

describe("MetricRegistry.create: invalid definitions", () => {
  it("rejects a new metric without a direction, naming metrics.<name>.direction", () => {
    const error = configError({ foo: { threshold: 3 } });
    expect(error.code).toBe("E_CONFIG");
    expect(error.exitCode).toBe(2);
    expect(error.key).toBe("metrics.foo.direction");
    expect(error.message).toContain("metrics.foo.direction");
    expect(error.message).toContain("foo");
    expect(error.hint).toMatch(/direction: (higher|lower)/);
  });

  it("names the source of the faulty entry", () => {
    const error = configError({ foo: {} }, (m) => (m === "foo" ? "/proj/expflow.yaml" : "other"));
    expect(error.source).toBe("/proj/expflow.yaml");
    expect(error.message.startsWith("/proj/expflow.yaml")).toBe(true);
  });

  it("defaults the source to 'config'", () => {
    expect(configError({ foo: {} }).source).toBe("config");
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])("rejects threshold %s, naming metrics.<name>.threshold", (t) => {
    const error = configError({ pde_mean: { threshold: t } });
    expect(error.key).toBe("metrics.pde_mean.threshold");
    expect(error.message).toContain("metrics.pde_mean.threshold");
  });

  it("rejects a non-numeric threshold from untyped input", () => {
    const error = configError({ pde_mean: { threshold: "18" as unknown as number } });
    expect(error.key).toBe("metrics.pde_mean.threshold");
  });

  it.each(["", "   ", "my metric", "tab\tname"])("rejects the metric name %j", (name) => {
    const error = configError({ [name]: { direction: "higher" } });
    expect(error.key).toBe(`metrics.${name}`);
  });

  // Regression: `direction` is only checked for presence, so an invalid value (possible from
  // untyped JavaScript callers of this public API) is stored and later treated as `higher`.
  it("rejects a direction that is neither higher nor lower, naming metrics.<name>.direction", () => {
    const cases: [string, string][] = [
      ["foo", "up"],
      ["pde_mean", "ascending"],
    ];
    for (const [name, direction] of cases) {
      const error = configError({ [name]: { direction: direction as Direction } });
      expect(error.key).toBe(`metrics.${name}.direction`);
    }
  });

  it("rejects an alias that is already the name of a metric", () => {
    const error = configError({ pde_mean: { aliases: ["pde_seg1"] } });
    expect(error.key).toBe("metrics.pde_mean.aliases");
    expect(error.message).toContain("'pde_seg1'");
    expect(error.message).toContain("already the name of a metric");
  });

  it("rejects an alias that is the name of a newly added metric", () => {
    const error = configError({ pde_mean: { aliases: ["pde"] }, pde: { direction: "lower" } });
    expect(error.key).toBe("metrics.pde_mean.aliases");
  });

  it("rejects an alias equal to the metric's own name", () => {
    expect(configError({ seg1: { aliases: ["seg1"] } }).key).toBe("metrics.seg1.aliases");
  });

  it("rejects an alias already taken by another metric, naming both", () => {
    const error = configError({ seg1: { aliases: ["s"] }, seg2: { aliases: ["s"] } });
    expect(error.key).toBe("metrics.seg2.aliases");
    expect(error.message).toContain("'s'");
    expect(error.message).toContain("'seg1'");
  });

  it("is an ExpflowError with exit code 2", () => {
    const error = configError({ foo: {} });
    expect(error).toBeInstanceOf(ExpflowError);
    expect(error.name).toBe("ConfigError");
  });
});

describe("parseDecimal", () => {
  it.each([
    ["18.09", 18.09],
    ["-0.5", -0.5],
    ["+2", 2],
    ["1e3", 1000],
    ["1E-2", 0.01],
    [".5", 0.5],
    ["5.", 5],
    ["0", 0],
    ["-12", -12],
  ])("reads %j as %d", (text, value) => {
    expect(parseDecimal(text)).toBe(value);
  });

  it.each(["", " ", "abc", "NaN", "Infinity", "-Infinity", "0x10", "0b1", "1e999", "1,5", "1_000", "--1", "1e", "e3", "."])(
    "rejects %j",
    (text) => {
      expect(parseDecimal(text)).toBeUndefined();
    },
  );
});

describe("validateMetricValues / reportStandard: names", () => {
  function validationError(values: unknown, registry?: MetricRegistry): ValidationError {
    const error = thrown(() => validateMetricValues(values, registry));
    expect(error).toBeInstanceOf(ValidationError);
    const v = error as ValidationError;
    expect(v.code).toBe("E_METRIC_VALIDATION");
    expect(v.exitCode).toBe(2);
    return v;
  }

  it("accepts every standard metric", () => {
    const values = Object.fromEntries(STANDARD_NAMES.map((n, i) => [n, i + 0.5]));
    expect(validateMetricValues(values)).toEqual(values);
  });

  it("rejects an unknown name, suggesting the nearest and listing the known names", () => {
    const error = validationError({ seg_totl: 1 });
    expect(error.message).toContain("unknown metric 'seg_totl'");
    expect(error.message).toContain("Did you mean 'seg_total'?");
    for (const name of STANDARD_NAMES) expect(error.hint).toContain(name);
  });

  it("rejects an unknown name without a suggestion when nothing is close", () => {
    const error = validationError({ completely_unrelated: 1 });
    expect(error.message).toContain("unknown metric 'completely_unrelated'");
    expect(error.message).not.toContain("Did you mean");
    expect(error.hint).toContain("pde_mean");
  });

  it("reports every problem at once", () => {
    const error = validationError({ seg_totl: 1, pde_maen: 2, seg1: Number.NaN, seg2: 3 });
    expect(error.message).toContain("'seg_totl'");
    expect(error.message).toContain("'pde_maen'");
    expect(error.message).toContain("Did you mean 'pde_mean'?");
    expect(error.message).toContain("'seg1'");
    expect(error.message).not.toContain("'seg2'");
    expect(error.message.split("\n")).toHaveLength(3);
  });

  it("gives no list of known names when only values are wrong", () => {
    expect(validationError({ seg1: "abc" }).hint).toBeUndefined();
  });

  it("accepts aliases and keys the result by canonical name", () => {
    const r = MetricRegistry.create({ pde_mean: { aliases: ["pde"] } });
    expect(validateMetricValues({ pde: 12.5, seg1: 3 }, r)).toEqual({ pde_mean: 12.5, seg1: 3 });
  });

  it("rejects one metric given twice, under its name and an alias", () => {
    const r = MetricRegistry.create({ pde_mean: { aliases: ["pde"] } });
    expect(validationError({ pde_mean: 1, pde: 2 }, r).message).toContain("'pde_mean' is given twice");
  });

  it("accepts user-added metrics in the registry given, not in the standard one", () => {
    const r = MetricRegistry.create({ accuracy: { direction: "higher" } });
    expect(validateMetricValues({ accuracy: 0.9 }, r)).toEqual({ accuracy: 0.9 });
    expect(validationError({ accuracy: 0.9 }).message).toContain("unknown metric 'accuracy'");
  });

  // Regression: the duplicate check used `name in out`, which sees Object.prototype members, so a
  // registered metric named like one (`constructor`, `toString`, ...) was reported as "given twice".
  it("accepts a registered metric whose name is also an Object.prototype member", () => {
    const overrides: Record<string, MetricOverride> = {};
    overrides["constructor"] = { direction: "lower" };
    overrides["toString"] = { direction: "higher" };
    const r = MetricRegistry.create(overrides);
    expect(validateMetricValues({ constructor: 1, toString: 2 }, r)).toEqual({ constructor: 1, toString: 2 });
  });

  it("accepts a Map of values", () => {
    expect(validateMetricValues(new Map<string, unknown>([["seg1", 2], ["epochs", "10"]]))).toEqual({ seg1: 2, epochs: 10 });
  });

  it.each([
    ["null", null],
    ["undefined", undefined],
    ["a number", 5],
    ["a string", "seg1=3"],
    ["an array", [["seg1", 3]]],
  ])("rejects %s instead of an object", (_label, values) => {
    expect(validationError(values).message).toContain("must be an object");
  });

  it("rejects an empty object", () => {
    expect(validationError({}).message).toContain("no metric values");
  });
});

describe("validateMetricValues / reportStandard: values", () => {
  it.each([
    ["NaN", Number.NaN, "NaN"],
    ["Infinity", Number.POSITIVE_INFINITY, "Infinity"],
    ["-Infinity", Number.NEGATIVE_INFINITY, "-Infinity"],
    ["true", true, "boolean"],
    ["false", false, "boolean"],
    ["a non-numeric string", "abc", '"abc"'],
    ["an empty string", "", '""'],
    ["the string 'NaN'", "NaN", '"NaN"'],
    ["the string 'Infinity'", "Infinity", '"Infinity"'],
    ["a hex string", "0x1A", '"0x1A"'],
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ["an object", { value: 1 }, "object"],
    ["an array", [1], "object"],
    ["a bigint", 10n, "bigint"],
  ])("rejects %s, naming the metric and the value", (_label, value, shown) => {
    const error = thrown(() => validateMetricValues({ pde_mean: value }));
    expect(error).toBeInstanceOf(ValidationError);
    const message = (error as ValidationError).message;
    expect(message).toContain("'pde_mean'");
    expect(message).toContain(`value ${shown}`);
    expect(message).toContain("finite number");
  });

  it.each([
    ["18.09", 18.09],
    [" 42 ", 42],
    ["-0.5", -0.5],
    ["1e3", 1000],
    ["0", 0],
  ])("accepts the numeric string %j as %d", (text, value) => {
    expect(validateMetricValues({ seg_total: text })).toEqual({ seg_total: value });
  });

  it("accepts 0 and negative numbers as values", () => {
    expect(validateMetricValues({ seg_total: 0, seg1: -1.5, val_mse: -0, epochs: -100 })).toEqual({
      seg_total: 0,
      seg1: -1.5,
      val_mse: -0,
      epochs: -100,
    });
  });

  it("accepts extreme finite numbers", () => {
    const values = { seg1: Number.MAX_VALUE, seg2: -Number.MAX_VALUE, seg3: Number.MIN_VALUE };
    expect(validateMetricValues(values)).toEqual(values);
  });
});

describe("reportStandard", () => {
  it("returns the validated map and hands it to a function sink", async () => {
    const sink = vi.fn<(values: MetricValues) => void>();
    const result = await reportStandard({ pde_mean: "17.5", seg_total: 0 }, sink);
    expect(result).toEqual({ pde_mean: 17.5, seg_total: 0 });
    expect(sink).toHaveBeenCalledTimes(1);
    expect(sink).toHaveBeenCalledWith({ pde_mean: 17.5, seg_total: 0 });
  });

  it("hands the validated map to an object sink's reportMetrics", async () => {
    const received: MetricValues[] = [];
    const sink = {
      reportMetrics(values: MetricValues): void {
        expect(this).toBe(sink);
        received.push(values);
      },
    };
    const result = await reportStandard({ train_time_min: -1, epochs: "12" }, sink);
    expect(received).toEqual([{ train_time_min: -1, epochs: 12 }]);
    expect(result).toEqual({ train_time_min: -1, epochs: 12 });
  });

  it("only validates when no sink is given", async () => {
    await expect(reportStandard({ seg1: 1 })).resolves.toEqual({ seg1: 1 });
  });

  it("waits for an asynchronous sink before resolving", async () => {
    let done = false;
    const sink = async (): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      done = true;
    };
    await reportStandard({ seg1: 1 }, sink);
    expect(done).toBe(true);
  });

  it("rejects with the sink's error when the sink fails", async () => {
    const failure = new Error("backend down");
    await expect(reportStandard({ seg1: 1 }, () => Promise.reject(failure))).rejects.toBe(failure);
  });

  it("does not call the sink when a name is unknown", async () => {
    const sink = vi.fn();
    const reportMetrics = vi.fn();
    const error = await rejected(reportStandard({ seg1: 1, seg_totl: 2 }, sink));
    await rejected(reportStandard({ seg1: 1, seg_totl: 2 }, { reportMetrics }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain("Did you mean 'seg_total'?");
    expect(sink).not.toHaveBeenCalled();
    expect(reportMetrics).not.toHaveBeenCalled();
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, true, "abc"])("does not call the sink when a value is %s", async (value) => {
    const sink = vi.fn();
    const error = await rejected(reportStandard({ seg1: 1, pde_mean: value }, sink));
    expect(error).toBeInstanceOf(ValidationError);
    expect(sink).not.toHaveBeenCalled();
  });

  it("validates against the registry option, keyed by canonical names", async () => {
    const registry = MetricRegistry.create({ accuracy: { direction: "higher", aliases: ["acc"] } });
    const sink = vi.fn();
    await expect(reportStandard({ acc: "0.91" }, sink, { registry })).resolves.toEqual({ accuracy: 0.91 });
    expect(sink).toHaveBeenCalledWith({ accuracy: 0.91 });
  });

  it("gives the sink its own copy, so a sink cannot alter the returned map", async () => {
    const result = await reportStandard({ seg1: 1 }, (values) => {
      values["seg1"] = 999;
    });
    expect(result).toEqual({ seg1: 1 });
  });
});

describe("MetricRegistry.definitionOf: qualified names", () => {
  const reg = MetricRegistry.standard();
  it("a registered name or alias is itself", () => {
    expect(reg.definitionOf("pde_mean")?.name).toBe("pde_mean");
  });
  it("Title/name takes name's definition; the qualified name is not registered itself", () => {
    expect(reg.definitionOf("PDE/pde_mean")).toMatchObject({ name: "pde_mean", direction: "lower", threshold: 18.09 });
    expect(reg.definitionOf("a/b/train_time_min")?.name).toBe("train_time_min");
    expect(reg.resolve("PDE/pde_mean")).toBeUndefined();
  });
  it("nothing for unknown or malformed names", () => {
    expect(reg.definitionOf("PDE/nope")).toBeUndefined();
    expect(reg.definitionOf("/pde_mean")).toBeUndefined();
    expect(reg.definitionOf("pde_mean/")).toBeUndefined();
  });
});
