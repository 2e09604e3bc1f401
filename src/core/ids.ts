import { UsageError } from "./errors.js";

/**
 * The one id rule of expflow, for experiment ids (registry records, flags) and ClearML task ids:
 * 1 to {@link MAX_ID_LENGTH} characters of `A-Z a-z 0-9 . _ -`, starting with a letter or a
 * digit, and no `..` anywhere. An id that passes is a single, safe file-name segment: no `/`,
 * no `\`, never `.` or `..`, never empty, never hidden, so `join(dir, id)` stays inside `dir`.
 * Ids are names, never paths: nothing builds a path from an id that has not passed this rule.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The longest id accepted, in characters (128). */
export const MAX_ID_LENGTH = 128;

/** Shows an untrusted id in a message: JSON-quoted (controls escaped, C1 too), cut to 60 characters. */
export function quoteId(id: string): string {
  const cut = id.length > 60 ? `${id.slice(0, 60)}...` : id;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Why `id` breaks the id rule, or `null` when it passes.
 *
 * @param id the candidate (any value: a record's field may hold anything).
 */
export function idProblem(id: unknown): string | null {
  if (typeof id !== "string") return "an id is text";
  if (id === "") return "an id is never empty";
  if (id.length > MAX_ID_LENGTH) return `an id is at most ${MAX_ID_LENGTH} characters (this one has ${id.length})`;
  if (!ID_PATTERN.test(id)) return "an id is letters, digits, '.', '_' and '-', starting with a letter or a digit";
  if (id.includes("..")) return "an id never holds '..'";
  return null;
}

/** `true` when `id` passes the id rule ({@link idProblem}). */
export function isValidId(id: unknown): id is string {
  return idProblem(id) === null;
}

/**
 * Checks an id (or a prefix of one) given by the user.
 *
 * @param what what the id is, for the message (`experiment id`, `ClearML task id`).
 * @returns `id`, unchanged.
 * @throws {UsageError} `E_BAD_ID` (exit 2) saying why.
 */
export function assertValidId(id: string, what = "experiment id"): string {
  const problem = idProblem(id);
  if (problem !== null) {
    throw new UsageError("E_BAD_ID", `not a valid ${what}: ${quoteId(id)}: ${problem}`, {
      hint: "ids are names (e.g. exp-1a2b3c4d5e6f), never paths; `expflow run list` shows them",
    });
  }
  return id;
}
