import { describe, expect, it } from "vitest";
import { UsageError } from "../../../src/core/errors.js";
import type { Experiment } from "../../../src/core/experiment.js";
import { MetricRegistry } from "../../../src/core/metrics/registry.js";
import { compareScores } from "../../../src/core/ranking/compare-scores.js";
import { paretoFronts, parseParetoSpec } from "../../../src/core/ranking/pareto.js";

function thrown(f: () => unknown): UsageError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("parseParetoSpec", () => {
  it("reads comma-separated metric:max and metric:min, blanks and case forgiven", () => {
    expect(parseParetoSpec("pde_mean:min,train_time_min:min")).toEqual([
      { metric: "pde_mean", direction: "min" },
      { metric: "train_time_min", direction: "min" },
    ]);
    expect(parseParetoSpec(" seg_total : MAX , pde_mean:Min ")).toEqual([
      { metric: "seg_total", direction: "max" },
      { metric: "pde_mean", direction: "min" },
    ]);
  });

  it("splits each objective at its last ':', so a metric name may hold one", () => {
    expect(parseParetoSpec("Score:seg_total:max,PDE/pde_mean:min")).toEqual([
      { metric: "Score:seg_total", direction: "max" },
      { metric: "PDE/pde_mean", direction: "min" },
    ]);
  });

  it("takes many objectives", () => {
    const text = Array.from({ length: 20 }, (_, i) => `m${i}:${i % 2 === 0 ? "min" : "max"}`).join(",");
    expect(parseParetoSpec(text)).toHaveLength(20);
  });

  it.each([
    ["", "an objective is empty", ""],
    [":", "the metric name is empty", ":"],
    ["pde_mean:max,,", "an objective is empty", "pde_mean:max,,"],
    [",pde_mean:max,seg_total:max", "an objective is empty", ",pde_mean:max,seg_total:max"],
    ["pde_mean:up,seg_total:max", "the direction 'up' is neither max nor min", "pde_mean:up"],
    ["pde_mean:,seg_total:max", "the direction is empty", "pde_mean:"],
    ["pde_mean,seg_total:max", "expected metric:max or metric:min", "pde_mean"],
    [":min,seg_total:max", "the metric name is empty", ":min"],
    ["pde_mean:min", "needs at least two objectives", "pde_mean:min"],
    ["pde_mean:min,pde_mean:max", "metric 'pde_mean' is already an objective ('pde_mean:min')", "pde_mean:max"],
  ])("refuses %j: E_PARETO_SYNTAX, one line, naming what is wrong", (text, why, value) => {
    const e = thrown(() => parseParetoSpec(text));
    expect(e.code).toBe("E_PARETO_SYNTAX");
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(why);
    expect(e.message).toContain(`'${value}' in pareto`);
    expect(e.message).not.toContain("\n");
    expect(e.field).toBe("pareto");
    expect(e.value).toBe(value);
    expect(e.hint).toContain("metric:max or metric:min");
  });
});

describe("paretoFronts", () => {
  it("the textbook case: two objectives to minimise, peeled into fronts", () => {
    const rows = [
      [1, 5], // front 1
      [2, 3], // front 1
      [4, 1], // front 1
      [3, 4], // front 2: (2,3) dominates it
      [5, 2], // front 2: (4,1)
      [4, 5], // front 3: (3,4)
      [6, 6], // front 4: (4,5)
    ];
    expect(paretoFronts(rows)).toEqual([1, 1, 1, 2, 2, 3, 4]);
  });

  it("identical rows share a front; equal on one objective, better on the other, dominates", () => {
    expect(paretoFronts([[1, 1], [1, 1], [1, 2], [2, 1], [1, 2]])).toEqual([1, 1, 2, 2, 2]);
    expect(paretoFronts([[3, 3, 3], [3, 3, 3], [3, 3, 4], [3, 3, 4], [2, 9, 9]])).toEqual([1, 1, 2, 2, 1]);
  });

  it("a missing value (+Infinity, or NaN) is worse than any value and equal to another missing one", () => {
    expect(paretoFronts([[Infinity, 1], [5, 5], [Infinity, 1], [NaN, 2], [Infinity, Infinity]])).toEqual([1, 1, 1, 2, 3]);
    // Missing everywhere: one front of their own, after every row with a value.
    expect(paretoFronts([[Infinity, Infinity], [100, 100], [NaN, Infinity]])).toEqual([2, 1, 2]);
  });

  it("three objectives", () => {
    const rows = [
      [1, 2, 3],
      [3, 2, 1],
      [2, 2, 2],
      [2, 3, 3], // (1,2,3) and (2,2,2) dominate it
      [3, 3, 3], // dominated by (2,3,3) too: front 3
      [1, 1, 9], // front 1
      [0, 9, 9], // front 1: the best first value
    ];
    expect(paretoFronts(rows)).toEqual([1, 1, 1, 2, 3, 1, 1]);
  });

  it("four or more objectives", () => {
    const rows = [
      [1, 1, 1, 1],
      [1, 1, 1, 2],
      [0, 5, 5, 5],
      [1, 1, 2, 2],
      [2, 2, 2, 2],
      [1, 1, 1, 1],
    ];
    expect(paretoFronts(rows)).toEqual([1, 2, 1, 3, 4, 1]);
  });

  it("one objective: each distinct value a front; none: every row on front 1; no rows: none", () => {
    expect(paretoFronts([[3], [1], [3], [2]])).toEqual([3, 1, 3, 2]);
    expect(paretoFronts([[], []])).toEqual([1, 1]);
    expect(paretoFronts([])).toEqual([]);
  });

  it("0, -0 and negatives are values", () => {
    expect(paretoFronts([[0, -1], [-0, -1], [-5, 3], [-0, 0]])).toEqual([1, 1, 1, 2]);
  });

  it("refuses rows of different lengths", () => {
    expect(() => paretoFronts([[1, 2], [1]])).toThrow(RangeError);
  });
});

