import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Experiment } from "../../src/core/experiment.js";
import type { DiffMark, DiffRow } from "../../src/core/experiment-diff.js";
import { diffExperiments } from "../../src/core/experiment-diff.js";
import { MetricRegistry } from "../../src/core/metrics/registry.js";

const registry = MetricRegistry.create({ val_acc: { direction: "higher", aliases: ["vacc"] } });

/** Metric values as stores hand them over: small integers (so ties happen), -0, extremes, and junk. */
const metricValue = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -2, max: 2 }) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(-0, null, Number.NaN, Number.NEGATIVE_INFINITY, "1", undefined, true) },
);

/** Two registered metrics of each direction, an alias, a qualified name, a custom one. */
const metrics = fc.record(
  { seg_total: metricValue, seg1: metricValue, pde_mean: metricValue, "PDE/pde_seg1": metricValue, vacc: metricValue, val_acc: metricValue, custom: metricValue },
  { requiredKeys: [] },
);

const params = fc.dictionary(fc.constantFrom("Args/--lr", "Args/--model", "General/seed", "x"), fc.constantFrom("1", "2", "", "unet"), { maxKeys: 4 });
const text = fc.option(fc.constantFrom("a", "b", ""), { nil: null });

const experiment = fc.record({ name: text, status: fc.constantFrom("completed", "failed"), project: text, tags: fc.array(fc.constantFrom("x", "y"), { maxLength: 3 }), metrics, params });

const runs = (min: number, max: number) => fc.array(experiment, { minLength: min, maxLength: max }).map((es) => es.map((e, i): Experiment => ({ id: `e${i}`, created: null, ...e })));

const INVERSE: Record<DiffMark, DiffMark> = { better: "worse", worse: "better", same: "same" };

const byKey = (rows: readonly DiffRow[]): Map<string, DiffRow> => new Map(rows.map((r) => [`${r.kind}:${r.key}`, r]));

describe("diffExperiments (properties)", () => {
  it("a run diffed against itself differs nowhere: no row shown, every mark same or empty, no best", () => {
    fc.assert(
      fc.property(runs(1, 1), ([e]) => {
        const d = diffExperiments([e!, e!], registry, { all: true });
        expect(d.differing).toBe(0);
        for (const r of d.rows) {
          expect(r.differs).toBe(false);
          expect(r.best).toEqual([]);
          expect(r.marks[1] === null || r.marks[1] === "same").toBe(true);
        }
        expect(diffExperiments([e!, e!], registry).rows).toEqual([]);
      }),
    );
  });

  it("without all, the rows are exactly those of all that differ, in the same order", () => {
    fc.assert(
      fc.property(runs(2, 5), (es) => {
        const every = diffExperiments(es, registry, { all: true });
        const shown = diffExperiments(es, registry);
        expect(shown.rows).toEqual(every.rows.filter((r) => r.differs));
        expect(shown.differing).toBe(shown.rows.length);
        expect(shown.compared).toBe(every.rows.length);
        for (const r of every.rows) {
          expect(r.values).toHaveLength(es.length);
          expect(r.marks).toHaveLength(es.length);
          expect(r.differs).toBe(new Set(r.values).size > 1);
        }
      }),
    );
  });

  it("swapping A and B reverses the values, keeps differs, inverts the mark and moves the best", () => {
    fc.assert(
      fc.property(runs(2, 2), ([a, b]) => {
        const ab = byKey(diffExperiments([a!, b!], registry, { all: true }).rows);
        const ba = byKey(diffExperiments([b!, a!], registry, { all: true }).rows);
        expect([...ba.keys()].sort()).toEqual([...ab.keys()].sort());
        for (const [key, r] of ab) {
          const s = ba.get(key)!;
          expect(s.values).toEqual([...r.values].reverse());
          expect(s.differs).toBe(r.differs);
          expect(s.direction).toBe(r.direction);
          expect(s.marks[1]).toBe(r.marks[1] === null ? null : INVERSE[r.marks[1]!]);
          expect([...s.best].sort()).toEqual(r.best.map((i) => 1 - i).sort());
        }
      }),
    );
  });

  it("marks and best agree with the numbers in the metric's direction", () => {
    fc.assert(
      fc.property(runs(2, 6), (es) => {
        for (const r of diffExperiments(es, registry, { all: true }).rows) {
          if (r.direction === null) {
            expect(r.marks.every((m) => m === null)).toBe(true);
            expect(r.best).toEqual([]);
            continue;
          }
          const sign = r.direction === "lower" ? -1 : 1;
          const base = r.values[0];
          r.values.forEach((v, i) => {
            const m = r.marks[i];
            if (i === 0 || v === null || base === null) return expect(m).toBeNull();
            expect(m).toBe(v === base ? "same" : sign * ((v as number) - (base as number)) > 0 ? "better" : "worse");
          });
          const present = r.values.filter((v): v is number => v !== null);
          if (present.length < 2 || new Set(present).size === 1) expect(r.best).toEqual([]);
          else {
            const top = sign > 0 ? Math.max(...present) : Math.min(...present);
            expect(r.best).toEqual(r.values.flatMap((v, i) => (v === top ? [i] : [])));
          }
        }
      }),
    );
  });
});
