import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { UsageError } from "../core/errors.js";

/**
 * The scrypt cost of new hashes: log2 N = 16, r = 8, p = 1: 64 MiB and about 120 ms a
 * verification on the project machines (2-core EPYC; up to about 200 ms loaded), inside the
 * 100-250 ms target, so that guessing offline from a copied `pin.hash` costs that much per PIN.
 * `npm run bench` measures it.
 */
export const SCRYPT_DEFAULTS = Object.freeze({ ln: 16, r: 8, p: 1 });
const KEY_BYTES = 32;
const SALT_BYTES = 16;
// Bounds on parameters read from a file, so a crafted hash cannot make verification hang.
const MAX = { ln: 20, r: 32, p: 16 };

/** The stored hash formats. */
export type PinHashFormat = "scrypt" | "sha256-legacy";

/** A parsed stored hash. */
export type ParsedPinHash =
  | { format: "scrypt"; ln: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { format: "sha256-legacy"; hash: Buffer };

/** The shortest and longest PIN accepted. */
export const PIN_MIN_DIGITS = 4;
export const PIN_MAX_DIGITS = 12;
/** The rule, as messages state it. */
export const PIN_RULE = `a PIN is ${PIN_MIN_DIGITS} to ${PIN_MAX_DIGITS} ASCII digits (0-9)`;

/** Whether `pin` is 4 to 12 ASCII digits (Unicode digits such as `١٢٣٤` are not). */
export function isValidPin(pin: string): boolean {
  return /^[0-9]{4,12}$/.test(pin);
}

/**
 * @throws {UsageError} `E_PIN_FORMAT` stating the rule when `pin` is not 4 to 12 ASCII digits.
 */
export function assertValidPin(pin: string): void {
  if (!isValidPin(pin)) throw new UsageError("E_PIN_FORMAT", `invalid PIN: ${PIN_RULE}`);
}

function scryptAsync(pin: string, salt: Buffer, ln: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** ln;
  return new Promise((resolve, reject) => {
    scrypt(pin, salt, KEY_BYTES, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const b64 = (b: Buffer): string => b.toString("base64").replace(/=+$/, "");

/**
 * Hashes a PIN into the self-describing format
 * `$scrypt$ln=14,r=12,p=1$<salt, base64>$<hash, base64>` with a fresh random salt.
 *
 * @throws {UsageError} `E_PIN_FORMAT` when `pin` is not 4 to 12 ASCII digits.
 */
export async function hashPin(pin: string, params: { ln: number; r: number; p: number } = SCRYPT_DEFAULTS): Promise<string> {
  assertValidPin(pin);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(pin, salt, params.ln, params.r, params.p);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`;
}

/**
 * Parses a stored hash: the scrypt format, or 64 hex characters (the earlier tool's unsalted
 * SHA-256 of the PIN). Returns `undefined` for anything else.
 */
export function parsePinHash(text: string): ParsedPinHash | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return { format: "sha256-legacy", hash: Buffer.from(t, "hex") };
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(t);
  if (m === null) return undefined;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < 1 || ln > MAX.ln || r < 1 || r > MAX.r || p < 1 || p > MAX.p) return undefined;
  // Each bound alone still allows thousands of times the default work: bound the product too
  // (at most 128x the default's work and 1 GiB), so a crafted file cannot make checks hang.
  if (2 ** ln * r * p > 2 ** 24 || 128 * 2 ** ln * r > 2 ** 30) return undefined;
  const salt = Buffer.from(m[4]!, "base64");
  const hash = Buffer.from(m[5]!, "base64");
  if (salt.length < 8 || hash.length !== KEY_BYTES) return undefined;
  return { format: "scrypt", ln, r, p, salt, hash };
}

/**
 * Whether `pin` matches the parsed hash, compared in constant time. A PIN that is not 4 to 12
 * ASCII digits never matches (and is still run through the hash, so timing does not tell).
 */
export async function pinMatches(pin: string, stored: ParsedPinHash): Promise<boolean> {
  const valid = isValidPin(pin);
  let candidate: Buffer;
  if (stored.format === "sha256-legacy") {
    candidate = createHash("sha256").update(pin, "utf8").digest();
  } else {
    candidate = await scryptAsync(pin, stored.salt, stored.ln, stored.r, stored.p);
  }
  return timingSafeEqual(candidate, stored.hash) && valid;
}

/**
 * Whether a stored hash is weaker than `target` (default: what {@link hashPin} writes today (the earlier tool's
 * SHA-256, or scrypt with less work or memory), so that it should be
 * replaced after the next successful verification.
 */
export function isWeakerThanDefault(stored: ParsedPinHash, target: { ln: number; r: number; p: number } = SCRYPT_DEFAULTS): boolean {
  if (stored.format === "sha256-legacy") return true;
  const work = (h: { ln: number; r: number; p: number }): number => 2 ** h.ln * h.r * h.p;
  const memory = (h: { ln: number; r: number }): number => 2 ** h.ln * h.r;
  return work(stored) < work(target) || memory(stored) < memory(target);
}

/**
 * How long trying every PIN of `digits` digits takes offline, one guess after another, at
 * `msPerGuess` each: the cost of guessing from a copied `pin.hash`, where no lockout applies.
 */
export function offlineGuessMs(digits: number, msPerGuess: number): number {
  return 10 ** digits * msPerGuess;
}
