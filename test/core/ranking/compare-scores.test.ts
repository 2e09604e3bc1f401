import { describe, expect, it } from "vitest";
import { ExpflowError, UsageError } from "../../../src/core/errors.js";
import type { Experiment } from "../../../src/core/experiment.js";
import { parseGate } from "../../../src/core/gates/gate.js";
import { MetricRegistry } from "../../../src/core/metrics/registry.js";
import type { CompareScoresOptions, CompareScoresResult } from "../../../src/core/ranking/compare-scores.js";
import { compareScores, resolveMetricName } from "../../../src/core/ranking/compare-scores.js";

function exp(id: string, metrics: Record<string, unknown>, created: string | null = null): Experiment {
  return { id, name: null, status: "completed", project: null, tags: [], created, metrics, params: {} };
}

const ids = (r: CompareScoresResult): string[] => r.results.map((x) => x.experiment.id);
const ranks = (r: CompareScoresResult): (number | null)[] => r.results.map((x) => x.rank);
const values = (r: CompareScoresResult): (number | null)[] => r.results.map((x) => x.value);

function usageError(experiments: readonly Experiment[], options: CompareScoresOptions): UsageError {
  let caught: unknown;
  try {
    compareScores(experiments, options);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(UsageError);
  expect(caught).toBeInstanceOf(ExpflowError);
  expect((caught as UsageError).exitCode).toBe(2);
  return caught as UsageError;
}

describe("compareScores: ordering by the sort metric", () => {
  it("ranks a higher-is-better metric descending by default", () => {
    const r = compareScores([exp("a", { seg_total: 10 }), exp("b", { seg_total: 30 }), exp("c", { seg_total: 20 })], {
      sortBy: "seg_total",
    });
    expect(ids(r)).toEqual(["b", "c", "a"]);
    expect(values(r)).toEqual([30, 20, 10]);
    expect(r.ascending).toBe(false);
    expect(r.sortBy).toBe("seg_total");
  });

  it("ranks a lower-is-better metric ascending by default", () => {
    const r = compareScores([exp("a", { pde_mean: 18 }), exp("b", { pde_mean: 12 }), exp("c", { pde_mean: 15 })], {
      sortBy: "pde_mean",
    });
    expect(ids(r)).toEqual(["b", "c", "a"]);
    expect(r.ascending).toBe(true);
  });

  it("follows a direction overridden in the registry", () => {
    const registry = MetricRegistry.create({ pde_mean: { direction: "higher" } });
    const r = compareScores([exp("a", { pde_mean: 1 }), exp("b", { pde_mean: 2 })], { sortBy: "pde_mean", registry });
    expect(ids(r)).toEqual(["b", "a"]);
    expect(r.ascending).toBe(false);
  });

  it("ranks an unregistered metric descending by default", () => {
    const r = compareScores([exp("a", { acc: 0.5 }), exp("b", { acc: 0.9 }), exp("c", { acc: 0.7 })], { sortBy: "acc" });
    expect(ids(r)).toEqual(["b", "c", "a"]);
    expect(r.ascending).toBe(false);
  });

  it("lets the ascending option override the direction either way", () => {
    const es = [exp("a", { seg_total: 10, pde_mean: 3, acc: 1 }), exp("b", { seg_total: 30, pde_mean: 1, acc: 3 }), exp("c", { seg_total: 20, pde_mean: 2, acc: 2 })];
    expect(ids(compareScores(es, { sortBy: "seg_total", ascending: true }))).toEqual(["a", "c", "b"]);
    expect(ids(compareScores(es, { sortBy: "pde_mean", ascending: false }))).toEqual(["a", "c", "b"]);
    expect(ids(compareScores(es, { sortBy: "acc", ascending: true }))).toEqual(["a", "c", "b"]);
    expect(compareScores(es, { sortBy: "pde_mean", ascending: false }).ascending).toBe(false);
  });

  it("treats 0 and negative values as values, in both directions", () => {
    const es = [exp("zero", { seg_total: 0 }), exp("neg", { seg_total: -1 }), exp("pos", { seg_total: 2 }), exp("half", { seg_total: -0.5 })];
    const desc = compareScores(es, { sortBy: "seg_total" });
    expect(ids(desc)).toEqual(["pos", "zero", "half", "neg"]);
    expect(values(desc)).toEqual([2, 0, -0.5, -1]);
    expect(ids(compareScores(es, { sortBy: "seg_total", ascending: true }))).toEqual(["neg", "half", "zero", "pos"]);
  });

  it("puts experiments missing the sort metric after those having it, in either direction", () => {
    const es = [
      exp("absent", {}),
      exp("null", { seg_total: null }),
      exp("low", { seg_total: -5 }),
      exp("nan", { seg_total: Number.NaN }),
      exp("string", { seg_total: "99" }),
      exp("zero", { seg_total: 0 }),
      exp("inf", { seg_total: Number.POSITIVE_INFINITY }),
    ];
    const desc = compareScores(es, { sortBy: "seg_total" });
    expect(ids(desc).slice(0, 2)).toEqual(["zero", "low"]);
    expect(values(desc)).toEqual([0, -5, null, null, null, null, null]);
    const asc = compareScores(es, { sortBy: "seg_total", ascending: true });
    expect(ids(asc).slice(0, 2)).toEqual(["low", "zero"]);
    expect(values(asc).slice(2)).toEqual([null, null, null, null, null]);
  });

  it("orders experiments missing the sort metric among themselves by created, then id", () => {
    const es = [exp("m3", {}), exp("m2", {}, "2024-01-02T00:00:00Z"), exp("m1", {}, "2024-01-01T00:00:00Z"), exp("has", { seg_total: 1 })];
    expect(ids(compareScores(es, { sortBy: "seg_total" }))).toEqual(["has", "m1", "m2", "m3"]);
  });

  it("does not reorder the input array", () => {
    const es = [exp("a", { seg_total: 1 }), exp("b", { seg_total: 2 })];
    compareScores(es, { sortBy: "seg_total" });
    expect(es.map((e) => e.id)).toEqual(["a", "b"]);
  });

  it("returns the experiment records given, unchanged", () => {
    const e = exp("a", { seg_total: 1 });
    expect(compareScores([e], { sortBy: "seg_total" }).results[0]!.experiment).toBe(e);
  });
});

describe("compareScores: ties", () => {
  it("keeps rows equal in every key in input order, with a small max as without one", () => {
    // Equal ids can come from a library caller; the rows shown with max are the full order's first.
    const rows = [exp("z", { pde_mean: 3 }), { ...exp("a", { pde_mean: 1 }), name: "first" }, { ...exp("a", { pde_mean: 1 }), name: "second" }, ...Array.from({ length: 6 }, (_, i) => exp(`y${i}`, { pde_mean: 5 + i }))];
    const names = (r: CompareScoresResult): (string | null)[] => r.results.map((x) => x.experiment.name);
    expect(names(compareScores(rows, { sortBy: "pde_mean" })).slice(0, 2)).toEqual(["first", "second"]);
    expect(names(compareScores(rows, { sortBy: "pde_mean", max: 2 }))).toEqual(["first", "second"]);
  });

  it("breaks ties by thenBy in its registered direction", () => {
    const es = [exp("a", { seg_total: 5, pde_mean: 17 }), exp("b", { seg_total: 5, pde_mean: 12 }), exp("c", { seg_total: 5, pde_mean: 15 })];
    const r = compareScores(es, { sortBy: "seg_total", thenBy: ["pde_mean"] });
    expect(ids(r)).toEqual(["b", "c", "a"]);
    expect(r.thenBy).toEqual([{ metric: "pde_mean", ascending: true }]);
  });

  it("breaks ties by a higher-is-better thenBy descending", () => {
    const es = [exp("a", { pde_mean: 10, seg1: 1 }), exp("b", { pde_mean: 10, seg1: 3 }), exp("c", { pde_mean: 10, seg1: 2 })];
    const r = compareScores(es, { sortBy: "pde_mean", thenBy: ["seg1"] });
    expect(ids(r)).toEqual(["b", "c", "a"]);
    expect(r.thenBy).toEqual([{ metric: "seg1", ascending: false }]);
  });

  it("is not affected by the ascending option, which applies to the sort metric only", () => {
    const es = [exp("a", { seg_total: 5, pde_mean: 17 }), exp("b", { seg_total: 5, pde_mean: 12 })];
    expect(ids(compareScores(es, { sortBy: "seg_total", ascending: true, thenBy: ["pde_mean"] }))).toEqual(["b", "a"]);
  });

  it("breaks ties by an unregistered thenBy descending", () => {
    const es = [exp("a", { seg_total: 5, acc: 0.1 }), exp("b", { seg_total: 5, acc: 0.3 })];
    const r = compareScores(es, { sortBy: "seg_total", thenBy: ["acc"] });
    expect(ids(r)).toEqual(["b", "a"]);
    expect(r.thenBy).toEqual([{ metric: "acc", ascending: false }]);
  });

  it("uses thenBy metrics in order, each only when the previous ones tie", () => {
    const es = [
      exp("a", { seg_total: 5, seg1: 1, pde_mean: 1 }),
      exp("b", { seg_total: 5, seg1: 2, pde_mean: 9 }),
      exp("c", { seg_total: 5, seg1: 2, pde_mean: 3 }),
      exp("d", { seg_total: 6, seg1: 0, pde_mean: 99 }),
    ];
    expect(ids(compareScores(es, { sortBy: "seg_total", thenBy: ["seg1", "pde_mean"] }))).toEqual(["d", "c", "b", "a"]);
  });

  it("puts experiments missing a thenBy metric after those having it", () => {
    const es = [exp("none", { seg_total: 5 }), exp("some", { seg_total: 5, pde_mean: 99 }), exp("nan", { seg_total: 5, pde_mean: Number.NaN })];
    expect(ids(compareScores(es, { sortBy: "seg_total", thenBy: ["pde_mean"] }))[0]).toBe("some");
  });

  it("breaks remaining ties by earlier created, then by id", () => {
    const es = [
      exp("z", { seg_total: 5 }, "2024-03-01T00:00:00Z"),
      exp("y", { seg_total: 5 }, "2024-01-01T00:00:00Z"),
      exp("b", { seg_total: 5 }, "2024-02-01T00:00:00Z"),
      exp("a", { seg_total: 5 }, "2024-02-01T00:00:00Z"),
    ];
    expect(ids(compareScores(es, { sortBy: "seg_total" }))).toEqual(["y", "a", "b", "z"]);
  });

  it("compares created as time, not as text", () => {
    const es = [exp("later", { seg_total: 5 }, "2024-01-01T10:00:00+00:00"), exp("earlier", { seg_total: 5 }, "2024-01-01T11:00:00+02:00")];
    expect(ids(compareScores(es, { sortBy: "seg_total" }))).toEqual(["earlier", "later"]);
  });

  it("puts a missing or unreadable created after a present one", () => {
    const es = [
      exp("a-none", { seg_total: 5 }, null),
      exp("b-garbage", { seg_total: 5 }, "not a date"),
      exp("c-dated", { seg_total: 5 }, "2030-01-01T00:00:00Z"),
    ];
    expect(ids(compareScores(es, { sortBy: "seg_total" }))).toEqual(["c-dated", "a-none", "b-garbage"]);
  });

  it("orders ids by code unit, with 0 and -0 as equal sort values", () => {
    const es = [exp("b", { seg_total: -0 }), exp("B", { seg_total: 0 }), exp("a", { seg_total: 0 })];
    expect(ids(compareScores(es, { sortBy: "seg_total" }))).toEqual(["B", "a", "b"]);
  });
});

describe("compareScores: gates and ranks", () => {
  const es = [
    exp("fast-good", { seg_total: 50, pde_mean: 17 }),
    exp("best-but-bad-pde", { seg_total: 90, pde_mean: 19 }),
    exp("boundary", { seg_total: 70, pde_mean: 18.09 }),
    exp("ok", { seg_total: 60, pde_mean: 10 }),
    exp("no-pde", { seg_total: 80 }),
  ];

  it("puts passing experiments first, ranked 1..k, then failing ones with rank null", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates: ["pde_mean:lt:18.09"] });
    expect(ids(r)).toEqual(["ok", "fast-good", "best-but-bad-pde", "no-pde", "boundary"]);
    expect(ranks(r)).toEqual([1, 2, null, null, null]);
    expect(r.results.map((x) => x.passed)).toEqual([true, true, false, false, false]);
    expect(r.passedCount).toBe(2);
    expect(r.total).toBe(5);
  });

  it("is strict at the threshold boundary: lt fails, le passes", () => {
    const le = compareScores(es, { sortBy: "seg_total", gates: ["pde_mean:le:18.09"] });
    expect(le.results.find((x) => x.experiment.id === "boundary")).toMatchObject({ passed: true, rank: 1 });
  });

  it("reports each experiment's gate results, with the reason for a failure", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates: ["pde_mean:lt:18.09"] });
    const byId = new Map(r.results.map((x) => [x.experiment.id, x]));
    expect(byId.get("no-pde")!.gates).toEqual([{ metric: "pde_mean", op: "lt", threshold: 18.09, actual: null, passed: false, reason: "missing" }]);
    expect(byId.get("best-but-bad-pde")!.gates[0]).toMatchObject({ actual: 19, reason: "not_met" });
    expect(byId.get("ok")!.gates[0]).toMatchObject({ actual: 10, passed: true, reason: null });
  });

  it("lets every experiment pass when there are no gates", () => {
    for (const gates of [undefined, []]) {
      const r = compareScores(es, { sortBy: "seg_total", gates });
      expect(ranks(r)).toEqual([1, 2, 3, 4, 5]);
      expect(r.passedCount).toBe(5);
      expect(r.gates).toEqual([]);
      expect(r.results.every((x) => x.passed && x.gates.length === 0)).toBe(true);
    }
  });

  it("ranks an experiment missing the sort metric among the passing ones when it passes", () => {
    const r = compareScores([exp("gated-only", { pde_mean: 1 }), exp("fails", { seg_total: 99, pde_mean: 30 }), exp("full", { seg_total: 1, pde_mean: 1 })], {
      sortBy: "seg_total",
      gates: ["pde_mean:lt:18.09"],
    });
    expect(ids(r)).toEqual(["full", "gated-only", "fails"]);
    expect(ranks(r)).toEqual([1, 2, null]);
  });

  it("treats 0 and negative values as values in gates", () => {
    const r = compareScores([exp("zero", { x: 0 }), exp("neg", { x: -1 }), exp("null", { x: null }), exp("pos", { x: 1 })], {
      sortBy: "x",
      gates: ["x:ge:0"],
    });
    expect(ids(r)).toEqual(["pos", "zero", "neg", "null"]);
    expect(ranks(r)).toEqual([1, 2, null, null]);
    const lt = compareScores([exp("zero", { x: 0 }), exp("neg", { x: -1 })], { sortBy: "x", gates: ["x:lt:0"] });
    expect(lt.results.map((x) => [x.experiment.id, x.passed])).toEqual([
      ["neg", true],
      ["zero", false],
    ]);
  });

  it("requires every gate to pass", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates: ["pde_mean:lt:18.09", "seg_total:ge:55"] });
    expect(ids(r).slice(0, r.passedCount)).toEqual(["ok"]);
    const gatePasses = (id: string) => r.results.find((x) => x.experiment.id === id)!.gates.map((g) => g.passed);
    expect(gatePasses("fast-good")).toEqual([true, false]);
    expect(gatePasses("best-but-bad-pde")).toEqual([false, true]);
  });

  it("accepts parsed gates as well as text", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates: [parseGate("pde_mean:lt:18.09")] });
    expect(r.passedCount).toBe(2);
    expect(r.gates).toEqual([{ metric: "pde_mean", op: "lt", value: 18.09 }]);
  });

  it("rejects a malformed gate with E_GATE_SYNTAX", () => {
    expect(usageError(es, { sortBy: "seg_total", gates: ["pde_mean<18"] }).code).toBe("E_GATE_SYNTAX");
    expect(usageError(es, { sortBy: "seg_total", gates: ["pde_mean:lt:Infinity"] }).code).toBe("E_GATE_SYNTAX");
  });

  it("removes duplicate gates, keeping the first", () => {
    const r = compareScores(es, {
      sortBy: "seg_total",
      gates: ["pde_mean:lt:18.09", "pde_mean : LT : 18.090", parseGate("pde_mean:lt:18.09"), "seg_total:gt:0", "pde_mean:lt:18.09"],
    });
    expect(r.gates).toEqual([
      { metric: "pde_mean", op: "lt", value: 18.09 },
      { metric: "seg_total", op: "gt", value: 0 },
    ]);
    expect(r.results[0]!.gates).toHaveLength(2);
  });

  it("keeps gates that differ in op or value", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates: ["pde_mean:lt:18.09", "pde_mean:le:18.09", "pde_mean:lt:18"] });
    expect(r.gates).toHaveLength(3);
  });
});

