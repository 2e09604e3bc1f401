/**
 * The time of `text` when it is of the form {@link parseTimestamp} reads fast
 * (`2025-01-01T08:02:09.689Z`, fields in range, 1970 or later), else NaN. For such a text,
 * `new Date(ms).toISOString()` gives the text back exactly, so a reader may keep the number alone.
 */
export function parseCanonicalTimestamp(text: string): number {
  if (text.length !== 24) return Number.NaN;
  for (let i = 0; i < 24; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return Number.NaN;
    scratch[i] = c;
  }
  return parseCanonicalTimestampBytes(scratch, 0, 24);
}

/** The text's code units, for {@link parseCanonicalTimestampBytes}. */
const scratch = new Uint8Array(24);

/** {@link parseCanonicalTimestamp} of the text whose ASCII bytes are `b[start, end)`. */
export function parseCanonicalTimestampBytes(b: Uint8Array, start: number, end: number): number {
  if (end - start !== 24 || b[start + 23] !== 0x5a /* Z */) return Number.NaN;
  if (b[start + 4] !== 0x2d || b[start + 7] !== 0x2d || b[start + 10] !== 0x54 || b[start + 13] !== 0x3a || b[start + 16] !== 0x3a || b[start + 19] !== 0x2e) {
    return Number.NaN;
  }
  const year = digits(b, start, 4);
  const month = digits(b, start + 5, 2);
  const day = digits(b, start + 8, 2);
  const hour = digits(b, start + 11, 2);
  const minute = digits(b, start + 14, 2);
  const second = digits(b, start + 17, 2);
  const ms = digits(b, start + 20, 3);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 28 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) return Number.NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/**
 * `Date.parse(text)`, fast for the form expflow and ClearML write, `2025-01-01T08:02:09.689Z`
 * (UTC, milliseconds): read digit by digit, with every field in range. Anything else (no
 * milliseconds, an offset, a day past the 28th, which only the calendar can check, a year before
 * 1970) is left to `Date.parse`, so the result is always exactly `Date.parse(text)` (NaN included).
 */
export function parseTimestamp(text: string): number {
  const ms = parseCanonicalTimestamp(text);
  return Number.isNaN(ms) ? Date.parse(text) : ms;
}

/** The decimal number in `b[from, from + count)`, or -1 when one of them is not a digit. */
function digits(b: Uint8Array, from: number, count: number): number {
  let v = 0;
  for (let i = from; i < from + count; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
