import type { Colors } from "./color.js";
import { csvCell, printable } from "./sanitize.js";

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
  /** Longest width in the table before text is cut with an ellipsis. */
  readonly maxWidth?: number;
}

/**
 * A number for people: integers as they are, others with at most 4 decimals (trailing zeros
 * dropped), large or tiny magnitudes in exponent form.
 */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs >= 1e9 || abs < 1e-4)) return n.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(n.toFixed(4)));
}

function humanCell(cell: Cell, missing: string): string {
  if (cell === null) return missing;
  if (typeof cell === "number") return formatNumber(cell);
  // Line breaks and tabs become spaces (one row per line); a lone CR is shown by printable().
  return printable(cell.replace(/(?:\r?\n|\t)+/g, " "));
}

function truncate(text: string, width: number | undefined): string {
  if (width === undefined || text.length <= width) return text;
  return `${text.slice(0, Math.max(1, width - 1))}…`;
}

/**
 * A plain-text table with a header row, columns separated by two spaces. Every text cell is made
 * {@link printable} (line breaks and tabs become spaces). Widths are found in a loop, so a table
 * of millions of rows renders (a spread into `Math.max` overflowed the stack from ~130,000).
 */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], c: Colors, missing = "-"): string {
  const n = columns.length;
  const headers = columns.map((col) => printable(col.header));
  const widths = headers.map((h) => h.length);
  // One flat array of cells (not an array per row): a million rows stay cheap for the collector.
  const cells: string[] = new Array<string>(rows.length * n);
  for (let r = 0; r < rows.length; r++) {
    for (let i = 0; i < n; i++) {
      const col = columns[i]!;
      const text = truncate(humanCell(col.get(rows[r]!), missing), col.maxWidth);
      cells[r * n + i] = text;
      if (text.length > widths[i]!) widths[i] = text.length;
    }
  }
  const pad = (text: string, i: number): string =>
    columns[i]!.align === "right" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const chunks = [`${c.bold(headers.map((h, i) => pad(h, i)).join("  ").trimEnd())}\n`];
  let chunk = "";
  for (let r = 0; r < rows.length; r++) {
    let line = "";
    for (let i = 0; i < n; i++) {
      const col = columns[i]!;
      const text = pad(cells[r * n + i]!, i);
      line += (i > 0 ? "  " : "") + (col.paint ? col.paint(rows[r]!, text, c) : text);
    }
    chunk += `${line.trimEnd()}\n`;
    if (r % 4096 === 4095) {
      chunks.push(chunk);
      chunk = "";
    }
  }
  chunks.push(chunk);
  return chunks.join("");
}

/**
 * CSV with a header row; numbers at full precision, missing values empty, every field through
 * {@link csvCell} (quoting, and a `'` before text a spreadsheet would run as a formula).
 */
export function renderCsv<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const lines = [columns.map((col) => csvCell(col.key ?? col.header)).join(",")];
  for (const row of rows) lines.push(columns.map((col) => csvCell(col.get(row))).join(","));
  return `${lines.join("\r\n")}\r\n`;
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

/** Renders rows in a non-JSON format. */
export function renderRows<T>(format: Exclude<Format, "json">, rows: readonly T[], columns: readonly Column<T>[], c: Colors): string {
  switch (format) {
    case "table":
      return renderTable(rows, columns, c);
    case "csv":
      return renderCsv(rows, columns);
    case "markdown":
      return renderMarkdown(rows, columns);
  }
}