describe("compareScores: useThresholds", () => {
  const es = [
    exp("good", { seg_total: 1, pde_mean: 18, train_time_min: 59 }),
    exp("slow", { seg_total: 3, pde_mean: 10, train_time_min: 60 }),
    exp("pde", { seg_total: 2, pde_mean: 18.09, train_time_min: 1 }),
    exp("no-time", { seg_total: 4, pde_mean: 1 }),
  ];

  it("adds pde_mean < 18.09 and train_time_min < 60 for the standard registry", () => {
    const r = compareScores(es, { sortBy: "seg_total", useThresholds: true });
    expect(r.gates).toEqual([
      { metric: "pde_mean", op: "lt", value: 18.09 },
      { metric: "train_time_min", op: "lt", value: 60 },
    ]);
    expect(ids(r)).toEqual(["good", "no-time", "slow", "pde"]);
    expect(ranks(r)).toEqual([1, null, null, null]);
    expect(r.passedCount).toBe(1);
  });

  it("adds nothing unless asked", () => {
    expect(compareScores(es, { sortBy: "seg_total" }).gates).toEqual([]);
    expect(compareScores(es, { sortBy: "seg_total", useThresholds: false }).passedCount).toBe(4);
  });

  it("puts explicit gates first and does not repeat a threshold gate given explicitly", () => {
    const r = compareScores(es, { sortBy: "seg_total", useThresholds: true, gates: ["seg_total:gt:0", "train_time_min:lt:60"] });
    expect(r.gates).toEqual([
      { metric: "seg_total", op: "gt", value: 0 },
      { metric: "train_time_min", op: "lt", value: 60 },
      { metric: "pde_mean", op: "lt", value: 18.09 },
    ]);
  });

  it("follows the registry's thresholds and directions", () => {
    const registry = MetricRegistry.create({
      pde_mean: { threshold: 18.1 },
      train_time_min: { threshold: null },
      seg_total: { threshold: 1 },
    });
    const r = compareScores(es, { sortBy: "seg_total", useThresholds: true, registry });
    expect(r.gates).toEqual([
      { metric: "seg_total", op: "gt", value: 1 },
      { metric: "pde_mean", op: "lt", value: 18.1 },
    ]);
    expect(ids(r).slice(0, r.passedCount)).toEqual(["no-time", "slow", "pde"]);
  });
});

