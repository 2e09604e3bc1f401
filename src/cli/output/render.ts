import { formatNumber } from "../../core/number-text.js";
import type { ChunkSink } from "../../util/chunk-writer.js";
import { ChunkWriter } from "../../util/chunk-writer.js";
import type { Colors } from "./color.js";
import { csvCell, printable } from "./sanitize.js";
import type { TableFit } from "./table-fit.js";
import { COLUMN_GAP, fitColumns } from "./table-fit.js";
import { cutToWidth, displayWidth, padToWidth } from "./text-width.js";

/** Output formats every listing command offers. */
export type Format = "table" | "json" | "csv" | "markdown";

/** A cell: text, a number (formatted for people, exact for CSV), or null (empty / missing). */
export type Cell = string | number | null;

/** One column of a listing: the same spec feeds the table, CSV and Markdown. */
export interface Column<T> {
  /** Header for the table and Markdown. */
  readonly header: string;
  /** Header for CSV (snake_case); defaults to the header. */
  readonly key?: string;
  readonly get: (row: T) => Cell;
  readonly align?: "left" | "right";
  /** Colours a table cell's text (already padded). */
  readonly paint?: (row: T, text: string, c: Colors) => string;
  /** Longest width in the table (in terminal cells) before text is cut with an ellipsis; not with `wide`. */
  readonly maxWidth?: number;
  /**
   * Text that may be cut with an ellipsis to fit the terminal: down to `min` cells, the columns
   * of lowest `order` first (see {@link fitColumns}). Absent: never cut (ids, numbers, dates).
   */
  readonly shrink?: { readonly min: number; readonly order: number };
  /** Rank among the columns that may be left out to fit the terminal, lowest first; absent: always shown. */
  readonly drop?: number;
}

/** How a table is laid out for people. */
export interface TableOptions {
  /** The width to fit, in terminal cells (see {@link tableWidth}); absent: the table's own width. */
  readonly width?: number;
  /** Everything whole: no fitting and no `maxWidth` (`--wide`). */
  readonly wide?: boolean;
  /** No column is left out to fit, only cut: the columns were chosen (`--columns`). */
  readonly keepAll?: boolean;
  /** What a missing value shows (default `-`). */
  readonly missing?: string;
}

/** A number for people (core/number-text.ts): the same in every table and in the HTML report. */
export { formatNumber };

function humanCell(cell: Cell, missing: string): string {
  if (cell === null) return missing;
  if (typeof cell === "number") return formatNumber(cell);
  // Line breaks and tabs become spaces (one row per line); a lone CR is shown by printable().
  return printable(cell.replace(/(?:\r?\n|\t)+/g, " "));
}

/**
 * A plain-text table with a header row, columns separated by two spaces. Every text cell is made
 * {@link printable} (line breaks and tabs become spaces). Widths are counted in terminal cells
 * (a CJK character or an emoji is 2, a combining mark 0), so columns line up whatever the text.
 *
 * With `options.width`, the table fits that many cells (see {@link fitColumns}): text columns
 * are cut with `…` (never inside a character or a number), then the lowest-ranked columns are
 * left out whole, and a last line names them. Numbers are never cut.
 *
 * Widths are found in a loop, so a table of millions of rows renders (a spread into `Math.max`
 * overflowed the stack from ~130,000).
 */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], c: Colors, options: TableOptions = {}): string {
  const missing = options.missing ?? "-";
  const wide = options.wide === true;
  const n = columns.length;
  const headers = columns.map((col) => printable(col.header));
  const natural = headers.map((h) => displayWidth(h));
  // One flat array of cells (not an array per row): a million rows stay cheap for the collector.
  const cells: string[] = new Array<string>(rows.length * n);
  for (let r = 0; r < rows.length; r++) {
    for (let i = 0; i < n; i++) {
      const col = columns[i]!;
      let text = humanCell(col.get(rows[r]!), missing);
      if (!wide && col.maxWidth !== undefined) text = cutToWidth(text, col.maxWidth);
      cells[r * n + i] = text;
      const w = displayWidth(text);
      if (w > natural[i]!) natural[i] = w;
    }
  }
  const fit: TableFit =
    options.width === undefined || wide ? { shown: columns.map((_, i) => i), widths: natural, dropped: [] } : fitColumns(columns, natural, options.width, options.keepAll === true);
  const { shown, widths } = fit;
  // Only a column narrowed below its widest cell needs its cells measured again to be cut.
  const narrowed = shown.map((i, at) => widths[at]! < natural[i]!);
  const gap = " ".repeat(COLUMN_GAP);
  const cell = (text: string, at: number): string => {
    const w = widths[at]!;
    const fitted = narrowed[at]! ? cutToWidth(text, w) : text;
    return padToWidth(fitted, w, columns[shown[at]!]!.align);
  };
  const chunks = [`${c.bold(shown.map((i, at) => cell(headers[i]!, at)).join(gap).trimEnd())}\n`];
  let chunk = "";
  for (let r = 0; r < rows.length; r++) {
    let line = "";
    for (let at = 0; at < shown.length; at++) {
      const i = shown[at]!;
      const col = columns[i]!;
      const text = cell(cells[r * n + i]!, at);
      line += (at > 0 ? gap : "") + (col.paint ? col.paint(rows[r]!, text, c) : text);
    }
    chunk += `${line.trimEnd()}\n`;
    if (r % 4096 === 4095) {
      chunks.push(chunk);
      chunk = "";
    }
  }
  chunks.push(chunk);
  if (fit.dropped.length > 0) chunks.push(`${droppedNote(fit.dropped.map((i) => columns[i]!), options.width!)}\n`);
  return chunks.join("");
}

