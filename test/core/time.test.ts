import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCanonicalTimestamp, parseCanonicalTimestampBytes, parseTimestamp } from "../../src/core/time.js";

const pad = (n: number, w: number): string => String(n).padStart(w, "0");

describe("parseTimestamp", () => {
  it("is Date.parse for timestamps of the usual form, fields in range or not", () => {
    // Out-of-range fields (month 13, hour 24, day 31 of a short month) must give what Date.parse gives, not a normalised date.
    const field = (max: number, w: number) => fc.integer({ min: 0, max }).map((n) => pad(n, w));
    const iso = fc
      .tuple(field(9999, 4), field(13, 2), field(32, 2), field(25, 2), field(60, 2), field(61, 2), field(999, 3))
      .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
    fc.assert(
      fc.property(iso, (t) => {
        expect(parseTimestamp(t)).toBe(Date.parse(t));
      }),
      { numRuns: 3000 },
    );
  });

  it("parseCanonicalTimestamp reads only texts that toISOString gives back exactly", () => {
    const field = (max: number, w: number) => fc.integer({ min: 0, max }).map((n) => pad(n, w));
    const iso = fc
      .tuple(field(9999, 4), field(13, 2), field(32, 2), field(25, 2), field(60, 2), field(61, 2), field(999, 3))
      .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
    let read = 0;
    fc.assert(
      fc.property(fc.oneof(iso, fc.string({ maxLength: 26 })), (t) => {
        const ms = parseCanonicalTimestamp(t);
        // Of its bytes, within others, the same (a text outside ASCII is never of the form).
        const bytes = Buffer.from(`"${t}"`, "latin1");
        expect(Object.is(parseCanonicalTimestampBytes(bytes, 1, bytes.length - 1), /^[\x20-\x7e]*$/.test(t) ? ms : Number.NaN)).toBe(true);
        if (Number.isNaN(ms)) return;
        read++;
        expect(new Date(ms).toISOString()).toBe(t);
        expect(ms).toBe(Date.parse(t));
      }),
      { numRuns: 3000 },
    );
    expect(read).toBeGreaterThan(100);
    expect(parseCanonicalTimestamp("2025-01-01T08:02:09Z")).toBeNaN();
  });

  it("is Date.parse for anything else: other forms, junk, near misses", () => {
    const near = fc.constantFrom("2025-01-01T08:02:09.689Z", "2025-01-01T08:02:09Z", "2025-01-01", "2025-01-01T08:02:09.689+02:00", "2025-02-29T00:00:00.000Z", "2024-02-29T00:00:00.000Z", "1969-12-31T23:59:59.999Z", "+02025-01-01T00:00:00.000Z");
    const mutated = fc.tuple(near, fc.nat(23), fc.string({ maxLength: 1 })).map(([t, i, c]) => t.slice(0, i) + c + t.slice(i + 1));
    fc.assert(
      fc.property(fc.oneof(near, mutated, fc.string({ maxLength: 26 })), (t) => {
        expect(parseTimestamp(t)).toBe(Date.parse(t));
      }),
      { numRuns: 3000 },
    );
  });
});
