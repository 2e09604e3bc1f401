import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case: no i, l, o, u

/**
 * A new experiment id: `exp-` and 12 base-32 characters (60 random bits). Collision-safe across
 * processes and machines without coordination (a million ids collide with odds near 1 in 2
 * million), short enough to type, and any unique prefix is accepted by the commands.
 */
export function newExperimentId(): string {
  const bytes = randomBytes(8);
  let n = bytes.readBigUInt64BE(0) >> 4n; // 60 bits
  let out = "";
  for (let i = 0; i < 12; i++) {
    out = ALPHABET[Number(n & 31n)]! + out;
    n >>= 5n;
  }
  return `exp-${out}`;
}
