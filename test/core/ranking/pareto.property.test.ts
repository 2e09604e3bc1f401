import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Experiment } from "../../../src/core/experiment.js";
import type { Gate } from "../../../src/core/gates/gate.js";
import { evaluateGates, GATE_OPS } from "../../../src/core/gates/gate.js";
import { MetricRegistry } from "../../../src/core/metrics/registry.js";
import type { CompareScoresResult } from "../../../src/core/ranking/compare-scores.js";
import { compareScores } from "../../../src/core/ranking/compare-scores.js";
import { UsageError } from "../../../src/core/errors.js";
import type { ParetoObjective } from "../../../src/core/ranking/pareto.js";
import { paretoFronts, parseParetoSpec } from "../../../src/core/ranking/pareto.js";

// ---- independent oracle: O(N²) peeling, as the definition reads --------------------------------

/** `a` dominates `b` (minimising): no worse anywhere, better somewhere. */
function dominates(a: readonly number[], b: readonly number[]): boolean {
  let better = false;
  for (let j = 0; j < a.length; j++) {
    if (a[j]! > b[j]!) return false;
    if (a[j]! < b[j]!) better = true;
  }
  return better;
}

/** Front 1: the rows nothing left dominates; take them away; repeat. */
function peel(rows: readonly (readonly number[])[]): number[] {
  const front = rows.map(() => 0);
  let left = rows.map((_, i) => i);
  for (let f = 1; left.length > 0; f++) {
    const now = left.filter((i) => !left.some((j) => dominates(rows[j]!, rows[i]!)));
    for (const i of now) front[i] = f;
    left = left.filter((i) => front[i] === 0);
  }
  return front;
}

// ---- matrices --------------------------------------------------------------------------------

/** Values from a tiny domain, so ties and duplicates are common; -0 beside 0; missing as +Infinity. */
const cell = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(-0, -1.5, Infinity) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, min: -1e6, max: 1e6 }) },
);

const matrix = (minK: number, maxK: number, maxRows: number) =>
  fc.integer({ min: minK, max: maxK }).chain((k) => fc.array(fc.array(cell, { minLength: k, maxLength: k }), { maxLength: maxRows }));

/** Rows with many exact copies: a few distinct rows, each repeated. */
const duplicated = fc
  .integer({ min: 2, max: 4 })
  .chain((k) => fc.tuple(fc.array(fc.array(cell, { minLength: k, maxLength: k }), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 30 })))
  .map(([distinct, picks]) => picks.map((p) => distinct[p % distinct.length]!));

const RUNS = { numRuns: 1000 };

describe("paretoFronts against an independent O(N²) peeling", () => {
  it("gives the same fronts, 1..5 objectives, ties and missing values included", () => {
    fc.assert(
      fc.property(matrix(1, 5, 40), (rows) => {
        expect(paretoFronts(rows)).toEqual(peel(rows));
      }),
      RUNS,
    );
  });

  it("gives the same fronts with many exact duplicates", () => {
    fc.assert(
      fc.property(duplicated, (rows) => {
        expect(paretoFronts(rows)).toEqual(peel(rows));
      }),
      RUNS,
    );
  });

  it("gives the same fronts on larger matrices (two and three objectives get their own paths)", () => {
    fc.assert(
      fc.property(matrix(2, 4, 300), (rows) => {
        expect(paretoFronts(rows)).toEqual(peel(rows));
      }),
      { numRuns: 60 },
    );
  });

  it("reads NaN as a missing value, like +Infinity", () => {
    fc.assert(
      fc.property(matrix(2, 4, 30), fc.array(fc.nat()), (rows, holes) => {
        const withNaN = rows.map((r) => [...r]);
        for (const h of holes) {
          const row = withNaN[h % Math.max(1, withNaN.length)];
          if (row !== undefined && row.length > 0) row[h % row.length] = NaN;
        }
        expect(paretoFronts(withNaN)).toEqual(peel(withNaN.map((r) => r.map((v) => (Number.isNaN(v) ? Infinity : v)))));
      }),
      RUNS,
    );
  });
});

