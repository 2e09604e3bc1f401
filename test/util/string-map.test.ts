import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StringMap } from "../../src/util/string-map.js";

type Op = { kind: "set"; key: string; value: number } | { kind: "delete"; key: string } | { kind: "get"; key: string };

describe("StringMap", () => {
  it("behaves as Map<string, V> for set, delete, get, has, size and the order of values() (property)", () => {
    // Few distinct keys, so keys are set again, deleted and set after deletion; long runs make the table grow.
    const key = fc.oneof(fc.constantFrom("a", "b", "exp-1", "exp-2", "", "\u00e9", "\ud83d\ude00", "constructor", "__proto__"), fc.string({ maxLength: 4 }));
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant("set" as const), key, value: fc.integer() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), key }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("get" as const), key }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const ours = new StringMap<number>();
        const map = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === "set") {
            ours.set(o.key, o.value);
            map.set(o.key, o.value);
          } else if (o.kind === "delete") expect(ours.delete(o.key)).toBe(map.delete(o.key));
          else {
            expect(ours.get(o.key)).toBe(map.get(o.key));
            expect(ours.has(o.key)).toBe(map.has(o.key));
          }
          expect(ours.size).toBe(map.size);
        }
        expect([...ours.values()]).toEqual([...map.values()]);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps a hundred thousand distinct keys, deleting and setting again half of them", () => {
    const ours = new StringMap<number>();
    const map = new Map<string, number>();
    for (let i = 0; i < 100_000; i++) {
      ours.set(`exp-${i.toString(16)}`, i);
      map.set(`exp-${i.toString(16)}`, i);
    }
    for (let i = 0; i < 100_000; i += 2) {
      ours.delete(`exp-${i.toString(16)}`);
      map.delete(`exp-${i.toString(16)}`);
    }
    for (let i = 0; i < 100_000; i += 4) {
      ours.set(`exp-${i.toString(16)}`, -i);
      map.set(`exp-${i.toString(16)}`, -i);
    }
    expect(ours.size).toBe(map.size);
    expect([...ours.values()]).toEqual([...map.values()]);
  });
});
