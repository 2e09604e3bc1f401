import { RE2JS } from "re2js";

/**
 * Rule-pack patterns, matched with RE2's semantics by re2js (the JavaScript port of RE2): time
 * linear in the text, never backtracking, so a pattern such as `(a+)+$` cannot hang an audit,
 * whatever key it meets. The syntax is RE2's (https://github.com/google/re2/wiki/Syntax):
 * what RE2 does not support is refused with its message, notably backreferences (`\1`) and
 * lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`). Matching ignores case, as rule patterns always
 * have; `^` and `$` are the start and end of the key. Pure.
 */

/** A pattern that cannot be compiled: the message says what (RE2's words). */
export class PatternSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatternSyntaxError";
  }
}

/** A compiled pattern. */
export interface Pattern {
  /** The pattern's text. */
  readonly source: string;
  /** Whether the pattern matches anywhere in `text` (as `RegExp.prototype.test`), in linear time. */
  test(text: string): boolean;
}

/** The longest pattern accepted, in characters. */
export const MAX_PATTERN_LENGTH = 1_000;
/** The largest repetition count (`{n,m}`): RE2's. */
export const MAX_REPEAT = 1_000;

/**
 * Compiles a rule-pack pattern (RE2 syntax). Matching ignores case.
 *
 * @throws {PatternSyntaxError} for a pattern RE2 refuses (a backreference, lookaround, a bad
 *   class or repetition, a repetition count over {@link MAX_REPEAT} or a pattern too large once
 *   repetitions expand) or one longer than {@link MAX_PATTERN_LENGTH}.
 */
export function compilePattern(source: string): Pattern {
  if (source.length > MAX_PATTERN_LENGTH) throw new PatternSyntaxError(`pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, RE2JS.CASE_INSENSITIVE);
  } catch (e) {
    const message = (e as Error).message.replace(/^error parsing regexp: /, "");
    // RE2's words for the two things people most often try, said plainly.
    const why = /\(\?<?[=!]/.test(source) ? `lookaround is not supported (RE2): ${message}` : /\\[1-9]/.test(source) && /escape/.test(message) ? `backreferences are not supported (RE2): ${message}` : message;
    throw new PatternSyntaxError(why);
  }
  return { source, test: (text) => re.matcher(text).find() };
}