describe("paretoFronts invariants", () => {
  it("no member of a front dominates another of it; each member of front f > 1 is dominated by one of front f-1; fronts 1..F all occur", () => {
    fc.assert(
      fc.property(matrix(2, 4, 60), (rows) => {
        const front = paretoFronts(rows);
        const max = Math.max(0, ...front);
        expect(new Set(front)).toEqual(new Set(Array.from({ length: max }, (_, i) => i + 1)));
        rows.forEach((a, i) => {
          rows.forEach((b, j) => {
            if (front[i] === front[j]) expect(dominates(a, b), `${i} dominates ${j} in front ${front[i]}`).toBe(false);
          });
          if (front[i]! > 1) expect(rows.some((b, j) => front[j] === front[i]! - 1 && dominates(b, a)), `row ${i}`).toBe(true);
        });
      }),
      RUNS,
    );
  });

  it("does not depend on the order of the rows", () => {
    fc.assert(
      fc.property(matrix(2, 4, 40), fc.integer(), (rows, seed) => {
        const order = rows.map((_, i) => i);
        let s = seed >>> 0;
        for (let i = order.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          const j = s % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const front = paretoFronts(rows);
        const shuffled = paretoFronts(order.map((i) => rows[i]!));
        expect(order.map((i) => front[i])).toEqual(shuffled);
      }),
      RUNS,
    );
  });
});

// ---- parseParetoSpec ---------------------------------------------------------------------------

/** Metric names as they come: plain, with `:` or `/` (ClearML's titles), never a comma or blank at the ends. */
const metricName = fc
  .string({ unit: fc.constantFrom("a", "b", "_", ":", "/", "1", "é"), minLength: 1, maxLength: 6 })
  .filter((m) => m.trim() === m && !m.endsWith(":"));

describe("parseParetoSpec invariants", () => {
  it("reads back what was written: distinct metrics, each with its direction, in order, with blanks and case forgiven", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(metricName, { minLength: 2, maxLength: 6 }),
        fc.array(fc.constantFrom("max", "min", "MAX", "Min"), { minLength: 6, maxLength: 6 }),
        fc.constantFrom("", " ", "  "),
        (metrics, directions, pad) => {
          const text = metrics.map((m, i) => `${pad}${m}${pad}:${pad}${directions[i]}${pad}`).join(",");
          expect(parseParetoSpec(text)).toEqual(metrics.map((metric, i) => ({ metric, direction: directions[i]!.toLowerCase() })));
        },
      ),
      RUNS,
    );
  });

  it("throws nothing but E_PARETO_SYNTAX on any text, and what it returns is well-formed", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("a", ":", ",", " ", "m", "i", "n", "x", "\u0000") }), (text) => {
        let parsed: ParetoObjective[];
        try {
          parsed = parseParetoSpec(text);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as UsageError).code).toBe("E_PARETO_SYNTAX");
          expect((e as UsageError).field).toBe("pareto");
          return;
        }
        expect(parsed.length).toBeGreaterThanOrEqual(2);
        expect(new Set(parsed.map((o) => o.metric)).size).toBe(parsed.length);
        for (const o of parsed) {
          expect(o.metric).not.toBe("");
          expect(["max", "min"]).toContain(o.direction);
        }
      }),
      RUNS,
    );
  });
});

// ---- compareScores in Pareto mode --------------------------------------------------------------

const registry = MetricRegistry.standard();

const metricValue = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -2, max: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, Number.NaN, Number.POSITIVE_INFINITY, "2", undefined, -0) },
);
const metrics = fc.record({ seg_total: metricValue, pde_mean: metricValue, train_time_min: metricValue, seg1: metricValue }, { requiredKeys: [] });
const DAY = 86_400_000;
const created = fc.oneof(fc.integer({ min: 0, max: 2 }).map((d) => new Date(Date.UTC(2024, 0, 1) + d * DAY).toISOString()), fc.constant(null));

/** Experiments with distinct ids, so the order is total and must not depend on the input's. */
const experiments = fc.array(fc.record({ created, metrics }), { maxLength: 20 }).map((list) =>
  list.map(({ created, metrics }, i): Experiment => ({ id: `e${String(i).padStart(2, "0")}`, name: null, status: "completed", project: null, tags: [], created, metrics, params: {} })),
);

const objectives = fc
  .shuffledSubarray(["seg_total", "pde_mean", "train_time_min", "seg1"], { minLength: 2 })
  .chain((names) => fc.tuple(...names.map((metric) => fc.constantFrom<ParetoObjective["direction"]>("max", "min").map((direction): ParetoObjective => ({ metric, direction })))));

const gate = fc.record({ metric: fc.constantFrom("seg_total", "pde_mean", "train_time_min"), op: fc.constantFrom(...GATE_OPS), value: fc.integer({ min: -2, max: 2 }) });

const input = fc.record({
  experiments,
  pareto: objectives,
  gates: fc.array(gate, { maxLength: 2 }),
  sortBy: fc.option(fc.constantFrom("seg_total", "pde_mean", "seg1"), { nil: undefined }),
});

