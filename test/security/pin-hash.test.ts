import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExpflowError, UsageError } from "../../src/core/errors.js";
import type { ParsedPinHash } from "../../src/security/pin-hash.js";
import { assertValidPin, hashPin, isValidPin, isWeakerThanDefault, parsePinHash, PIN_MAX_DIGITS, PIN_MIN_DIGITS, PIN_RULE, pinMatches, SCRYPT_DEFAULTS } from "../../src/security/pin-hash.js";
import { FAST, legacyHash, rejectionOf, thrownBy } from "./helpers.js";

const RULE = /4 to 12 ASCII digits/;
const ASCII_DIGIT = /^[0-9]$/;

/** base64 without padding, as the stored format writes it. */
const b64 = (b: Buffer): string => b.toString("base64").replace(/=+$/, "");
const SALT = b64(randomBytes(16));
const KEY = b64(randomBytes(32));
const scryptText = (ln: number | string, r: number | string, p: number | string, salt = SALT, key = KEY): string => `$scrypt$ln=${ln},r=${r},p=${p}$${salt}$${key}`;

describe("PIN format", () => {
  it.each(["0000", "1234", "9999", "0420", "7305"])("accepts 4 ASCII digits: %s", (pin) => {
    expect(isValidPin(pin)).toBe(true);
    expect(() => assertValidPin(pin)).not.toThrow();
  });

  it.each(["12345", "000000", "1234567", "98765432", "012345678", "1234567890", "00000000000", "123456789012"])(
    "accepts longer PINs up to 12 ASCII digits (4-digit PINs only were accepted before): %s",
    (pin) => {
      expect(isValidPin(pin)).toBe(true);
      expect(() => assertValidPin(pin)).not.toThrow();
    },
  );

  it("the rule is 4 to 12 digits, and the message states exactly that", () => {
    expect([PIN_MIN_DIGITS, PIN_MAX_DIGITS]).toEqual([4, 12]);
    expect(PIN_RULE).toBe("a PIN is 4 to 12 ASCII digits (0-9)");
    expect((thrownBy(() => assertValidPin("123")) as Error).message).toBe(`invalid PIN: ${PIN_RULE}`);
  });

  it.each([
    ["Arabic-Indic digits", "١٢٣٤"],
    ["fullwidth digits", "１２３４"],
    ["Devanagari digits", "१२३४"],
    ["superscript digits", "¹²³⁴"],
    ["3 digits", "123"],
    ["13 digits", "1234567890123"],
    ["20 digits", "12345678901234567890"],
    ["12 digits and a space", "123456789012 "],
    ["12 Arabic-Indic digits", "١٢٣٤١٢٣٤١٢٣٤"],
    ["empty", ""],
    ["inner space", "12 4"],
    ["leading space", " 1234"],
    ["trailing space", "1234 "],
    ["trailing newline", "1234\n"],
    ["trailing CRLF", "1234\r\n"],
    ["letters", "abcd"],
    ["digits with a letter", "12a4"],
    ["sign", "-123"],
    ["decimal", "12.4"],
    ["hex-looking", "0x12"],
    ["NUL inside", "12\u00004"],
  ])("rejects %s with UsageError E_PIN_FORMAT (exit 2) stating the rule", (_name, pin) => {
    expect(isValidPin(pin)).toBe(false);
    const e = thrownBy(() => assertValidPin(pin));
    expect(e).toBeInstanceOf(UsageError);
    expect(e).toBeInstanceOf(ExpflowError);
    expect(e).toMatchObject({ code: "E_PIN_FORMAT", exitCode: 2 });
    expect((e as Error).message).toMatch(RULE);
  });

  it("never echoes the rejected input in the error message", () => {
    for (const bad of ["987", "9876543210987", "98a65"]) {
      const e = thrownBy(() => assertValidPin(bad));
      expect((e as Error).message).not.toContain(bad);
    }
  });

  it("property: valid exactly when the string is 4 to 12 code units, each an ASCII digit", () => {
    const unit = fc.oneof(
      fc.constantFrom(..."0123456789".split("")),
      fc.constantFrom("١", "٢", "０", "９", "۴", "٤", " ", "\t", "\n", "a", "Z", "-", "+", "."),
      fc.string({ minLength: 1, maxLength: 1, unit: "binary" }),
    );
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 15 }), (parts) => {
        const s = parts.join("");
        const expected = s.length >= 4 && s.length <= 12 && [...s].every((c) => ASCII_DIGIT.test(c));
        expect(isValidPin(s)).toBe(expected);
        if (expected) expect(() => assertValidPin(s)).not.toThrow();
        else expect(() => assertValidPin(s)).toThrow(UsageError);
      }),
      { numRuns: 500 },
    );
    // Digits only, every length from 0 to 15: the boundaries themselves.
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{0,15}$/), (s) => {
        expect(isValidPin(s)).toBe(s.length >= 4 && s.length <= 12);
      }),
      { numRuns: 300, examples: [["123"], ["1234"], ["123456789012"], ["1234567890123"]] },
    );
  });
});