describe("compareScores: metric names", () => {
  const es = [exp("a", { seg_total: 1, pde_mean: 3, my_metric: 5 }), exp("b", { seg_total: 2, pde_mean: 2 })];

  it.each([
    ["a gate", { sortBy: "seg_total", gates: ["pde_maen:lt:18"] }, "pde_maen", "pde_mean"],
    ["sortBy", { sortBy: "seg_totl" }, "seg_totl", "seg_total"],
    ["thenBy", { sortBy: "seg_total", thenBy: ["pde_mean", "epocs"] }, "epocs", "epochs"],
    ["a reported but misspelt metric", { sortBy: "my_metrc" }, "my_metrc", "my_metric"],
  ] as const)("rejects an unknown metric in %s with E_UNKNOWN_METRIC and a suggestion", (_label, options, name, suggestion) => {
    const error = usageError(es, options);
    expect(error.code).toBe("E_UNKNOWN_METRIC");
    expect(error.message).toContain(`'${name}'`);
    expect(error.message).toContain(`Did you mean '${suggestion}'?`);
  });

  it("names where the unknown metric was used, by the option's name, and says it as data", () => {
    expect(usageError(es, { sortBy: "nope_nope" }).message).toContain("'nope_nope' in sortBy:");
    expect(usageError(es, { sortBy: "nope_nope" })).toMatchObject({ field: "sortBy", value: "nope_nope" });
    expect(usageError(es, { sortBy: "seg_total", thenBy: ["nope_nope"] }).message).toContain("'nope_nope' in thenBy:");
    expect(usageError(es, { sortBy: "seg_total", thenBy: ["nope_nope"] })).toMatchObject({ field: "thenBy", value: "nope_nope" });
    expect(usageError(es, { sortBy: "seg_total", gates: ["nope_nope:lt:1"] }).message).toContain("gate 'nope_nope:lt:1'");
    expect(usageError(es, { sortBy: "seg_total", gates: ["nope_nope:lt:1"] })).toMatchObject({ field: "gates", value: "nope_nope" });
    expect(usageError(es, { sortBy: "pde_maen" })).toMatchObject({ suggestion: "pde_mean" });
  });

  it("rejects an unknown metric even when no experiment is given", () => {
    expect(usageError([], { sortBy: "acc" }).code).toBe("E_UNKNOWN_METRIC");
  });

  it("rejects a metric that is neither registered nor reported, even if nothing is close", () => {
    const error = usageError(es, { sortBy: "seg_total", gates: ["zzzzzzzzzz:gt:1"] });
    expect(error.code).toBe("E_UNKNOWN_METRIC");
    expect(error.message).not.toContain("Did you mean");
  });

  it("accepts an unregistered metric that some experiment reports, for gates, sortBy and thenBy", () => {
    const r = compareScores(es, { sortBy: "my_metric", thenBy: ["my_metric"], gates: ["my_metric:ge:5"] });
    expect(r.sortBy).toBe("my_metric");
    expect(ids(r)).toEqual(["a", "b"]);
    expect(ranks(r)).toEqual([1, null]);
    expect(r.results[1]!.gates[0]).toMatchObject({ reason: "missing" });
  });

  it("accepts an unregistered metric reported only as null", () => {
    const r = compareScores([exp("a", { odd: null })], { sortBy: "odd" });
    expect(values(r)).toEqual([null]);
  });

  it("accepts a user-added metric of the registry that no experiment reports", () => {
    const registry = MetricRegistry.create({ acc: { direction: "higher" } });
    expect(compareScores(es, { sortBy: "acc", registry }).results).toHaveLength(2);
  });

  it("resolves aliases in sortBy, thenBy and gates to the canonical name", () => {
    const registry = MetricRegistry.create({ pde_mean: { aliases: ["pde"] }, seg_total: { aliases: ["score"] } });
    const r = compareScores(es, { sortBy: "pde", thenBy: ["score"], gates: ["pde:lt:18.09", "pde_mean:lt:18.09"], registry });
    expect(r.sortBy).toBe("pde_mean");
    expect(r.ascending).toBe(true);
    expect(r.thenBy).toEqual([{ metric: "seg_total", ascending: false }]);
    expect(r.gates).toEqual([{ metric: "pde_mean", op: "lt", value: 18.09 }]);
    expect(ids(r)).toEqual(["b", "a"]);
  });

  it("reads values reported under an alias, for sorting and for gates", () => {
    const registry = MetricRegistry.create({ pde_mean: { aliases: ["pde"] } });
    const r = compareScores([exp("old", { pde: 12 }), exp("new", { pde_mean: 10 }), exp("bad", { pde: 30 })], {
      sortBy: "pde_mean",
      gates: ["pde_mean:lt:18.09"],
      registry,
    });
    expect(ids(r)).toEqual(["new", "old", "bad"]);
    expect(values(r)).toEqual([10, 12, 30]);
    expect(ranks(r)).toEqual([1, 2, null]);
  });

  it("resolveMetricName only asks for the reported names when the name is not registered", () => {
    let asked = 0;
    const reported = (): ReadonlySet<string> => {
      asked++;
      return new Set(["custom"]);
    };
    expect(resolveMetricName("pde_mean", MetricRegistry.standard(), reported, "sortBy")).toBe("pde_mean");
    expect(asked).toBe(0);
    expect(resolveMetricName("custom", MetricRegistry.standard(), reported, "sortBy")).toBe("custom");
    expect(asked).toBe(1);
  });
});

