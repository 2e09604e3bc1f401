import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bestValue, HISTORY_BUCKETS, HISTORY_POINTS_PER_RUN, MetricSeries, pointsPerMetric, readMetricHistory } from "../../../src/core/metrics/history.js";

describe("MetricSeries", () => {
  it("keeps every point while there are few", () => {
    const s = new MetricSeries();
    s.add(3, 10);
    s.add(1, 20);
    s.add(2, 30);
    expect(s.toJSON()).toEqual({ last: 2, min: 1, max: 3, count: 3, steps: [[10, 3], [20, 1], [30, 2]] });
  });

  it("a 10,000-step run: exact last, min, max and count; at most 101 points, spread over the whole run, first and latest included", () => {
    const s = new MetricSeries();
    for (let i = 0; i < 10_000; i++) s.add(Math.sin(i) + i / 1000);
    const h = s.toJSON()!;
    expect(h.count).toBe(10_000);
    expect(h.last).toBe(Math.sin(9999) + 9.999);
    expect(h.steps.length).toBeLessThanOrEqual(HISTORY_BUCKETS + 1);
    expect(h.steps.length).toBeGreaterThan(HISTORY_BUCKETS / 2);
    expect(h.steps[0]).toEqual([0, 0]);
    expect(h.steps.at(-1)).toEqual([9999, h.last]);
    // Evenly spread: no gap between neighbouring points is more than twice another.
    const gaps = h.steps.slice(1, -1).map((p, i) => p[0] - h.steps[i]![0]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2 * Math.min(...gaps));
    // What a snapshot carries for it, as JSON.
    expect(JSON.stringify(h).length).toBeLessThan(3_000);
  });

  it("takes -0 as below 0 for min and max, as Math.min and Math.max do", () => {
    // CI found this: [-0, 0] gave max -0.
    for (const values of [[-0, 0], [0, -0], [-0], [0, -0, 0]]) {
      const s = new MetricSeries();
      values.forEach((v, i) => s.add(v, i));
      const h = s.toJSON()!;
      expect(h.min).toBe(Math.min(...values));
      expect(h.max).toBe(Math.max(...values));
    }
  });

  it("property: the aggregates are exact and the points a bounded, ordered subset of the entries", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 2000 }), fc.integer({ min: 2, max: 200 }), (values, max) => {
        const s = new MetricSeries();
        values.forEach((v, i) => s.add(v, i * 2));
        const h = s.toJSON(max)!;
        expect(h.count).toBe(values.length);
        expect(h.last).toBe(values.at(-1));
        expect(h.min).toBe(Math.min(...values));
        expect(h.max).toBe(Math.max(...values));
        expect(h.steps.length).toBeLessThanOrEqual(Math.min(max, HISTORY_BUCKETS + 1));
        expect(h.steps[0]).toEqual([0, values[0]]);
        expect(h.steps.at(-1)).toEqual([(values.length - 1) * 2, values.at(-1)]);
        for (let i = 1; i < h.steps.length; i++) expect(h.steps[i]![0]).toBeGreaterThan(h.steps[i - 1]![0]);
        for (const [step, v] of h.steps) expect(values[step / 2]).toBe(v);
      }),
      { numRuns: 200 },
    );
  });

  it("points per metric share the run's budget: 101 each for a few metrics, at least 2 for many", () => {
    expect(pointsPerMetric(1)).toBe(101);
    expect(pointsPerMetric(20)).toBe(100);
    expect(pointsPerMetric(100)).toBe(20);
    expect(pointsPerMetric(1000)).toBe(2);
    expect(pointsPerMetric(100_000)).toBe(2);
    expect(pointsPerMetric(1000) * 1000).toBeLessThanOrEqual(HISTORY_POINTS_PER_RUN);
  });
});

describe("readMetricHistory and bestValue", () => {
  it("reads what the runner wrote, refuses what is not a history, and drops points that are not [step, value]", () => {
    expect(readMetricHistory({ last: 1, min: 0, max: 2, count: 3, steps: [[0, 0], [1, 2], ["x", 1], [2, 1, 9]] })).toEqual({ last: 1, min: 0, max: 2, count: 3, steps: [[0, 0], [1, 2]] });
    for (const bad of [null, 3, [], { last: 1 }, { last: "1", min: 0, max: 2, count: 3 }, { last: 1, min: 0, max: 2, count: 1.5 }, { last: 1, min: 0, max: 2, count: 0 }]) expect(readMetricHistory(bad)).toBeUndefined();
  });

  it("best is by the metric's direction, over the history and the recorded value; none without a direction", () => {
    const h = { last: 5, min: 1, max: 9, count: 3, steps: [] };
    expect(bestValue("lower", h, 5)).toBe(1);
    expect(bestValue("higher", h, 5)).toBe(9);
    expect(bestValue("lower", h, 0.5)).toBe(0.5);
    expect(bestValue("higher", undefined, 4)).toBe(4);
    expect(bestValue(undefined, h, 5)).toBeUndefined();
    expect(bestValue("lower", undefined, undefined)).toBeUndefined();
  });
});
