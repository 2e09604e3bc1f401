import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../../src/core/errors.js";
import type { Gate, GateOp } from "../../../src/core/gates/gate.js";
import { evaluateGates, formatGate, GATE_OPS, parseGate } from "../../../src/core/gates/gate.js";

/** What parseGate threw, or `undefined` when it returned. */
function failureOf(text: string): unknown {
  try {
    parseGate(text);
    return undefined;
  } catch (error) {
    return error;
  }
}

const op = fc.constantFrom(...GATE_OPS);

/** Finite doubles, 0, -0, subnormals and extremes included. */
const finiteDouble = fc.double({ noNaN: true, noDefaultInfinity: true });

/** Characters that stress the grammar: separators, whitespace inside names, op and number look-alikes. */
const trickyChar = fc.constantFrom(":", ":", " ", "\t", "a", "Z", "_", "-", ".", "e", "1", "l", "t", "/", "é", "😀");

/**
 * Metric names as a user might write them, colons included: non-empty, and without leading or
 * trailing whitespace (parseGate trims the metric, so those could not round-trip).
 */
const metricName = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.string({ minLength: 1, maxLength: 20, unit: trickyChar }),
    fc.string({ minLength: 1, maxLength: 12, unit: "binary" }),
    fc.array(fc.stringMatching(/^[A-Za-z0-9_/.-]{1,8}$/), { minLength: 1, maxLength: 4 }).map((parts) => parts.join(":")),
  )
  .filter((s) => s.length > 0 && s.trim() === s);

/** An independent statement of each operator, to check evaluateGates against. */
function holds(o: GateOp, actual: number, bound: number): boolean {
  switch (o) {
    case "lt":
      return bound > actual;
    case "le":
      return !(actual > bound);
    case "gt":
      return bound < actual;
    case "ge":
      return !(actual < bound);
    case "eq":
      return actual <= bound && actual >= bound;
    case "ne":
      return actual < bound || actual > bound;
  }
}

