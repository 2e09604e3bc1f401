import { UsageError } from "../../core/errors.js";
import { didYouMean } from "../../core/suggest.js";
import type { Column } from "./render.js";

/** The key `--columns` names a column by: its CSV header (`key`), else its header. */
export function columnKey<T>(col: Column<T>): string {
  return col.key ?? col.header;
}

/** What else `--columns` may name besides a listing's own columns: `metric columns`, and how to make one. */
export interface ColumnSource<T> {
  /** How the error's hint says what else may be named: `any metric a run reports or that is registered`. */
  readonly describe: string;
  /** The column for `key`, or `undefined` when it names nothing. */
  readonly make: (key: string) => Column<T> | undefined;
}

/**
 * The columns `--columns` chose (`keys` as given, blanks already dropped), in that order: each a
 * column of `columns` by its {@link columnKey}, or one `more` makes (a metric), each once (a key
 * given twice is shown once, where it first appears). `undefined` keys: `columns` as they are.
 *
 * @throws {UsageError} `E_USAGE` (exit 2) when `keys` is empty (`--columns ''` or `,`), or names
 *   a column there is not, with the nearest key and the list of them.
 */
export function chooseColumns<T>(command: string, columns: readonly Column<T>[], keys: readonly string[] | undefined, more?: ColumnSource<T>): Column<T>[] {
  if (keys === undefined) return [...columns];
  const known = columns.map(columnKey);
  const valid = `the columns of ${command}: ${known.join(", ")}${more === undefined ? "" : `; or ${more.describe}`}`;
  if (keys.length === 0) throw new UsageError("E_USAGE", "--columns names no column", { hint: valid });
  const chosen: Column<T>[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) continue;
    seen.add(key);
    const col = columns.find((c) => columnKey(c) === key) ?? more?.make(key);
    if (col === undefined) throw new UsageError("E_USAGE", `unknown column '${key}' in --columns.${didYouMean(key, known)}`, { hint: valid });
    chosen.push(col);
  }
  return chosen;
}
