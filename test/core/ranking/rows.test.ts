import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Experiment } from "../../../src/core/experiment.js";
import { parseTimestamp } from "../../../src/core/time.js";
import type { ExperimentList } from "../../../src/core/ranking/compare-scores.js";
import { compareScores, rankedRows, sortRows, sortRowsByKeys } from "../../../src/core/ranking/compare-scores.js";

// The ranking of a list that makes its experiments when asked for (a store's packed listing) and
// of an array are the same; the rows of a result one at a time are its results.

const experiment: fc.Arbitrary<Experiment> = fc.record({
  id: fc.constantFrom("a", "b", "c", "d", "e"),
  name: fc.constantFrom(null, "n"),
  status: fc.constantFrom("completed", "completed", "failed"),
  project: fc.constant(null),
  tags: fc.constant([]),
  created: fc.constantFrom(null, "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00Z", "not a date", "1767225600"),
  metrics: fc.dictionary(fc.constantFrom("pde_mean", "pde", "train_time_min", "seg_total", "__proto__", "constructor"), fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(null, "3", Number.NaN, -0, 2.5)), { maxKeys: 4 }),
  params: fc.constant({}),
});

/** `experiments` as a list that makes a copy of each at each read, and answers the optional reads. */
function listOf(experiments: readonly Experiment[], reads: { made: number }): ExperimentList {
  return {
    length: experiments.length,
    at: (i) => {
      reads.made++;
      const e = experiments[i];
      return e === undefined ? undefined : { ...e };
    },
    createdTime: (i) => {
      const c = experiments[i]!.created;
      return c === null ? Number.NaN : parseTimestamp(c);
    },
    metricOf: (i, name) => (Object.hasOwn(experiments[i]!.metrics, name) ? experiments[i]!.metrics[name] : undefined),
  };
}

describe("compareScores of an ExperimentList", () => {
  it("ranks as of the array, its optional reads included (property)", () => {
    fc.assert(
      fc.property(
        fc.array(experiment, { maxLength: 40 }),
        fc.constantFrom("pde_mean", "seg_total"),
        fc.array(fc.constantFrom("pde_mean:lt:3", "train_time_min:le:2", "seg_total:gt:1"), { maxLength: 2 }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        (exps, sortBy, gates, max) => {
          const options = { sortBy, gates, max, thenBy: ["train_time_min"] };
          const fromArray = compareScores(exps, options);
          const fromList = compareScores(listOf(exps, { made: 0 }), options);
          expect(fromList).toEqual(fromArray);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("gives its rows one at a time as results has them, each made when asked for", () => {
    const exps: Experiment[] = Array.from({ length: 500 }, (_, i) => ({ id: `e${i}`, name: null, status: i % 9 === 0 ? "failed" : "completed", project: null, tags: [], created: null, metrics: { pde_mean: i % 37, train_time_min: i % 70 }, params: {} }));
    const reads = { made: 0 };
    const result = compareScores(listOf(exps, reads), { sortBy: "pde_mean", gates: ["train_time_min:lt:60"] });
    const rows = rankedRows(result);
    const before = reads.made;
    const oneByOne = Array.from({ length: rows.length }, (_, i) => rows.at(i));
    // Each row made its experiment afresh; none was kept by the ranking.
    expect(reads.made - before).toBe(rows.length);
    expect(rows.at(rows.length)).toBeUndefined();
    expect(rows.at(-1)).toBeUndefined();
    expect(oneByOne).toEqual(result.results);
    // Once made, the results are the rows.
    expect(rankedRows(result).at(3)).toBe(result.results[3]);
    // A result made by hand (or spread) gives its results.
    const copy = { ...result };
    expect(rankedRows(copy)).toBe(copy.results);
  });
});

describe("sortRows", () => {
  it("sorts as Array.prototype.sort does under the same total order (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 400 }), (keys) => {
        const order = (a: number, b: number): number => keys[a]! - keys[b]! || a - b;
        const rows = Int32Array.from(keys.keys());
        const expected = [...keys.keys()].sort(order);
        expect(Array.from(sortRows(rows, order))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("sorts a hundred thousand rows, descending, presorted and all equal", () => {
    for (const key of [(i: number) => -i, (i: number) => i, () => 0, (i: number) => (i * 7919) % 1000]) {
      const n = 100_000;
      const order = (a: number, b: number): number => key(a) - key(b) || a - b;
      const sorted = sortRows(Int32Array.from({ length: n }, (_, i) => i), order);
      let outOfOrder = 0;
      for (let i = 1; i < n; i++) if (order(sorted[i - 1]!, sorted[i]!) >= 0) outOfOrder++;
      expect(outOfOrder).toBe(0);
      expect(new Set(sorted).size).toBe(n);
    }
  });
});

describe("sortRowsByKeys", () => {
  // The order it stands for: group, then key (-0 equal to 0), then the tie order.
  const fullOrder = (group: Int32Array, key: Float64Array, tie: (a: number, b: number) => number) => (a: number, b: number): number =>
    group[a]! - group[b]! || (key[a]! < key[b]! ? -1 : key[a]! > key[b]! ? 1 : tie(a, b));

  it("sorts any subset of rows as a comparison sort under group, key and tie does (property)", () => {
    const row = fc.record({
      group: fc.integer({ min: 0, max: 3 }),
      key: fc.oneof(fc.constantFrom(-0, 0, 1, -1, 2.5, Infinity, -1e300), fc.integer({ min: -3, max: 3 })),
      tie: fc.integer({ min: 0, max: 5 }),
      kept: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 300 }), (all) => {
        // Groups up to the rows' count + 1 (the failing rows' group in a ranking).
        const group = Int32Array.from(all, (r) => (r.group === 3 ? all.length + 1 : r.group));
        const key = Float64Array.from(all, (r) => r.key);
        const tie = (a: number, b: number): number => all[a]!.tie - all[b]!.tie || a - b;
        const kept = [...all.keys()].filter((i) => all[i]!.kept);
        const expected = [...kept].sort(fullOrder(group, key, tie));
        expect(Array.from(sortRowsByKeys(Int32Array.from(kept), group, key, tie))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("sorts a hundred thousand rows with long runs of equal keys", () => {
    const n = 100_000;
    const group = Int32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? n + 1 : 0));
    const key = Float64Array.from({ length: n }, (_, i) => ((i * 7919) % 97) / 10);
    const tie = (a: number, b: number): number => b - a;
    const sorted = sortRowsByKeys(Int32Array.from({ length: n }, (_, i) => i), group, key, tie);
    const order = fullOrder(group, key, tie);
    let outOfOrder = 0;
    for (let i = 1; i < n; i++) if (order(sorted[i - 1]!, sorted[i]!) >= 0) outOfOrder++;
    expect(outOfOrder).toBe(0);
    expect(new Set(sorted).size).toBe(n);
  });
});