/** The table's last line when columns were left out to fit: `Left out to fit 80 columns: queue, created (--wide shows all).` */
function droppedNote<T>(dropped: readonly Column<T>[], width: number): string {
  const names = dropped.map((col) => printable(col.key ?? col.header)).join(", ");
  return `Left out to fit ${width} columns: ${names} (--wide shows all).`;
}

/**
 * CSV with a header row; numbers at full precision, missing values empty, every field through
 * {@link csvCell} (quoting, and a `'` before text a spreadsheet would run as a formula).
 */
export function renderCsv<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  let out = csvLine(undefined, columns);
  for (const row of rows) out += csvLine(row, columns);
  return out;
}

/** A line of CSV (with its CRLF): the header's for `undefined`. */
function csvLine<T>(row: T | undefined, columns: readonly Column<T>[]): string {
  let line = "";
  for (let j = 0; j < columns.length; j++) {
    const col = columns[j]!;
    if (j > 0) line += ",";
    line += csvCell(row === undefined ? (col.key ?? col.header) : col.get(row));
  }
  return `${line}\r\n`;
}

/**
 * {@link renderCsv}'s text, in chunks of whole lines of about `chunkBytes` bytes (default 64 KiB)
 * to `sink`, waiting when it asks to: many rows never make one giant string, nor queue whole in
 * a pipe's buffer.
 */
export async function writeCsv<T>(rows: { readonly length: number; at(i: number): T | undefined }, columns: readonly Column<T>[], sink: ChunkSink, chunkBytes = 64 * 1024): Promise<void> {
  const out = new ChunkWriter(sink, chunkBytes);
  out.put(csvLine(undefined, columns));
  for (let i = 0; i < rows.length; i++) {
    out.put(csvLine(rows.at(i)!, columns));
    const wait = out.waiting;
    if (wait !== undefined) await wait;
  }
  await out.end();
}

/**
 * Escapes text for a Markdown table cell (or a heading): no character can end the cell, start
 * markup or HTML (`|`, backticks, `<`, `&`, ... are escaped), and control characters are made
 * {@link printable}.
 */
export function escapeMarkdownCell(text: string): string {
  return printable(text.replace(/\r?\n/g, " "))
    .replace(/[\\`*_{}[\]()<>#+!|~]/g, (ch) => `\\${ch}`)
    .replace(/&/g, "&amp;");
}

/** A GitHub-flavoured Markdown table. */
export function renderMarkdown<T>(rows: readonly T[], columns: readonly Column<T>[], missing = "-"): string {
  const header = `| ${columns.map((col) => escapeMarkdownCell(col.header)).join(" | ")} |`;
  const rule = `|${columns.map((col) => (col.align === "right" ? " ---: " : " --- ")).join("|")}|`;
  const body = rows.map((row) => `| ${columns.map((col) => escapeMarkdownCell(humanCell(col.get(row), missing))).join(" | ")} |`);
  return `${[header, rule, ...body].join("\n")}\n`;
}

/** Renders rows in a non-JSON format; `table` lays the table out for people (CSV and Markdown are always whole). */
export function renderRows<T>(format: Exclude<Format, "json">, rows: readonly T[], columns: readonly Column<T>[], c: Colors, table: TableOptions = {}): string {
  switch (format) {
    case "table":
      return renderTable(rows, columns, c, table);
    case "csv":
      return renderCsv(rows, columns);
    case "markdown":
      return renderMarkdown(rows, columns);
  }
}
