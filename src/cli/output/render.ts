import type { Colors } from "./color.js";

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

/** Text from data made safe for a terminal: control characters (C0, DEL, C1) become U+FFFD. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "\uFFFD");
}

function humanCell(cell: Cell, missing: string): string {
  if (cell === null) return missing;
  if (typeof cell === "number") return formatNumber(cell);
  return printable(cell.replace(/[\r\n\t]+/g, " "));
}

function truncate(text: string, width: number | undefined): string {
  if (width === undefined || text.length <= width) return text;
  return `${text.slice(0, Math.max(1, width - 1))}…`;
}

/** A plain-text table with a header row, columns separated by two spaces. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], c: Colors, missing = "-"): string {
  const cells = rows.map((r) => columns.map((col) => truncate(humanCell(col.get(r), missing), col.maxWidth)));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...cells.map((row) => row[i]!.length)));
  const pad = (text: string, i: number): string =>
    columns[i]!.align === "right" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const lines = [c.bold(columns.map((col, i) => pad(col.header, i)).join("  ").trimEnd())];
  rows.forEach((row, r) => {
    const line = columns.map((col, i) => {
      const text = pad(cells[r]![i]!, i);
      return col.paint ? col.paint(row, text, c) : text;
    });
    lines.push(line.join("  ").trimEnd());
  });
  return `${lines.join("\n")}\n`;
}

/** Quotes a CSV field when it holds a comma, quote or line break (RFC 4180). */
export function csvField(cell: Cell): string {
  if (cell === null) return "";
  const text = typeof cell === "number" ? String(cell) : cell;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV with a header row; numbers at full precision, missing values empty. */
export function renderCsv<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const lines = [columns.map((col) => csvField(col.key ?? col.header)).join(",")];
  for (const row of rows) lines.push(columns.map((col) => csvField(col.get(row))).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/** Escapes text for a Markdown table cell: no character can end the cell or start markup. */
export function escapeMarkdownCell(text: string): string {
  return text
    .replace(/\r\n|\r|\n/g, " ")
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