function valueOf(e: Experiment, metric: string): number | null {
  const v = e.metrics[metric];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function passes(e: Experiment, gates: readonly Gate[]): boolean {
  return evaluateGates(e.metrics, gates, { registry }).passed;
}

/** The oracle's fronts of the passing experiments, by id. */
function expectedFronts(list: readonly Experiment[], pareto: readonly ParetoObjective[], gates: readonly Gate[]): Map<string, number> {
  const passing = list.filter((e) => passes(e, gates));
  const rows = passing.map((e) =>
    pareto.map((o) => {
      const v = valueOf(e, o.metric);
      return v === null ? Infinity : o.direction === "min" ? v : -v;
    }),
  );
  const fronts = peel(rows);
  return new Map(passing.map((e, i) => [e.id, fronts[i]!]));
}

function shuffle<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const ids = (r: CompareScoresResult): string[] => r.results.map((x) => x.experiment.id);

describe("compareScores with pareto: invariants", () => {
  it("ranks each passing experiment by its front (as the oracle peels them), the failing ones null and after", () => {
    fc.assert(
      fc.property(input, ({ experiments: list, pareto, gates, sortBy }) => {
        const r = compareScores(list, { pareto, gates, sortBy, registry });
        const fronts = expectedFronts(list, pareto, gates);
        expect(r.passedCount).toBe(fronts.size);
        for (const x of r.results) {
          expect(x.passed).toBe(passes(x.experiment, gates));
          expect(x.rank).toBe(x.passed ? fronts.get(x.experiment.id) : null);
        }
        const ranks = r.results.map((x) => x.rank);
        const k = r.passedCount;
        expect(ranks.slice(k).every((x) => x === null)).toBe(true);
        for (let i = 1; i < k; i++) expect(ranks[i]! - ranks[i - 1]!).toBeGreaterThanOrEqual(0);
        expect(r.fronts).toBe(Math.max(0, ...fronts.values()));
        expect(r.onFront).toBe([...fronts.values()].filter((f) => f === 1).length);
      }),
      RUNS,
    );
  });

  it("orders within a front by sortBy (else the first objective), then the other objectives, then created, then id", () => {
    fc.assert(
      fc.property(input, ({ experiments: list, pareto, gates, sortBy }) => {
        const r = compareScores(list, { pareto, gates, sortBy, registry });
        const primary = sortBy ?? pareto[0]!.metric;
        const primaryAscending = sortBy === undefined ? pareto[0]!.direction === "min" : sortBy === "pde_mean";
        const keys = [{ metric: primary, ascending: primaryAscending }, ...pareto.filter((o) => o.metric !== primary).map((o) => ({ metric: o.metric, ascending: o.direction === "min" }))];
        const passing = r.results.filter((x) => x.passed);
        for (let i = 1; i < passing.length; i++) {
          const a = passing[i - 1]!;
          const b = passing[i]!;
          if (a.rank !== b.rank) continue;
          let c = 0;
          for (const key of keys) {
            const x = valueOf(a.experiment, key.metric);
            const y = valueOf(b.experiment, key.metric);
            if (x === y) continue;
            c = x === null ? 1 : y === null ? -1 : (x < y) === key.ascending ? -1 : 1;
            break;
          }
          if (c === 0) {
            const ta = a.experiment.created === null ? Infinity : Date.parse(a.experiment.created);
            const tb = b.experiment.created === null ? Infinity : Date.parse(b.experiment.created);
            c = ta === tb ? (a.experiment.id < b.experiment.id ? -1 : 1) : ta < tb ? -1 : 1;
          }
          expect(c, `${a.experiment.id} before ${b.experiment.id}`).toBe(-1);
        }
      }),
      RUNS,
    );
  });

  it("orders the failing experiments as a ranking by the sort metric does", () => {
    fc.assert(
      fc.property(input, ({ experiments: list, pareto, gates, sortBy }) => {
        const r = compareScores(list, { pareto, gates, sortBy, registry });
        const plain = compareScores(list, { sortBy: r.sortBy, ascending: r.ascending, gates, registry });
        expect(r.results.filter((x) => !x.passed).map((x) => x.experiment.id)).toEqual(plain.results.filter((x) => !x.passed).map((x) => x.experiment.id));
      }),
      RUNS,
    );
  });

  it("does not depend on the order of the input", () => {
    fc.assert(
      fc.property(input, fc.integer(), ({ experiments: list, pareto, gates, sortBy }, seed) => {
        const r = compareScores(list, { pareto, gates, sortBy, registry });
        const again = compareScores(shuffle(list, seed), { pareto, gates, sortBy, registry });
        expect(ids(again)).toEqual(ids(r));
        expect(again.results.map((x) => x.rank)).toEqual(r.results.map((x) => x.rank));
      }),
      RUNS,
    );
  });

  it("onlyPassing and max cut the full ordering; the fronts are counted before the cut", () => {
    fc.assert(
      fc.property(input, fc.boolean(), fc.option(fc.integer({ min: 1, max: 22 }), { nil: undefined }), ({ experiments: list, pareto, gates, sortBy }, onlyPassing, max) => {
        const full = compareScores(list, { pareto, gates, sortBy, registry });
        const cut = compareScores(list, { pareto, gates, sortBy, registry, onlyPassing, max });
        const kept = full.results.filter((x) => !onlyPassing || x.passed);
        expect(cut.results).toEqual(max === undefined ? kept : kept.slice(0, max));
        expect({ fronts: cut.fronts, onFront: cut.onFront, passedCount: cut.passedCount }).toEqual({ fronts: full.fronts, onFront: full.onFront, passedCount: full.passedCount });
      }),
      RUNS,
    );
  });
});
