/**
 * How wide text is on a terminal, and how to cut it to a width: per user-perceived character
 * (grapheme cluster), so that an emoji, a CJK character, a base letter with its combining marks
 * or a ZWJ sequence is counted as the cells a terminal gives it and is never split.
 *
 * Widths follow what wcwidth-based terminals (xterm, tmux, VTE, iTerm2, Windows Terminal) do:
 * East Asian Wide and Fullwidth characters and emoji shown as emoji take 2 cells; combining
 * marks, zero-width and other default-ignorable characters 0; everything else 1. A cluster is as
 * wide as its widest part (an emoji ZWJ sequence is one emoji: 2). Text reaching these functions
 * has been made printable first (no control characters).
 */

/** East Asian Wide (W) and Fullwidth (F) ranges outside the emoji that `\p{Emoji_Presentation}` covers. */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], // Hangul Jamo leading consonants
  [0x2329, 0x232a], // angle brackets
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK strokes, enclosed, compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x16fe4], // ideographic symbols
  [0x17000, 0x18cff], // Tangut, Khitan
  [0x1aff0, 0x1b2ff], // Kana supplement and extensions, Nushu
  [0x1f200, 0x1f2ff], // enclosed ideographic supplement
  [0x20000, 0x2fffd], // CJK extensions B..F, compatibility supplement
  [0x30000, 0x3fffd], // CJK extensions G..
];

function isWide(cp: number): boolean {
  if (cp < 0x1100) return false;
  for (const [lo, hi] of WIDE) {
    if (cp < lo) return false;
    if (cp <= hi) return true;
  }
  return false;
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Default_Ignorable_Code_Point}]$/u;
const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u;
const PICTOGRAPHIC = /\p{Extended_Pictographic}/u;
const REGIONAL_INDICATOR = /\p{Regional_Indicator}/u;
/**
 * What can join code points into one cluster: combining marks, ZWJ, variation selectors,
 * regional indicators, skin-tone modifiers, Hangul Jamo, emoji tags, prepended marks. Text
 * without any is one cluster per code point and is measured without the segmenter (which costs
 * microseconds a string: a million rows of CJK names would take seconds).
 */
const CLUSTERING = /[\p{M}\p{Regional_Indicator}\u{1f3fb}-\u{1f3ff}\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\u{e0020}-\u{e007f}\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u{110bd}\u{110cd}]|\u200d|\p{Variation_Selector}/u;

/** Cells of one code point that is a cluster by itself. */
function codePointWidth(cp: number): number {
  if (cp < 0x300) return 1;
  if (isWide(cp)) return 2;
  const ch = String.fromCodePoint(cp);
  if (cp >= 0x231a && EMOJI_PRESENTATION.test(ch)) return 2;
  return ZERO_WIDTH.test(ch) ? 0 : 1;
}

/** Cells of one grapheme cluster. */
function clusterWidth(cluster: string): number {
  const first = cluster.codePointAt(0)!;
  if (cluster.length === (first > 0xffff ? 2 : 1)) return codePointWidth(first);
  // An emoji shown as an emoji: by default (😀), asked for by VS16 (❤️), a flag, a ZWJ sequence.
  if (EMOJI_PRESENTATION.test(cluster) || REGIONAL_INDICATOR.test(cluster)) return 2;
  if (cluster.includes("\ufe0f") && PICTOGRAPHIC.test(cluster)) return 2;
  let width = 0;
  for (const ch of cluster) {
    const w = codePointWidth(ch.codePointAt(0)!);
    if (w > width) width = w;
  }
  return width;
}

/** Whether `text` is printable ASCII only, where a character is a cell (the common case, kept fast). */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

let segmenter: Intl.Segmenter | undefined;

/**
 * The grapheme segmenter, made on first use: its first construction loads ICU's break rules
 * (about 10 ms), which a command whose output is all ASCII, or JSON, never pays. A memo of an
 * immutable, locale-independent object, not state anyone observes.
 */
function graphemes(): Intl.Segmenter {
  segmenter ??= new Intl.Segmenter("en", { granularity: "grapheme" });
  return segmenter;
}

/** Each cluster of `text` with where it starts, one per code point when nothing joins them. */
function* clusters(text: string): Generator<{ segment: string; index: number }> {
  if (CLUSTERING.test(text)) {
    yield* graphemes().segment(text);
    return;
  }
  let index = 0;
  for (const segment of text) {
    yield { segment, index };
    index += segment.length;
  }
}

/** The cells `text` takes on a terminal. */
export function displayWidth(text: string): number {
  if (isAscii(text)) return text.length;
  let width = 0;
  if (!CLUSTERING.test(text)) {
    for (const ch of text) width += codePointWidth(ch.codePointAt(0)!);
    return width;
  }
  for (const { segment } of graphemes().segment(text)) width += clusterWidth(segment);
  return width;
}

/** A number in text, which a cut must not split: `18.09`, `5e-4`, `1,024`. */
const NUMBER_IN_TEXT = /\d+(?:[.,]\d+)*(?:[eE][+-]?\d+)?/g;

/** The ellipsis that ends cut text (one cell). */
export const ELLIPSIS = "…";

/**
 * `text` cut to at most `width` cells: as many whole characters as fit before an ellipsis, never
 * splitting a grapheme cluster (an emoji, a letter and its marks), never splitting a number
 * (`lr5e-4` is cut before `5e-4`, not inside it), trailing spaces before the ellipsis dropped.
 * Text that fits is returned as it is. `width` below 1 is taken as 1 (the ellipsis alone).
 */
export function cutToWidth(text: string, width: number): string {
  const room = Math.max(1, width);
  const textWidth = displayWidth(text);
  if (textWidth <= room) return text;
  const budget = room - 1;
  let end = 0;
  if (isAscii(text)) end = budget;
  else {
    let used = 0;
    for (const { segment, index } of clusters(text)) {
      const w = clusterWidth(segment);
      if (used + w > budget) break;
      used += w;
      end = index + segment.length;
    }
  }
  for (const m of text.matchAll(NUMBER_IN_TEXT)) {
    if (m.index >= end) break;
    if (m.index < end && end < m.index + m[0].length) {
      end = m.index;
      break;
    }
  }
  return `${text.slice(0, end).trimEnd()}${ELLIPSIS}`;
}

/** `text` padded with spaces to `width` cells, on the right (`left` align) or on the left. */
export function padToWidth(text: string, width: number, align: "left" | "right" = "left"): string {
  const w = displayWidth(text);
  if (w >= width) return text;
  const pad = " ".repeat(width - w);
  return align === "right" ? pad + text : text + pad;
}
