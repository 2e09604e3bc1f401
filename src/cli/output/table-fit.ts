/**
 * Fitting a table to the terminal: which width to fit, and which columns to cut or leave out to
 * fit it. Pure arithmetic on widths; {@link renderTable} does the cutting.
 */

/** The space between two columns. */
export const COLUMN_GAP = 2;

/** The narrowest a cut column gets once every column that may be left out is (`a…`). */
export const LAST_RESORT_WIDTH = 2;

/** What fitting needs to know of a column. */
export interface FitColumn {
  /** Text that may be cut with an ellipsis: down to `min` cells, in `order` (lowest first). */
  readonly shrink?: { readonly min: number; readonly order: number };
  /** Rank among the columns that may be left out: the lowest goes first; absent: always shown. */
  readonly drop?: number;
}

/** How a table fits: the columns shown (indices, in their order), their widths, and those left out. */
export interface TableFit {
  readonly shown: readonly number[];
  /** Width of each shown column, by position in `shown`. */
  readonly widths: readonly number[];
  /** The columns left out (indices), in the order they went. */
  readonly dropped: readonly number[];
}

function totalWidth(widths: readonly number[]): number {
  let sum = 0;
  for (const w of widths) sum += w;
  return sum + COLUMN_GAP * Math.max(0, widths.length - 1);
}

/** Narrows the cut columns of `shown`, in their order, each to `floor` at most, until the total is `width`. */
function narrow(columns: readonly FitColumn[], natural: readonly number[], shown: readonly number[], width: number, floor: (i: number) => number): number[] {
  const widths = shown.map((i) => natural[i]!);
  let excess = totalWidth(widths) - width;
  const cut = shown.map((i, at) => ({ i, at })).filter(({ i }) => columns[i]!.shrink !== undefined);
  cut.sort((a, b) => columns[a.i]!.shrink!.order - columns[b.i]!.shrink!.order || a.at - b.at);
  for (const { i, at } of cut) {
    if (excess <= 0) break;
    const by = Math.min(excess, widths[at]! - Math.min(widths[at]!, floor(i)));
    widths[at]! -= by;
    excess -= by;
  }
  return widths;
}

/**
 * The fit of a table whose columns are `natural` cells wide into `width` cells:
 *
 * 1. everything, as it is, when it fits;
 * 2. else text columns cut (in their `shrink.order`, each down to its `shrink.min`), when that is
 *    enough;
 * 3. else columns left out whole, lowest `drop` rank first (never one without a rank, nor any
 *    when `keepAll`: the columns the user chose), each time trying 2 again;
 * 4. else, with all of those gone, the text columns cut down to {@link LAST_RESORT_WIDTH}; what
 *    still does not fit is as wide as it must be (the terminal wraps it).
 *
 * Numbers, ids and the other columns without `shrink` are never cut.
 */
export function fitColumns(columns: readonly FitColumn[], natural: readonly number[], width: number, keepAll = false): TableFit {
  const all = columns.map((_, i) => i);
  if (totalWidth(natural) <= width) return { shown: all, widths: [...natural], dropped: [] };
  const softMin = (i: number): number => {
    const s = columns[i]!.shrink;
    return s === undefined ? natural[i]! : Math.min(natural[i]!, Math.max(LAST_RESORT_WIDTH, s.min));
  };
  const droppable = keepAll
    ? []
    : all.filter((i) => columns[i]!.drop !== undefined).sort((a, b) => columns[a]!.drop! - columns[b]!.drop! || b - a);
  for (let k = 0; k <= droppable.length; k++) {
    const gone = new Set(droppable.slice(0, k));
    const shown = all.filter((i) => !gone.has(i));
    if (totalWidth(shown.map(softMin)) <= width) return { shown, widths: narrow(columns, natural, shown, width, softMin), dropped: droppable.slice(0, k) };
  }
  const gone = new Set(droppable);
  const shown = all.filter((i) => !gone.has(i));
  const lastResort = (i: number): number => (columns[i]!.shrink === undefined ? natural[i]! : Math.min(natural[i]!, LAST_RESORT_WIDTH));
  return { shown, widths: narrow(columns, natural, shown, width, lastResort), dropped: droppable };
}

/** A positive whole number of cells, or `undefined`. */
function cells(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== "string" || !/^\s*\d+\s*$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 && Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The width human tables fit, or `undefined` for none (the full width, as written to a file):
 * standard output's `columns` when it is a terminal, else `COLUMNS` from the environment (a
 * positive whole number; anything else is ignored), else none. So a table read on a terminal
 * fits it; one sent down a pipe or into a file stays whole for the program or the file that gets
 * it (`less -S` scrolls it sideways), unless `COLUMNS` asks for a width
 * (`COLUMNS=$COLUMNS expflow run list | less`).
 */
export function tableWidth(stdout: { readonly isTTY?: boolean; readonly columns?: number }, env: Readonly<Record<string, string | undefined>>): number | undefined {
  if (stdout.isTTY === true) {
    const tty = cells(stdout.columns);
    if (tty !== undefined) return tty;
  }
  return cells(env["COLUMNS"]);
}