describe("hashPin", () => {
  it("writes the self-describing scrypt format with the default parameters and never the PIN", async () => {
    const pin = "7305";
    const text = await hashPin(pin);
    expect(text).toMatch(/^\$scrypt\$ln=\d+,r=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(text.startsWith(`$scrypt$ln=${SCRYPT_DEFAULTS.ln},r=${SCRYPT_DEFAULTS.r},p=${SCRYPT_DEFAULTS.p}$`)).toBe(true);
    expect(text).not.toContain(pin);
    expect(text).not.toContain(legacyHash(pin));
    const parsed = parsePinHash(text);
    expect(parsed).toMatchObject({ format: "scrypt", ln: SCRYPT_DEFAULTS.ln, r: SCRYPT_DEFAULTS.r, p: SCRYPT_DEFAULTS.p });
    expect(parsed?.hash.length).toBe(32);
    if (parsed?.format === "scrypt") expect(parsed.salt.length).toBeGreaterThanOrEqual(16);
    await expect(pinMatches(pin, parsed!)).resolves.toBe(true);
    await expect(pinMatches("7306", parsed!)).resolves.toBe(false);
  });

  it("salts: two hashes of the same PIN differ (salt and hash), both verify", async () => {
    const [a, b] = await Promise.all([hashPin("4242", FAST), hashPin("4242", FAST)]);
    expect(a).not.toBe(b);
    const pa = parsePinHash(a)!;
    const pb = parsePinHash(b)!;
    if (pa.format !== "scrypt" || pb.format !== "scrypt") throw new Error("expected scrypt");
    expect(pa.salt.equals(pb.salt)).toBe(false);
    expect(pa.hash.equals(pb.hash)).toBe(false);
    await expect(pinMatches("4242", pa)).resolves.toBe(true);
    await expect(pinMatches("4242", pb)).resolves.toBe(true);
  });

  it("records the parameters it used, and parsePinHash reads them back", async () => {
    const text = await hashPin("1111", { ln: 5, r: 4, p: 2 });
    expect(text.startsWith("$scrypt$ln=5,r=4,p=2$")).toBe(true);
    expect(parsePinHash(text)).toMatchObject({ format: "scrypt", ln: 5, r: 4, p: 2 });
    await expect(pinMatches("1111", parsePinHash(text)!)).resolves.toBe(true);
  });

  it("refuses a malformed PIN with E_PIN_FORMAT", async () => {
    for (const bad of ["123", "1234567890123", "١٢٣٤", "１２３４", "abcd", " 123"]) {
      const e = await rejectionOf(hashPin(bad, FAST));
      expect(e).toBeInstanceOf(UsageError);
      expect(e).toMatchObject({ code: "E_PIN_FORMAT", exitCode: 2 });
    }
  });

  it("property: the right PIN matches, every other PIN of 4 to 12 digits does not", async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[0-9]{4,12}$/), fc.stringMatching(/^[0-9]{4,12}$/), async (pin, other) => {
        const parsed = parsePinHash(await hashPin(pin, FAST))!;
        expect(await pinMatches(pin, parsed)).toBe(true);
        expect(await pinMatches(other, parsed)).toBe(other === pin);
      }),
      { numRuns: 40 },
    );
  });
});

