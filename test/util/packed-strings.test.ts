import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NumberColumn, PackedNumbers, PackedStringMap, PackedStrings } from "../../src/util/packed-strings.js";

// Strings of every kind: ASCII, multi-byte, astral, lone surrogates (which UTF-8 cannot hold).
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", "\ud800", "a\udc00b", "\ud83d\ude00", "\u00e9t\u00e9", "\u4e2d\u6587", "\u0000", "__proto__"),
);

describe("PackedStrings", () => {
  it("addAsciiHashed packs a short ASCII string as addString does and gives its hashAt; any other it leaves (property)", () => {
    const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 300 });
    fc.assert(
      fc.property(fc.array(fc.oneof(ascii, text), { maxLength: 40 }), fc.integer({ min: 64, max: 400 }), (strings, chunk) => {
        const fast = new PackedStrings(chunk);
        const plain = new PackedStrings(chunk);
        for (const s of strings) {
          fast.begin();
          const h = fast.addAsciiHashed(s);
          // eslint-disable-next-line no-control-regex
          const takes = s.length <= 256 && /^[\u0000-\u007f]*$/.test(s);
          expect(h >= 0).toBe(takes);
          if (!takes) fast.addString(s);
          const at = fast.end();
          plain.begin();
          plain.addString(s);
          const ref = plain.end();
          expect(fast.stringAt(at)).toBe(s);
          expect(fast.afterString(at) - at).toBe(plain.afterString(ref) - ref);
          if (takes) expect(h).toBe(plain.hashAt(ref));
          expect(fast.hashAt(at)).toBe(plain.hashAt(ref));
        }
      }),
      { numRuns: 200 },
    );
  });

  it("reads back every block of strings and counts exactly, across chunks (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.oneof(text, fc.nat({ max: 2 ** 32 - 1 })), { maxLength: 6 }), { maxLength: 60 }), fc.integer({ min: 64, max: 300 }), (blocks, chunk) => {
        const packed = new PackedStrings(chunk);
        const handles = blocks.map((values) => {
          packed.begin();
          for (const v of values) {
            if (typeof v === "string") packed.addString(v);
            else packed.addCount(v);
          }
          return packed.end();
        });
        blocks.forEach((values, b) => {
          let at = handles[b]!;
          for (const v of values) {
            if (typeof v === "string") {
              expect(packed.stringAt(at)).toBe(v);
              at = packed.afterString(at);
            } else {
              expect(packed.countAt(at)).toBe(v);
              at = packed.afterCount(at);
            }
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  it("keeps a string longer than a chunk, and tells lone surrogates apart", () => {
    const packed = new PackedStrings(64);
    const long = "\u00e9".repeat(1000);
    const at = [long, "\ud800", "\udbff", "\ufffd"].map((s) => {
      packed.begin();
      packed.addString(s);
      return packed.end();
    });
    expect(packed.stringAt(at[0]!)).toBe(long);
    expect(at.slice(1).map((h) => packed.stringAt(h))).toEqual(["\ud800", "\udbff", "\ufffd"]);
    expect(packed.sameString(at[1]!, at[2]!)).toBe(false);
    expect(packed.sameString(at[1]!, at[3]!)).toBe(false);
  });
});

type Op = { kind: "set"; key: string; value: number } | { kind: "delete"; key: string } | { kind: "get"; key: string };

describe("PackedStringMap", () => {
  it("behaves as Map<string, number> for set, delete, get, size and the order of its entries (property)", () => {
    const key = fc.oneof(fc.constantFrom("a", "b", "exp-1", "exp-2", "", "\u00e9", "\ud83d\ude00", "\ud800", "\udc00", "constructor", "__proto__"), fc.string({ maxLength: 4 }));
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant("set" as const), key, value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), key }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("get" as const), key }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const ours = new PackedStringMap();
        const map = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === "set") {
            const entry = ours.set(o.key, o.value);
            expect(ours.keyOf(entry)).toBe(o.key);
            map.set(o.key, o.value);
          } else if (o.kind === "delete") expect(ours.delete(o.key)).toBe(map.delete(o.key));
          else expect(ours.get(o.key)).toBe(map.get(o.key));
          expect(ours.size).toBe(map.size);
        }
        expect([...ours.entries()].map((e) => [ours.keyOf(e), ours.valueOf(e)])).toEqual([...map.entries()]);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps two hundred thousand distinct keys, deleting and setting again half of them", () => {
    const ours = new PackedStringMap();
    const map = new Map<string, number>();
    const id = (i: number): string => `exp-${i.toString(16)}`;
    for (let i = 0; i < 200_000; i++) {
      ours.set(id(i), i);
      map.set(id(i), i);
    }
    for (let i = 0; i < 200_000; i += 2) {
      ours.delete(id(i));
      map.delete(id(i));
    }
    for (let i = 0; i < 200_000; i += 4) {
      ours.set(id(i), -i - 1);
      map.set(id(i), -i - 1);
    }
    expect(ours.size).toBe(map.size);
    expect([...ours.entries()].map((e) => [ours.keyOf(e), ours.valueOf(e)])).toEqual([...map.entries()]);
  });
});

describe("NumberColumn and PackedNumbers", () => {
  it("keep every number set, row by row across chunks, each of its kind", () => {
    const f = new NumberColumn("f64", 3);
    const i32 = new NumberColumn("i32");
    const u8 = new NumberColumn("u8");
    for (let row = 0; row < 50_000; row += 7) {
      for (let k = 0; k < 3; k++) f.set(row, row + k / 10, k);
      i32.set(row, -row - 1);
      u8.set(row, row & 0xff);
    }
    // A row never set reads 0; a chunk made late leaves the ones before it readable.
    expect(f.get(1, 2)).toBe(0);
    expect(new NumberColumn("f64").get(10 ** 6)).toBe(0);
    // A row set past chunks never set: the rows of those chunks read 0 too, each of its kind.
    for (const kind of ["f64", "i32", "u8"] as const) {
      const sparse = new NumberColumn(kind, 2);
      sparse.set(40_000, 7, 1);
      expect([sparse.get(100, 0), sparse.get(100, 1), sparse.get(20_000, 1), sparse.get(40_000, 1), sparse.get(40_000, 0)]).toEqual([0, 0, 0, 7, 0]);
    }
    for (let row = 0; row < 50_000; row += 7) {
      expect([f.get(row, 0), f.get(row, 1), f.get(row, 2)]).toEqual([row, row + 0.1, row + 0.2]);
      expect(i32.get(row)).toBe(-row - 1);
      expect(u8.get(row)).toBe(row & 0xff);
    }
  });

  it("PackedNumbers keeps each run in one chunk, a run longer than a chunk in one of its own", () => {
    const packed = new PackedNumbers(16);
    const runs = [3, 10, 16, 40, 1, 0, 15].map((n, r) => {
      const at = packed.reserve(n);
      const chunk = packed.chunkOf(at);
      const from = packed.offsetOf(at);
      expect(from + n).toBeLessThanOrEqual(chunk.length);
      for (let j = 0; j < n; j++) chunk[from + j] = r * 100 + j + 0.5;
      return { at, n, r };
    });
    for (const { at, n, r } of runs) {
      const chunk = packed.chunkOf(at);
      const from = packed.offsetOf(at);
      expect(Array.from(chunk.subarray(from, from + n))).toEqual(Array.from({ length: n }, (_, j) => r * 100 + j + 0.5));
    }
  });
});
