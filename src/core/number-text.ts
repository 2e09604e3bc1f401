/**
 * A number for people: integers as they are, others with at most 4 decimals (trailing zeros
 * dropped), large or tiny magnitudes in exponent form. The terminal's tables and the HTML
 * report's page both show numbers this way. Pure.
 */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs >= 1e9 || abs < 1e-4)) return n.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(n.toFixed(4)));
}

/** `n word`, with an `s` unless `n` is 1: `1 run`, `3 runs`, `0 lines`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