describe("parseGate / formatGate properties", () => {
  it("round-trips any metric name (colons included) and any finite double", () => {
    fc.assert(
      fc.property(metricName, op, finiteDouble, (metric, o, value) => {
        const g: Gate = { metric, op: o, value };
        const parsed = parseGate(formatGate(g));
        // -0 is written as "0" and reads back as 0, which every operator treats as -0.
        expect(parsed).toEqual({ metric, op: o, value: value + 0 });
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trips with the operator in any case", () => {
    fc.assert(
      fc.property(metricName, op, fc.integer(), fc.boolean(), (metric, o, value, upper) => {
        const text = `${metric}:${upper ? o.toUpperCase() : o}:${value}`;
        expect(parseGate(text)).toEqual({ metric, op: o, value });
      }),
    );
  });

  it("reads any finite double written by String() back exactly", () => {
    fc.assert(
      fc.property(finiteDouble, (value) => {
        expect(parseGate(`m:eq:${String(value)}`).value === value).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("fails with E_GATE_SYNTAX, and nothing else, on any string with fewer than two ':'", () => {
    const fewerThanTwoColons = fc
      .oneof(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30, unit: trickyChar }), fc.string({ maxLength: 30, unit: "binary" }))
      .filter((s) => s.split(":").length < 3);
    fc.assert(
      fc.property(fewerThanTwoColons, (text) => {
        const error = failureOf(text);
        expect(error).toBeInstanceOf(UsageError);
        expect((error as UsageError).code).toBe("E_GATE_SYNTAX");
        expect((error as UsageError).message).toContain(`'${text}'`);
      }),
      { numRuns: 2000 },
    );
  });

  it("fails with E_GATE_SYNTAX on a non-numeric or non-finite value", () => {
    const badValue = fc.oneof(
      fc.constantFrom("Infinity", "-Infinity", "NaN", "0x1f", "1e400", "-1e400", "1..2", "one"),
      fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !/^[\s\d.eE+-]*$/.test(s) && !s.includes(":")),
    );
    fc.assert(
      fc.property(metricName, op, badValue, (metric, o, value) => {
        const error = failureOf(`${metric}:${o}:${value}`);
        expect(error).toBeInstanceOf(UsageError);
        expect((error as UsageError).code).toBe("E_GATE_SYNTAX");
      }),
    );
  });

  it("never throws anything but a UsageError E_GATE_SYNTAX, and what it returns is well-formed", () => {
    const anyText = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ maxLength: 40, unit: "binary" }),
      fc.string({ maxLength: 40, unit: trickyChar }),
      fc.tuple(fc.string({ maxLength: 8, unit: trickyChar }), fc.constantFrom(...GATE_OPS, "LT", "xx", ""), fc.string({ maxLength: 8, unit: trickyChar })).map(
        ([m, o, v]) => `${m}:${o}:${v}`,
      ),
    );
    fc.assert(
      fc.property(anyText, (text) => {
        let g: Gate;
        try {
          g = parseGate(text);
        } catch (error) {
          expect(error).toBeInstanceOf(UsageError);
          expect((error as UsageError).code).toBe("E_GATE_SYNTAX");
          expect((error as UsageError).exitCode).toBe(2);
          return;
        }
        expect(g.metric.length).toBeGreaterThan(0);
        expect(g.metric.trim()).toBe(g.metric);
        expect(GATE_OPS).toContain(g.op);
        expect(Number.isFinite(g.value)).toBe(true);
        expect(parseGate(formatGate(g))).toEqual({ ...g, value: g.value + 0 });
      }),
      { numRuns: 3000 },
    );
  });
});

describe("evaluateGates properties", () => {
  const value = fc.oneof(
    fc.integer({ min: -3, max: 3 }),
    finiteDouble,
    fc.constantFrom(null, undefined, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "1", true),
  );
  const metricKey = fc.constantFrom("a", "b", "c");
  const gateArb = fc.record({ metric: metricKey, op, value: fc.oneof(fc.integer({ min: -3, max: 3 }), finiteDouble) });

  it("agrees with an independent statement of each operator, and reports why a gate fails", () => {
    fc.assert(
      fc.property(fc.dictionary(metricKey, value), fc.array(gateArb, { maxLength: 6 }), (metrics, gates) => {
        const { passed, results } = evaluateGates(metrics, gates);
        expect(results).toHaveLength(gates.length);
        results.forEach((r, i) => {
          const g = gates[i]!;
          const raw: unknown = metrics[g.metric];
          const present = typeof raw === "number" && Number.isFinite(raw);
          expect(r.metric).toBe(g.metric);
          expect(r.op).toBe(g.op);
          expect(r.threshold).toBe(g.value);
          expect(r.actual).toBe(present ? raw : null);
          const expected = present && holds(g.op, raw, g.value);
          expect(r.passed).toBe(expected);
          expect(r.reason).toBe(expected ? null : present ? "not_met" : "missing");
        });
        expect(passed).toBe(results.every((r) => r.passed));
      }),
      { numRuns: 2000 },
    );
  });

  it("passes exactly one of lt/ge, gt/le and eq/ne for a present value, and none for a missing one", () => {
    const pairs: [GateOp, GateOp][] = [
      ["lt", "ge"],
      ["gt", "le"],
      ["eq", "ne"],
    ];
    fc.assert(
      fc.property(value, fc.integer({ min: -3, max: 3 }), (v, bound) => {
        const present = typeof v === "number" && Number.isFinite(v);
        for (const [p, q] of pairs) {
          const a = evaluateGates({ x: v }, [{ metric: "x", op: p, value: bound }]).passed;
          const b = evaluateGates({ x: v }, [{ metric: "x", op: q, value: bound }]).passed;
          if (present) expect(a !== b).toBe(true);
          else expect([a, b]).toEqual([false, false]);
        }
      }),
    );
  });
});
