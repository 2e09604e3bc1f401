import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../../src/core/errors.js";
import type { Experiment } from "../../../src/core/experiment.js";
import type { Gate } from "../../../src/core/gates/gate.js";
import { evaluateGates, formatGate, GATE_OPS, thresholdGates } from "../../../src/core/gates/gate.js";
import { MetricRegistry } from "../../../src/core/metrics/registry.js";
import type { CompareScoresOptions, CompareScoresResult } from "../../../src/core/ranking/compare-scores.js";
import { compareScores, rankingMetricNames } from "../../../src/core/ranking/compare-scores.js";

const registry = MetricRegistry.standard();

/** Metric values as stores hand them over: small integers (so ties happen), 0, -0, negatives, extremes, and junk. */
const metricValue = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(0, -0, null, Number.NaN, Number.POSITIVE_INFINITY, "2", undefined) },
);

/** A random subset of a few metrics: two registered ones of each direction, one the registry does not know. */
const metrics = fc.record(
  { seg_total: metricValue, pde_mean: metricValue, train_time_min: metricValue, seg1: metricValue, custom: metricValue },
  { requiredKeys: [] },
);

const DAY = 86_400_000;
const created = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 4 }).map((d) => new Date(Date.UTC(2024, 0, 1) + d * DAY).toISOString()) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constant("not a date") },
);

/** Short ids from a tiny alphabet, so duplicates and prefixes occur. */
const id = fc.string({ unit: fc.constantFrom("a", "b", "B", "1"), maxLength: 2 });

const experiment = fc.record({ id, created, metrics }).map(
  ({ id, created, metrics }): Experiment => ({ id, name: null, status: "completed", project: null, tags: [], created, metrics, params: {} }),
);

const gate = fc.record({
  metric: fc.constantFrom("seg_total", "pde_mean", "train_time_min", "custom"),
  op: fc.constantFrom(...GATE_OPS),
  value: fc.integer({ min: -3, max: 3 }),
});

const options = fc.record({
  sortBy: fc.constantFrom("seg_total", "pde_mean", "custom"),
  ascending: fc.option(fc.boolean(), { nil: undefined }),
  thenBy: fc.subarray(["seg1", "pde_mean", "custom"]),
  gates: fc.array(fc.oneof(gate, gate.map(formatGate)), { maxLength: 3 }),
  useThresholds: fc.boolean(),
});

const input = fc.record({ experiments: fc.array(experiment, { maxLength: 14 }), options });

type Options = Required<Pick<CompareScoresOptions, "sortBy" | "thenBy" | "gates" | "useThresholds">> & { ascending: boolean | undefined };

// ---- independent oracle ---------------------------------------------------------------------

/** A finite number, or null for anything that counts as missing. */
function valueOf(e: Experiment, metric: string): number | null {
  const v = e.metrics[metric];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function createdOf(e: Experiment): number | null {
  if (e.created === null) return null;
  const t = new Date(e.created).getTime();
  return Number.isNaN(t) ? null : t;
}

/** The gates compareScores should apply, stated without its code: the explicit ones plus thresholds. */
function expectedGates(o: Options): Gate[] {
  const explicit = o.gates.map((g): Gate => {
    if (typeof g !== "string") return g;
    const [metric, op, value] = g.split(":") as [string, Gate["op"], string];
    return { metric, op, value: Number(value) };
  });
  return [...explicit, ...(o.useThresholds ? thresholdGates(registry) : [])];
}

function passes(e: Experiment, o: Options): boolean {
  return evaluateGates(e.metrics, expectedGates(o), { registry }).passed;
}

function sortAscending(o: Options): boolean {
  return o.ascending ?? o.sortBy === "pde_mean";
}

/** -1 when a comes first, 1 when b does, 0 on a tie; missing (null) always last. */
function byValue(a: number | null, b: number | null, ascending: boolean): number {
  if (a === null && b === null) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (a === b) return 0;
  return (a < b) === ascending ? -1 : 1;
}

/** The full ordering the spec describes, as a lexicographic key comparison. */
function specOrder(o: Options): (a: Experiment, b: Experiment) => number {
  return (a, b) => {
    const pa = passes(a, o);
    const pb = passes(b, o);
    if (pa !== pb) return pa ? -1 : 1;
    const keys: [number | null, number | null, boolean][] = [
      [valueOf(a, o.sortBy), valueOf(b, o.sortBy), sortAscending(o)],
      // thenBy in its registered direction; unregistered (custom) descending.
      ...o.thenBy.map((m): [number | null, number | null, boolean] => [valueOf(a, m), valueOf(b, m), m === "pde_mean"]),
      [createdOf(a), createdOf(b), true],
    ];
    for (const [x, y, asc] of keys) {
      const c = byValue(x, y, asc);
      if (c !== 0) return c;
    }
    return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
  };
}

function isReported(experiments: readonly Experiment[], metric: string): boolean {
  return experiments.some((e) => metric in e.metrics);
}

/** Runs compareScores, or returns undefined when the options name `custom` and nothing reports it. */
function rank(experiments: readonly Experiment[], o: Options, extra: Partial<CompareScoresOptions> = {}): CompareScoresResult | undefined {
  const usesCustom =
    o.sortBy === "custom" || o.thenBy.includes("custom") || expectedGates(o).some((g) => g.metric === "custom");
  if (usesCustom && !isReported(experiments, "custom")) {
    let caught: unknown;
    try {
      compareScores(experiments, { ...o, ...extra });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).code).toBe("E_UNKNOWN_METRIC");
    return undefined;
  }
  return compareScores(experiments, { ...o, ...extra });
}

