/**
 * ClearML's list filters (`tags`, `system_tags`, `status`, `id`, `project`, `parent`, ...), as the
 * real server parses them (apiserver/database/model/base.py, NewListFieldBucketHelper and
 * get_list_field_query).
 */
import { apiError } from "./errors.js";

/** A parsed list filter: the conditions and how they combine. */
export interface ListFilter {
  /** How the condition groups combine: set by the FIRST `__$` operator, else AND. */
  global: "and" | "or";
  /** Values of which at least one must be present (`$in`). */
  anyOf: string[];
  /** Values that must all be present (`$all`, after `__$all`/`__$and`). */
  allOf: string[];
  /** Values that must all be absent (`$nin`: `-x` before any operator, or `__$not x`). */
  noneOf: string[];
  /** A `null` element: an empty or missing list matches too. */
  allowEmpty: boolean;
}

const OPERATORS: Readonly<Record<string, "and" | "or">> = { "__$all": "and", "__$and": "and", "__$any": "or", "__$or": "or" };

/**
 * Parses a list filter as the server does. Plain elements go to `$in` (OR); after `__$all` (or
 * `__$and`) to `$all`; `__$any` (`__$or`) switches back; `__$nop` resets the context; `__$not x`
 * excludes x; a leading `-` excludes only until the first operator (after any `__$` operator a
 * `-x` is the literal value `-x`); `null` matches empty lists.
 *
 * @throws {ApiError} 400/16 for an unknown `__$` operator, a value that is not a string, an
 * operator where a value is expected, or a bare `-` (as the server).
 */
export function parseListFilter(field: string, data: readonly unknown[]): ListFilter {
  const f: ListFilter = { global: "and", anyOf: [], allOf: [], noneOf: [], allowEmpty: false };
  let global: "and" | "or" | undefined;
  let context: "and" | "or" = "or";
  let legacy = true;
  let not = false;
  for (const value of data) {
    if (value === null) {
      not = false;
      global ??= "and";
      f.allowEmpty = true;
      continue;
    }
    if (typeof value !== "string") throw apiError("fields_value_error", "invalid value type, string expected", { field, value: String(value as string) });
    if (value === "__$nop") {
      not = false;
      global ??= "and";
      context = "or";
      legacy = true;
      continue;
    }
    if (value.startsWith("__$")) {
      if (not) throw apiError("fields_value_error", "Value is expected after", { field, operator: "__$not" });
      if (value === "__$not") {
        not = true;
        continue;
      }
      const op = OPERATORS[value];
      if (op === undefined) throw apiError("fields_value_error", "Unsupported operator", { field, operator: value });
      context = op;
      legacy = false;
      global ??= op;
      continue;
    }
    global ??= "and";
    let include = true;
    let v = value;
    if (not) {
      include = false;
      not = false;
    } else if (legacy && v.startsWith("-")) {
      v = v.slice(1);
      if (v === "") throw apiError("fields_value_error", "Missing value after the exclude prefix -", { field, value });
      include = false;
    }
    if (!include) f.noneOf.push(v);
    else if (context === "and") f.allOf.push(v);
    else f.anyOf.push(v);
  }
  if (not) throw apiError("fields_value_error", "Value is expected after", { operator: "__$not" });
  f.global = global ?? "and";
  return f;
}

/** Whether a document whose field holds `values` (a scalar field: one value; missing: none) passes `f`. */
export function matchesParsedFilter(values: readonly string[], f: ListFilter): boolean {
  const conditions: boolean[] = [];
  if (f.anyOf.length > 0) conditions.push(f.anyOf.some((x) => values.includes(x)));
  if (f.allOf.length > 0) conditions.push(f.allOf.every((x) => values.includes(x)));
  if (f.noneOf.length > 0) conditions.push(!f.noneOf.some((x) => values.includes(x)));
  const result = conditions.length === 0 ? true : f.global === "and" ? conditions.every(Boolean) : conditions.some(Boolean);
  // A null element ORs "empty or missing" onto the query.
  return result || (f.allowEmpty && values.length === 0);
}

/**
 * ClearML's list filter: plain elements are OR'ed; after `__$all` they are AND'ed (until
 * `__$any`); `-x` (before any operator) or `__$not x` excludes x. See {@link parseListFilter}.
 *
 * @throws {ApiError} 400/16 as {@link parseListFilter}.
 */
export function matchesListFilter(values: readonly string[], filter: readonly unknown[], field = "field"): boolean {
  return matchesParsedFilter(values, parseListFilter(field, filter));
}
