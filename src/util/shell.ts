const SAFE_WORD = /^[A-Za-z0-9_\-+=/.,:@%^]+$/;

/** Quotes one word for a POSIX shell (only when needed): `it's` -> `'it'\''s'`. */
export function shellQuote(word: string): string {
  if (SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