const RUNS = { numRuns: 500 };

describe("compareScores ranking invariants", () => {
  it("returns a permutation of the input", () => {
    fc.assert(
      fc.property(input, ({ experiments, options: o }) => {
        const r = rank(experiments, o);
        if (r === undefined) return;
        const index = new Map(experiments.map((e, i) => [e, i]));
        const positions = r.results.map((x) => index.get(x.experiment));
        expect(positions.every((p) => p !== undefined)).toBe(true);
        expect([...positions].sort((a, b) => a! - b!)).toEqual(experiments.map((_, i) => i));
        expect(r.total).toBe(experiments.length);
      }),
      RUNS,
    );
  });

  it("agrees with an independent evaluateGates call on who passes, and counts them", () => {
    fc.assert(
      fc.property(input, ({ experiments, options: o }) => {
        const r = rank(experiments, o);
        if (r === undefined) return;
        for (const x of r.results) expect(x.passed).toBe(passes(x.experiment, o));
        expect(r.passedCount).toBe(experiments.filter((e) => passes(e, o)).length);
      }),
      RUNS,
    );
  });

  it("puts every passing experiment before every failing one", () => {
    fc.assert(
      fc.property(input, ({ experiments, options: o }) => {
        const r = rank(experiments, o);
        if (r === undefined) return;
        const flags = r.results.map((x) => x.passed);
        const firstFailing = flags.indexOf(false);
        if (firstFailing >= 0) expect(flags.slice(firstFailing)).not.toContain(true);
        expect(firstFailing === -1 ? flags.length : firstFailing).toBe(r.passedCount);
      }),
      RUNS,
    );
  });

  it("ranks the passing experiments 1..k and gives failing ones rank null", () => {
    fc.assert(
      fc.property(input, ({ experiments, options: o }) => {
        const r = rank(experiments, o);
        if (r === undefined) return;
        const k = r.passedCount;
        expect(r.results.slice(0, k).map((x) => x.rank)).toEqual(Array.from({ length: k }, (_, i) => i + 1));
        expect(r.results.slice(k).every((x) => x.rank === null)).toBe(true);
      }),
      RUNS,
    );
  });

  it("orders each group by the sort metric in its direction, missing values last", () => {
    fc.assert(
      fc.property(input, ({ experiments, options: o }) => {
        const r = rank(experiments, o);
        if (r === undefined) return;
        const ascending = sortAscending(o);
        expect(r.ascending).toBe(ascending);
        for (const group of [r.results.filter((x) => x.passed), r.results.filter((x) => !x.passed)]) {
          const vals = group.map((x) => valueOf(x.experiment, o.sortBy));
          expect(group.map((x) => x.value)).toEqual(vals);
          const present = vals.filter((v): v is number => v !== null);
          // Missing values form a suffix.
          expect(vals.slice(0, present.length)).toEqual(present);
          for (let i = 1; i < present.length; i++) {
            if (ascending) expect(present[i - 1]!).toBeLessThanOrEqual(present[i]!);
            else expect(present[i - 1]!).toBeGreaterThanOrEqual(present[i]!);
          }
        }
      }),
      RUNS,
    );
  });

  it("breaks ties by thenBy, then earlier created, then id", () => {
    fc.assert(
      fc.property(input, ({ experiments, options: o }) => {
        const r = rank(experiments, o);
        if (r === undefined) return;
        const order = specOrder(o);
        const list = r.results.map((x) => x.experiment);
        for (let i = 1; i < list.length; i++) {
          expect(order(list[i - 1]!, list[i]!), `positions ${i - 1} and ${i}`).toBeLessThanOrEqual(0);
        }
      }),
      RUNS,
    );
  });

  it("does not depend on the order of the input, beyond exact ties", () => {
    fc.assert(
      fc.property(input, fc.integer(), ({ experiments, options: o }, seed) => {
        const r = rank(experiments, o);
        if (r === undefined) return;
        const shuffled = [...experiments];
        let s = seed >>> 0;
        for (let i = shuffled.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          const j = s % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const again = compareScores(shuffled, o);
        const order = specOrder(o);
        r.results.forEach((x, i) => expect(order(x.experiment, again.results[i]!.experiment)).toBe(0));
      }),
      RUNS,
    );
  });

  it("applies onlyPassing and max to the full ordering, keeping passedCount and total", () => {
    fc.assert(
      fc.property(input, fc.boolean(), fc.option(fc.integer({ min: 1, max: 16 }), { nil: undefined }), ({ experiments, options: o }, onlyPassing, max) => {
        const full = rank(experiments, o);
        if (full === undefined) return;
        const cut = compareScores(experiments, { ...o, onlyPassing, max });
        const kept = full.results.filter((x) => !onlyPassing || x.passed);
        expect(cut.results).toEqual(max === undefined ? kept : kept.slice(0, max));
        expect(cut.passedCount).toBe(full.passedCount);
        expect(cut.total).toBe(experiments.length);
      }),
      RUNS,
    );
  });

  it("with a max under a quarter of the rows (selected before sorting), returns the prefix of the full ordering", () => {
    // Many rows, few shown: the path that picks the first `max` without sorting every row, ties
    // (equal ids and values included) kept in input order as the full sort keeps them.
    const many = fc.record({ experiments: fc.array(experiment, { minLength: 8, maxLength: 60 }), options });
    fc.assert(
      fc.property(many, fc.boolean(), fc.integer({ min: 1, max: 6 }), ({ experiments, options: o }, onlyPassing, max) => {
        const full = rank(experiments, o);
        if (full === undefined) return;
        const cut = compareScores(experiments, { ...o, onlyPassing, max });
        const kept = full.results.filter((x) => !onlyPassing || x.passed);
        expect(cut.results).toEqual(kept.slice(0, max));
        expect(cut.passedCount).toBe(full.passedCount);
      }),
      RUNS,
    );
  });

  it("ranks alike when each experiment's metrics hold only rankingMetricNames (what a lean listing keeps)", () => {
    fc.assert(
      fc.property(input, fc.boolean(), fc.option(fc.integer({ min: 1, max: 16 }), { nil: undefined }), ({ experiments, options: o }, onlyPassing, max) => {
        const names = rankingMetricNames({ ...o, registry });
        const usesCustom = o.sortBy === "custom" || o.thenBy.includes("custom") || o.gates.some((g) => (typeof g === "string" ? g.startsWith("custom:") : g.metric === "custom"));
        // A name the registry does not know reads what the experiments report: no lean listing.
        expect(names === null).toBe(usesCustom);
        if (names === null) return;
        const lean = experiments.map((e) => ({ ...e, metrics: Object.fromEntries(Object.entries(e.metrics).filter(([k]) => names.has(k))) }));
        const strip = (r: CompareScoresResult) => ({ ...r, results: r.results.map((x) => ({ ...x, experiment: x.experiment.id })) });
        expect(strip(compareScores(lean, { ...o, onlyPassing, max, registry }))).toEqual(strip(compareScores(experiments, { ...o, onlyPassing, max, registry })));
      }),
      RUNS,
    );
  });

  it("lets everything pass, ranked 1..n, when there are no gates", () => {
    fc.assert(
      fc.property(fc.array(experiment, { maxLength: 14 }), fc.constantFrom("seg_total", "pde_mean"), (experiments, sortBy) => {
        const r = compareScores(experiments, { sortBy });
        expect(r.passedCount).toBe(experiments.length);
        expect(r.results.map((x) => x.rank)).toEqual(experiments.map((_, i) => i + 1));
      }),
      RUNS,
    );
  });
});

// ---- status selection -----------------------------------------------------------------------

const STATUS_WORDS = ["created", "queued", "running", "completed", "failed", "cancelled", "unknown", "__proto__"] as const;

/** Experiments in any status, some with a backend status (ClearML's) beside the lifecycle state. */
const anyStatusExperiment = fc
  .record({
    base: experiment,
    status: fc.constantFrom(...STATUS_WORDS),
    backendStatus: fc.option(fc.constantFrom("published", "stopped", "in_progress", "completed"), { nil: undefined }),
  })
  .map(({ base, status, backendStatus }): Experiment => ({ ...base, status, ...(backendStatus === undefined ? {} : { backendStatus }) }));

const statusesOption = fc.option(fc.subarray([...STATUS_WORDS, "published"], { minLength: 1 }), { nil: undefined });

const statusInput = fc.record({ experiments: fc.array(anyStatusExperiment, { maxLength: 14 }), options, statuses: statusesOption });

/** The oracle's status selection: the status or the backend status is one of them. */
function selected(e: Experiment, statuses: readonly string[]): boolean {
  return statuses.includes(e.status) || (e.backendStatus !== undefined && statuses.includes(e.backendStatus));
}

/** compareScores, or undefined when it refuses the options (a `custom` metric no experiment reports). */
function tryRank(experiments: readonly Experiment[], o: CompareScoresOptions): CompareScoresResult | undefined {
  try {
    return compareScores(experiments, o);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).code).toBe("E_UNKNOWN_METRIC");
    return undefined;
  }
}