function experiment(id: string, metrics: Record<string, unknown>, created: string | null = null): Experiment {
  return { id, name: null, status: "completed", project: null, tags: [], created, metrics, params: {} };
}

describe("compareScores with pareto", () => {
  const registry = MetricRegistry.standard();
  const objectives = [
    { metric: "pde_mean", direction: "min" },
    { metric: "train_time_min", direction: "min" },
  ] as const;
  const runs = [
    experiment("fast", { pde_mean: 17, train_time_min: 10, seg_total: 0.5 }),
    experiment("good", { pde_mean: 14, train_time_min: 50, seg_total: 0.7 }),
    experiment("both", { pde_mean: 15, train_time_min: 20, seg_total: 0.9 }),
    experiment("worse", { pde_mean: 16, train_time_min: 30, seg_total: 0.95 }),
    experiment("no-time", { pde_mean: 13, seg_total: 0.1 }),
    experiment("slow", { pde_mean: 19, train_time_min: 90, seg_total: 0.99 }),
  ];

  it("ranks by front, each front by the first objective; rank is the front; counts fronts and the front's size", () => {
    const r = compareScores(runs, { pareto: objectives, registry });
    expect(r.results.map((x) => [x.experiment.id, x.rank])).toEqual([
      // no-time misses train_time_min, worse than any value, but its pde_mean is the best: front 1.
      ["no-time", 1],
      ["good", 1],
      ["both", 1],
      ["fast", 1],
      ["worse", 2],
      ["slow", 3],
    ]);
    expect(r.pareto).toEqual(objectives);
    expect(r.fronts).toBe(3);
    expect(r.onFront).toBe(4);
    expect(r.sortBy).toBe("pde_mean");
    expect(r.ascending).toBe(true);
    expect(r.results[0]!.objectives).toEqual([13, null]);
    expect(r.results[0]!.value).toBe(13);
  });

  it("max negates: the highest seg_total is best", () => {
    const r = compareScores(runs, { pareto: [{ metric: "seg_total", direction: "max" }, { metric: "train_time_min", direction: "min" }], registry });
    expect(r.results.map((x) => [x.experiment.id, x.rank])).toEqual([
      ["slow", 1],
      ["worse", 1],
      ["both", 1],
      ["fast", 1],
      ["good", 2],
      ["no-time", 3],
    ]);
    expect(r.ascending).toBe(false);
  });

  it("sortBy orders within a front (with ascending), and the objectives then break ties in order", () => {
    const r = compareScores(runs, { pareto: objectives, sortBy: "seg_total", registry });
    expect(r.results.map((x) => x.experiment.id)).toEqual(["both", "good", "fast", "no-time", "worse", "slow"]);
    expect(r.sortBy).toBe("seg_total");
    const low = compareScores(runs, { pareto: objectives, sortBy: "seg_total", ascending: true, registry });
    expect(low.results.map((x) => x.experiment.id)).toEqual(["no-time", "fast", "good", "both", "worse", "slow"]);
    // One front, equal on sortBy: the objectives decide in order (b's pde_mean), then created, then id.
    const tied = [
      experiment("b", { pde_mean: 1, train_time_min: 2, seg_total: 5 }, "2024-01-02T00:00:00Z"),
      experiment("a", { pde_mean: 2, train_time_min: 1, seg_total: 5 }, "2024-01-02T00:00:00Z"),
      experiment("c", { pde_mean: 2, train_time_min: 1, seg_total: 5 }, "2024-01-01T00:00:00Z"),
      experiment("d", { pde_mean: 2, train_time_min: 1, seg_total: 5 }, "2024-01-01T00:00:00Z"),
    ];
    expect(compareScores(tied, { pareto: objectives, sortBy: "seg_total", registry }).results.map((x) => x.experiment.id)).toEqual(["b", "c", "d", "a"]);
  });

  it("experiments failing a gate get no front: rank null, after the passing ones, ordered as without pareto", () => {
    const gates = ["train_time_min:lt:60"];
    const r = compareScores(runs, { pareto: objectives, gates, registry });
    expect(r.results.map((x) => [x.experiment.id, x.rank])).toEqual([
      ["good", 1],
      ["both", 1],
      ["fast", 1],
      ["worse", 2],
      ["no-time", null],
      ["slow", null],
    ]);
    const plain = compareScores(runs, { sortBy: "pde_mean", gates, registry });
    expect(r.results.filter((x) => !x.passed).map((x) => x.experiment.id)).toEqual(plain.results.filter((x) => !x.passed).map((x) => x.experiment.id));
    expect(compareScores(runs, { pareto: objectives, gates: ["pde_mean:lt:0"], registry })).toMatchObject({ fronts: 0, onFront: 0, passedCount: 0 });
  });

  it("onlyPassing and max cut the ordered rows; the fronts are still counted on every passing experiment", () => {
    const r = compareScores(runs, { pareto: objectives, max: 2, registry });
    expect(r.results.map((x) => x.rank)).toEqual([1, 1]);
    expect(r).toMatchObject({ fronts: 3, onFront: 4 });
  });

  const aliased = MetricRegistry.create({ pde_mean: { aliases: ["pde"] }, train_time_min: { aliases: ["ttm"] } });

  it("resolves aliases, and reads a value reported under one", () => {
    const r = compareScores([experiment("x", { pde_mean: 1, ttm: 5 })], { pareto: [{ metric: "pde", direction: "min" }, { metric: "ttm", direction: "min" }], registry: aliased });
    expect(r.pareto).toEqual(objectives);
    expect(r.results[0]!.objectives).toEqual([1, 5]);
  });

  it("refuses an objective that names a metric twice through an alias, one objective, a bad direction, a metric nobody knows", () => {
    const twice = thrown(() => compareScores(runs, { pareto: [{ metric: "pde_mean", direction: "min" }, { metric: "pde", direction: "max" }], registry: aliased }));
    expect(twice.code).toBe("E_PARETO_SYNTAX");
    expect(twice.message).toContain("'pde:max' in pareto: it names pde_mean, as 'pde_mean:min' does already");
    expect(thrown(() => compareScores(runs, { pareto: [{ metric: "pde_mean", direction: "min" }], registry })).code).toBe("E_PARETO_SYNTAX");
    const up = thrown(() => compareScores(runs, { pareto: [{ metric: "pde_mean", direction: "up" as "min" }, { metric: "seg_total", direction: "max" }], registry }));
    expect(up.code).toBe("E_PARETO_SYNTAX");
    expect(up.message).toContain("'pde_mean:up' in pareto");
    const unknown = thrown(() => compareScores(runs, { pareto: [{ metric: "pde_maen", direction: "min" }, { metric: "seg_total", direction: "max" }], registry }));
    expect(unknown.code).toBe("E_UNKNOWN_METRIC");
    expect(unknown.field).toBe("pareto");
    expect(unknown.suggestion).toBe("pde_mean");
  });

  it("needs sortBy or pareto; ascending only with sortBy", () => {
    expect(thrown(() => compareScores(runs, { registry })).code).toBe("E_USAGE");
    const asc = thrown(() => compareScores(runs, { pareto: objectives, ascending: true, registry }));
    expect(asc.code).toBe("E_USAGE");
    expect(asc.field).toBe("ascending");
  });

  it("refuses an objective reported under two titles", () => {
    const amb: Experiment = { ...experiment("t", { pde_mean: 1, "Score/seg_total": 2, "Loss/seg_total": 3 }), ambiguousMetrics: { seg_total: ["Loss/seg_total", "Score/seg_total"] } };
    const e = thrown(() => compareScores([amb], { pareto: [{ metric: "pde_mean", direction: "min" }, { metric: "seg_total", direction: "max" }], registry }));
    expect(e.code).toBe("E_METRIC_AMBIGUOUS");
    expect(e.field).toBe("pareto");
  });
});
