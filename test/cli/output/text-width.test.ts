import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cutToWidth, displayWidth, ELLIPSIS, padToWidth } from "../../../src/cli/output/text-width.js";

/** Text as names come: ASCII, accents (composed and combining), CJK, Hangul, emoji (ZWJ, flags, skin tones), numbers. */
const PIECES = ["a", "Z", " ", "-", "_", "7", "3.14", "5e-4", "é", "e\u0301", "ñ", "漢", "字", "実験", "한", "ｶ", "Ａ", "😀", "👩‍🔬", "🇫🇷", "👍🏽", "❤️", "❤", "\u200b", "ä\u0308\u0323"];
const text = fc.array(fc.constantFrom(...PIECES), { maxLength: 20 }).map((parts) => parts.join(""));

describe("displayWidth: the cells a terminal gives text", () => {
  it.each([
    ["plain ASCII", "task1-fno", 9],
    ["CJK characters are 2 cells", "実験名", 6],
    ["Hangul syllables are 2", "한국", 4],
    ["fullwidth forms are 2", "ＡＢ", 4],
    ["halfwidth katakana is 1", "ｶﾀ", 2],
    ["a combining mark adds nothing", "e\u0301te\u0301", 3],
    ["precomposed accents are 1", "été", 3],
    ["an emoji is 2", "😀", 2],
    ["a ZWJ sequence is one emoji", "👩‍🔬", 2],
    ["a flag is one emoji", "🇫🇷", 2],
    ["a skin tone is part of its emoji", "👍🏽", 2],
    ["VS16 makes a text symbol an emoji", "❤️", 2],
    ["without VS16 it is text", "❤", 1],
    ["a zero-width space is 0", "a\u200bb", 2],
    ["the ellipsis is 1", ELLIPSIS, 1],
  ])("%s", (_what, s, cells) => {
    expect(displayWidth(s)).toBe(cells);
  });
});

describe("cutToWidth", () => {
  it("leaves text that fits as it is", () => {
    expect(cutToWidth("task1", 5)).toBe("task1");
    expect(cutToWidth("実験", 4)).toBe("実験");
  });

  it.each([
    ["ASCII", "task1-fno-ss2", 8, "task1-f…"],
    ["a wide character never straddles the edge", "実験名前", 5, "実験…"],
    ["an emoji is never split into halves of a surrogate pair", "😀😀😀", 4, "😀…"],
    ["a letter keeps its combining mark", "e\u0301e\u0301e\u0301", 2, "e\u0301…"],
    ["a ZWJ sequence stays whole or goes", "ab👩‍🔬cd", 4, "ab…"],
    ["a flag stays whole", "🇫🇷🇩🇪🇮🇹", 5, "🇫🇷🇩🇪…"],
    ["a number is cut before, never inside", "task3-fno-ss2-lr5e-4", 18, "task3-fno-ss2-lr…"],
    ["a decimal too", "pde_mean 20.1 not < 18.09", 12, "pde_mean…"],
    ["spaces before the ellipsis go", "pde_mean 20.1 not < 18.09", 16, "pde_mean 20.1 n…"],
    ["width 1 is the ellipsis alone", "abc", 1, "…"],
    ["width 0 is taken as 1", "abc", 0, "…"],
  ])("%s", (_what, s, width, cut) => {
    expect(cutToWidth(s, width)).toBe(cut);
  });

  it("never exceeds the width, keeps a prefix of whole characters, and ends in … only when it cut (property)", () => {
    const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 40 }), (s, width) => {
        const cut = cutToWidth(s, width);
        expect(displayWidth(cut)).toBeLessThanOrEqual(width);
        if (displayWidth(s) <= width) {
          expect(cut).toBe(s);
          return;
        }
        expect(cut.endsWith(ELLIPSIS)).toBe(true);
        const kept = cut.slice(0, -ELLIPSIS.length);
        expect(s.startsWith(kept)).toBe(true);
        // The kept text ends on a cluster boundary of the original.
        const boundaries = new Set([...segmenter.segment(s)].map((g) => g.index));
        if (kept.length > 0 && kept.length < s.length) expect(boundaries.has(kept.length) || /\s/.test(s[kept.length] ?? "")).toBe(true);
        expect(kept).not.toMatch(/[\ud800-\udbff]$/);
      }),
    );
  });
});

describe("padToWidth", () => {
  it("pads by cells, on either side", () => {
    expect(padToWidth("実験", 6)).toBe("実験  ");
    expect(padToWidth("7", 3, "right")).toBe("  7");
    expect(padToWidth("e\u0301", 2)).toBe("e\u0301 ");
    expect(padToWidth("toolong", 3)).toBe("toolong");
  });
});
