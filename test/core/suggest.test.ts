import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { didYouMean, editDistance, nearest } from "../../src/core/suggest.js";

describe("editDistance", () => {
  it("is 0 for equal strings and the other length against an empty string", () => {
    expect(editDistance("pde_mean", "pde_mean")).toBe(0);
    expect(editDistance("", "")).toBe(0);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("abcd", "")).toBe(4);
  });

  it("counts one insertion, deletion or substitution as 1", () => {
    expect(editDistance("seg_totl", "seg_total")).toBe(1); // insertion
    expect(editDistance("seg_totall", "seg_total")).toBe(1); // deletion
    expect(editDistance("seg_tatal", "seg_total")).toBe(1); // substitution
  });

  it("counts an adjacent transposition as 1, not 2", () => {
    expect(editDistance("ab", "ba")).toBe(1);
    expect(editDistance("pde_maen", "pde_mean")).toBe(1);
    expect(editDistance("sge1", "seg1")).toBe(1);
  });

  it("matches known Levenshtein distances where no transposition helps", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("flaw", "lawn")).toBe(2);
    expect(editDistance("abc", "xyz")).toBe(3);
  });

  it("is case-sensitive (nearest is the case-insensitive one)", () => {
    expect(editDistance("ABC", "abc")).toBe(3);
  });

  it("is symmetric, zero only on equal strings, and bounded by the lengths", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const d = editDistance(a, b);
        expect(d).toBe(editDistance(b, a));
        expect(d === 0).toBe(a === b);
        expect(d).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
    );
  });

  it("is 1 for any single adjacent swap of two distinct characters", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 2, maxLength: 12, unit: "grapheme-ascii" }),
        fc.nat(),
        (s, seed) => {
          const i = seed % (s.length - 1);
          fc.pre(s[i] !== s[i + 1]);
          const swapped = s.slice(0, i) + s[i + 1]! + s[i]! + s.slice(i + 2);
          expect(editDistance(s, swapped)).toBe(1);
        },
      ),
    );
  });
});

describe("nearest", () => {
  const metrics = ["seg_total", "seg1", "seg2", "pde_mean", "train_time_min", "val_mse"];

  it("returns the closest candidate for a typo", () => {
    expect(nearest("seg_totl", metrics)).toBe("seg_total");
    expect(nearest("pde_maen", metrics)).toBe("pde_mean");
    expect(nearest("val_mes", metrics)).toBe("val_mse");
  });

  it("ignores case", () => {
    expect(nearest("SEG_TOTL", metrics)).toBe("seg_total");
    expect(nearest("pde_mean", ["PDE_MEAN"])).toBe("PDE_MEAN");
  });

  it("returns undefined for strings far from every candidate", () => {
    expect(nearest("completely_unrelated", metrics)).toBeUndefined();
    expect(nearest("xyzzy", metrics)).toBeUndefined();
    expect(nearest("accuracy", metrics)).toBeUndefined();
  });

  it("returns undefined when there are no candidates", () => {
    expect(nearest("seg_total", [])).toBeUndefined();
  });

  it("accepts a candidate containing the input even beyond the edit limit", () => {
    // 4 edits away, more than the limit of 3 for a 10-character input, but a prefix.
    expect(nearest("train_time", ["train_time_min", "val_mse"])).toBe("train_time_min");
  });

  it("prefers the smaller distance, then the alphabetically first candidate", () => {
    expect(nearest("seg3", ["seg_total", "seg1", "seg3"])).toBe("seg3");
    expect(nearest("segX", ["seg2", "seg1"])).toBe("seg1");
  });
});

describe("didYouMean", () => {
  it("formats a suggestion when one is close, else the empty string", () => {
    expect(didYouMean("seg_totl", ["seg_total"])).toBe(" Did you mean 'seg_total'?");
    expect(didYouMean("xyzzy", ["seg_total"])).toBe("");
  });
});