describe("compareScores status selection invariants", () => {
  it("ranks exactly the experiments in the statuses (default: completed) and counts every other one by its status", () => {
    fc.assert(
      fc.property(statusInput, ({ experiments, options: o, statuses }) => {
        const r = tryRank(experiments, { ...o, statuses });
        if (r === undefined) return;
        const wanted = statuses ?? ["completed"];
        const kept = experiments.filter((e) => selected(e, wanted));
        const left = experiments.filter((e) => !selected(e, wanted));
        expect(r.results.every((x) => selected(x.experiment, wanted))).toBe(true);
        expect(r.results).toHaveLength(kept.length);
        expect(r.total).toBe(kept.length);
        expect(r.selection.isDefault).toBe(statuses === undefined);
        expect(r.selection.statuses).toEqual([...new Set(wanted)]);
        expect(r.selection.excluded).toBe(left.length);
        const counts = new Map<string, number>();
        for (const e of left) counts.set(e.status, (counts.get(e.status) ?? 0) + 1);
        expect(Object.entries(r.selection.excludedByStatus).sort()).toEqual([...counts].sort());
      }),
      RUNS,
    );
  });

  it("never ranks, by default, a run whose status is not completed", () => {
    fc.assert(
      fc.property(statusInput, ({ experiments, options: o }) => {
        const r = tryRank(experiments, o);
        if (r === undefined) return;
        for (const x of r.results) expect(x.experiment.status === "completed" || x.experiment.backendStatus === "completed").toBe(true);
      }),
      RUNS,
    );
  });

  it("ranks as if the left-out experiments had never been given (every other invariant carries over)", () => {
    fc.assert(
      fc.property(statusInput, ({ experiments, options: o, statuses }) => {
        const wanted = statuses ?? ["completed"];
        const alone = tryRank(
          experiments.filter((e) => selected(e, wanted)),
          { ...o, statuses: "all" },
        );
        if (alone === undefined) return;
        const r = compareScores(experiments, { ...o, statuses });
        expect(r.results).toEqual(alone.results);
        expect(r.passedCount).toBe(alone.passedCount);
      }),
      RUNS,
    );
  });

  it("the statuses ranked plus those counted as left out rank every experiment (the summary's --status hint)", () => {
    fc.assert(
      fc.property(statusInput, ({ experiments, options: o, statuses }) => {
        const r = tryRank(experiments, { ...o, statuses });
        if (r === undefined || r.selection.statuses === "all") return;
        const hint = [...r.selection.statuses, ...Object.keys(r.selection.excludedByStatus)];
        const everything = compareScores(experiments, { ...o, statuses: hint });
        expect(everything.selection.excluded).toBe(0);
        expect(everything.total).toBe(experiments.length);
      }),
      RUNS,
    );
  });
});