describe("compareScores: onlyPassing and max", () => {
  const es = [
    exp("p1", { seg_total: 90, pde_mean: 1 }),
    exp("p2", { seg_total: 80, pde_mean: 1 }),
    exp("p3", { seg_total: 70, pde_mean: 1 }),
    exp("f1", { seg_total: 100, pde_mean: 50 }),
    exp("f2", { seg_total: 60, pde_mean: 50 }),
  ];
  const gates = ["pde_mean:lt:18.09"];

  it("onlyPassing drops the failing experiments but still counts them in total", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates, onlyPassing: true });
    expect(ids(r)).toEqual(["p1", "p2", "p3"]);
    expect(ranks(r)).toEqual([1, 2, 3]);
    expect(r.passedCount).toBe(3);
    expect(r.total).toBe(5);
  });

  it("onlyPassing may leave nothing", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates: ["pde_mean:lt:0"], onlyPassing: true });
    expect(r.results).toEqual([]);
    expect(r.passedCount).toBe(0);
    expect(r.total).toBe(5);
  });

  it("max keeps the first results after ordering, while passedCount counts every passing one", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates, max: 2 });
    expect(ids(r)).toEqual(["p1", "p2"]);
    expect(ranks(r)).toEqual([1, 2]);
    expect(r.passedCount).toBe(3);
    expect(r.total).toBe(5);
  });

  it("max reaches into the failing experiments once the passing ones are used up", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates, max: 4 });
    expect(ids(r)).toEqual(["p1", "p2", "p3", "f1"]);
    expect(ranks(r)).toEqual([1, 2, 3, null]);
  });

  it("max with onlyPassing keeps the best passing ones", () => {
    const r = compareScores(es, { sortBy: "seg_total", gates, max: 4, onlyPassing: true });
    expect(ids(r)).toEqual(["p1", "p2", "p3"]);
    const two = compareScores(es, { sortBy: "seg_total", gates, max: 2, onlyPassing: true });
    expect(ids(two)).toEqual(["p1", "p2"]);
    expect(two.passedCount).toBe(3);
  });

  it("max larger than the input keeps everything", () => {
    expect(compareScores(es, { sortBy: "seg_total", max: 100 }).results).toHaveLength(5);
  });

  it("max of 1 keeps the single best", () => {
    expect(ids(compareScores(es, { sortBy: "seg_total", max: 1 }))).toEqual(["f1"]);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0])("rejects max %s with a UsageError", (max) => {
    const error = usageError(es, { sortBy: "seg_total", max });
    expect(error.code).toBe("E_USAGE");
    expect(error.message).toContain("max");
  });
});