describe("parsePinHash", () => {
  it("reads a legacy hash: 64 hex characters (any case), surrounding whitespace ignored", async () => {
    const hex = legacyHash("2580");
    for (const text of [hex, hex.toUpperCase(), `  ${hex}\n`]) {
      const parsed = parsePinHash(text);
      expect(parsed).toMatchObject({ format: "sha256-legacy" });
      expect(parsed?.hash.toString("hex")).toBe(hex);
      await expect(pinMatches("2580", parsed!)).resolves.toBe(true);
      await expect(pinMatches("2581", parsed!)).resolves.toBe(false);
    }
  });

  it.each([
    ["empty", ""],
    ["the PIN itself", "1234"],
    ["63 hex", "a".repeat(63)],
    ["65 hex", "a".repeat(65)],
    ["64 non-hex", "g".repeat(64)],
    ["bcrypt", "$2b$12$abcdefghijklmnopqrstuuJ8u0a1Q2s3D4f5G6h7J8k9L0zXcVbN"],
    ["unknown scheme", `$argon2$ln=14,r=8,p=1$${SALT}$${KEY}`],
    ["missing param", `$scrypt$ln=14,r=8$${SALT}$${KEY}`],
    ["params out of order", `$scrypt$r=8,ln=14,p=1$${SALT}$${KEY}`],
    ["padding kept", `$scrypt$ln=14,r=8,p=1$${SALT}==$${KEY}`],
    ["salt too short", scryptText(14, 8, 1, b64(randomBytes(4)))],
    ["key too short", scryptText(14, 8, 1, SALT, b64(randomBytes(16)))],
    ["key too long", scryptText(14, 8, 1, SALT, b64(randomBytes(64)))],
    ["negative ln", scryptText("-1", 8, 1)],
    ["fractional r", scryptText(14, "8.5", 1)],
    ["trailing junk", `${scryptText(14, 8, 1)}$x`],
  ])("returns undefined for %s", (_name, text) => {
    expect(parsePinHash(text)).toBeUndefined();
  });

  it.each([
    ["ln=0", 0, 8, 1],
    ["r=0", 14, 0, 1],
    ["p=0", 14, 8, 0],
    ["ln=21", 21, 8, 1],
    ["ln=64", 64, 8, 1],
    ["ln=99", 99, 8, 1],
    ["r=33", 14, 33, 1],
    ["r=99", 14, 99, 1],
    ["p=17", 14, 8, 17],
    ["p=99", 14, 8, 99],
    ["ln=999999", 999999, 8, 1],
    ["r=1000000", 14, 1000000, 1],
  ])("rejects crafted parameters out of bounds (%s), so a file cannot make verification hang", (_name, ln, r, p) => {
    expect(parsePinHash(scryptText(ln, r, p))).toBeUndefined();
  });

  it("accepts in-bounds parameters and reads back salt and key bytes exactly", () => {
    const salt = randomBytes(16);
    const key = randomBytes(32);
    const parsed = parsePinHash(scryptText(10, 8, 1, b64(salt), b64(key)));
    expect(parsed).toEqual({ format: "scrypt", ln: 10, r: 8, p: 1, salt, hash: key });
  });

  it("property: any parameters it accepts keep one verification bounded (at most 128 times the default work, 1 GiB of memory)", () => {
    // The point of the bounds is that a crafted hash cannot make verification hang. A verification
    // at the defaults takes tens of milliseconds; the budget allows 128 times that work (N·r·p:
    // seconds, not minutes) and 1 GiB of scrypt memory (128·N·r bytes), room for stronger defaults.
    // Nothing here runs scrypt: only the parser's verdict is checked against the budget.
    const defaultWork = 2 ** SCRYPT_DEFAULTS.ln * SCRYPT_DEFAULTS.r * SCRYPT_DEFAULTS.p;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), (ln, r, p) => {
        const parsed = parsePinHash(scryptText(ln, r, p));
        if (parsed?.format !== "scrypt") return;
        const N = 2 ** parsed.ln;
        expect(N * parsed.r * parsed.p, `ln=${ln},r=${r},p=${p}: work`).toBeLessThanOrEqual(128 * defaultWork);
        expect(128 * N * parsed.r, `ln=${ln},r=${r},p=${p}: memory`).toBeLessThanOrEqual(2 ** 30);
      }),
      { numRuns: 2000, examples: [[20, 32, 16], [20, 8, 1], [17, 8, 1]] },
    );
  });
});