describe("compareScores: empty input", () => {
  it("returns no results for no experiments", () => {
    const r = compareScores([], { sortBy: "seg_total", gates: ["pde_mean:lt:18.09"], useThresholds: true, max: 3 });
    expect(r).toEqual({
      sortBy: "seg_total",
      ascending: false,
      pareto: null,
      fronts: 0,
      onFront: 0,
      thenBy: [],
      gates: [
        { metric: "pde_mean", op: "lt", value: 18.09 },
        { metric: "train_time_min", op: "lt", value: 60 },
      ],
      results: [],
      total: 0,
      passedCount: 0,
      selection: { statuses: ["completed"], isDefault: true, excluded: 0, excludedByStatus: {} },
    });
  });
});

describe("compareScores: statuses (no rank for an unfinished run)", () => {
  const as = (e: Experiment, status: string, backendStatus?: string): Experiment => ({ ...e, status, ...(backendStatus ? { backendStatus } : {}) });
  // The case: a run cancelled at 30 of 200 epochs has the best (lowest) pde_mean.
  const cancelled = as(exp("cancelled-30-of-200", { pde_mean: 9, train_time_min: 12, epochs: 30 }), "cancelled");
  const failed = as(exp("failed", { pde_mean: 11, train_time_min: 20 }), "failed");
  const running = as(exp("running", { pde_mean: 12 }), "running");
  const done = exp("done", { pde_mean: 15, train_time_min: 45 });
  const done2 = exp("done2", { pde_mean: 17, train_time_min: 50 });
  const all = [cancelled, failed, running, done, done2];

  it("ranks only completed experiments by default: a cancelled run with the best value gets no rank", () => {
    const r = compareScores(all, { sortBy: "pde_mean", gates: ["pde_mean:lt:18.09"] });
    expect(ids(r)).toEqual(["done", "done2"]);
    expect(ranks(r)).toEqual([1, 2]);
    expect(r.total).toBe(2);
    expect(r.passedCount).toBe(2);
    expect(r.selection).toEqual({ statuses: ["completed"], isDefault: true, excluded: 3, excludedByStatus: { running: 1, failed: 1, cancelled: 1 } });
  });

  it("a loose gate no longer passes a failed run: nothing completed means nothing passes", () => {
    const r = compareScores([failed, running], { sortBy: "pde_mean", gates: ["pde_mean:lt:100"] });
    expect(r.results).toEqual([]);
    expect(r.passedCount).toBe(0);
    expect(r.selection.excluded).toBe(2);
  });

  it("ranks exactly the statuses asked for, and counts the rest", () => {
    const r = compareScores(all, { sortBy: "pde_mean", statuses: ["failed", "cancelled"] });
    expect(ids(r)).toEqual(["cancelled-30-of-200", "failed"]);
    expect(r.selection).toEqual({ statuses: ["failed", "cancelled"], isDefault: false, excluded: 3, excludedByStatus: { running: 1, completed: 2 } });
  });

  it('"all" ranks every experiment given, as before statuses existed', () => {
    const r = compareScores(all, { sortBy: "pde_mean", statuses: "all" });
    expect(ids(r)).toEqual(["cancelled-30-of-200", "failed", "running", "done", "done2"]);
    expect(r.selection).toEqual({ statuses: "all", isDefault: false, excluded: 0, excludedByStatus: {} });
  });

  it("selects by the backend status too (ClearML's published is completed, and published by name)", () => {
    const published = as(exp("pub", { pde_mean: 14 }), "completed", "published");
    const stopped = as(exp("stopped", { pde_mean: 1 }), "cancelled", "stopped");
    expect(ids(compareScores([published, stopped, done], { sortBy: "pde_mean" }))).toEqual(["pub", "done"]);
    const r = compareScores([published, stopped, done], { sortBy: "pde_mean", statuses: ["published"] });
    expect(ids(r)).toEqual(["pub"]);
    // Counted by lifecycle state, whatever the backend calls it.
    expect(r.selection.excludedByStatus).toEqual({ completed: 1, cancelled: 1 });
  });

  it("counts statuses outside the lifecycle after the lifecycle states, by name, and keeps a status named __proto__ a count", () => {
    const odd = [as(exp("u", {}), "unknown"), as(exp("p", {}), "__proto__"), as(exp("q", {}), "queued"), as(exp("z", {}), "aborted")];
    const r = compareScores(odd, { sortBy: "pde_mean" });
    expect(Object.keys(r.selection.excludedByStatus)).toEqual(["queued", "__proto__", "aborted", "unknown"]);
    expect(Object.getPrototypeOf(r.selection.excludedByStatus)).toBe(Object.prototype);
    expect(r.selection.excludedByStatus["__proto__"]).toBe(1);
  });

  it("resolves metric names against every experiment given: a metric only an unfinished run reports is known, and ranks nothing", () => {
    const r = compareScores([as(exp("r", { my_f1: 0.9 }), "running"), exp("c", {})], { sortBy: "my_f1", gates: ["my_f1:gt:0.5"] });
    expect(ids(r)).toEqual(["c"]);
    expect(r.results[0]!.gates[0]!.reason).toBe("missing");
    expect(r.passedCount).toBe(0);
  });

  it("an ambiguous metric of a left-out run blocks nothing; of a ranked run it does", () => {
    const amb = (e: Experiment): Experiment => ({ ...e, ambiguousMetrics: { seg_total: ["Score/seg_total", "Loss/seg_total"] } });
    expect(ids(compareScores([as(amb(exp("r", {})), "running"), exp("c", { seg_total: 1 })], { sortBy: "seg_total" }))).toEqual(["c"]);
    expect(() => compareScores([amb(exp("c", {}))], { sortBy: "seg_total" })).toThrow(/ambiguous/);
  });

  it("onlyPassing and max apply to the ranked experiments; total and passedCount count them only", () => {
    const r = compareScores(all, { sortBy: "pde_mean", gates: ["pde_mean:lt:16"], onlyPassing: true, max: 5 });
    expect(ids(r)).toEqual(["done"]);
    expect([r.total, r.passedCount, r.selection.excluded]).toEqual([2, 1, 3]);
  });

  it("rejects an empty statuses list with E_USAGE, saying how to rank every status", () => {
    const error = usageError(all, { sortBy: "pde_mean", statuses: [] });
    expect(error.code).toBe("E_USAGE");
    expect(error.message).toContain('"all"');
  });
});