describe("pinMatches", () => {
  it("never matches a malformed PIN, even against a legacy hash of that very string", async () => {
    for (const bad of ["123", "1234567890123", "١٢٣٤", "abcd"]) {
      await expect(pinMatches(bad, parsePinHash(legacyHash(bad))!)).resolves.toBe(false);
    }
  });

  it("never matches a malformed PIN against a scrypt hash", async () => {
    const parsed = parsePinHash(await hashPin("1234", FAST))!;
    for (const bad of ["1234 ", " 1234", "1234\n", "１２３４", "12345", "12340000000000"]) {
      await expect(pinMatches(bad, parsed)).resolves.toBe(false);
    }
  });
});

describe("isWeakerThanDefault: which stored hashes are upgraded", () => {
  const scrypt = (ln: number, r: number, p: number): ParsedPinHash => ({ format: "scrypt", ln, r, p, salt: randomBytes(16), hash: randomBytes(32) });

  it("the default cost is scrypt ln=16, r=8, p=1 (it was ln=14, r=12 before)", () => {
    expect(SCRYPT_DEFAULTS).toEqual({ ln: 16, r: 8, p: 1 });
  });

  it("a legacy SHA-256 hash is always weaker, whatever the target", () => {
    const legacy = parsePinHash(legacyHash("1234"))!;
    expect(isWeakerThanDefault(legacy)).toBe(true);
    expect(isWeakerThanDefault(legacy, FAST)).toBe(true);
    expect(isWeakerThanDefault(legacy, { ln: 1, r: 1, p: 1 })).toBe(true);
  });

  it("against the default: the earlier default (ln=14, r=12) and cheaper costs are weaker; the default and stronger ones are not", () => {
    expect(isWeakerThanDefault(scrypt(14, 12, 1))).toBe(true);
    expect(isWeakerThanDefault(scrypt(15, 8, 1))).toBe(true);
    expect(isWeakerThanDefault(scrypt(16, 4, 2))).toBe(true); // the same work, half the memory
    expect(isWeakerThanDefault(scrypt(16, 8, 1))).toBe(false);
    expect(isWeakerThanDefault(scrypt(17, 8, 1))).toBe(false);
    expect(isWeakerThanDefault(scrypt(16, 8, 2))).toBe(false);
  });

  it("against an explicit target (a test's cheap cost): below it weaker, at or above it not", () => {
    expect(isWeakerThanDefault(scrypt(3, 8, 1), FAST)).toBe(true);
    expect(isWeakerThanDefault(scrypt(4, 4, 1), FAST)).toBe(true);
    expect(isWeakerThanDefault(scrypt(4, 8, 1), FAST)).toBe(false);
    expect(isWeakerThanDefault(scrypt(10, 8, 1), FAST)).toBe(false);
  });

  it("property: weaker exactly when the work (N·r·p) or the memory (N·r) is below the target's", () => {
    const params = fc.record({ ln: fc.integer({ min: 1, max: 20 }), r: fc.integer({ min: 1, max: 32 }), p: fc.integer({ min: 1, max: 16 }) });
    fc.assert(
      fc.property(params, params, (s, t) => {
        const work = (h: typeof s): number => 2 ** h.ln * h.r * h.p;
        const memory = (h: typeof s): number => 2 ** h.ln * h.r;
        expect(isWeakerThanDefault(scrypt(s.ln, s.r, s.p), t)).toBe(work(s) < work(t) || memory(s) < memory(t));
        // Never weaker than itself: an upgrade at the same cost would rewrite the file at every check.
        expect(isWeakerThanDefault(scrypt(t.ln, t.r, t.p), t)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
