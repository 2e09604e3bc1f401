import type { Cell } from "./render.js";

/**
 * The characters no text from data may bring to a reader as they are: C0 controls (ESC, BEL,
 * CR, backspace, ...), DEL, C1 controls (U+009B is a one-byte CSI), the bidirectional overrides,
 * embeddings and isolates (U+202E makes `exe.txt` read as `txt.exe`), and the Unicode line and
 * paragraph separators.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_MULTILINE = /\r\n|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function visible(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * Text from data made safe for a terminal, a Markdown viewer or a spreadsheet: every unsafe
 * character (see above) is shown as its JSON escape, `\u001b` for ESC, `\u009b` for the C1 CSI,
 * `\u000d` for a carriage return, `\u202e` for the right-to-left override, so an escape sequence
 * becomes harmless visible text (`\u001b[2J`) that still says what the data held. Printable text,
 * including every other non-ASCII character, is unchanged; `--json` output never goes through
 * this (it stays exact).
 *
 * With `multiline`, line feeds, tabs and CRLF line ends are kept (a block of text such as a
 * stack trace or a CSV file); a lone carriage return is still shown as `\u000d`.
 *
 * Every human renderer, `ctx.warn`, the CLI's `error:`/`hint:` lines and the guard on the
 * standard streams use this one function.
 */
export function printable(text: string, options: { multiline?: boolean } = {}): string {
  if (options.multiline) return text.replace(UNSAFE_MULTILINE, (m) => (m === "\r\n" ? m : visible(m)));
  return text.replace(UNSAFE, visible);
}

/** The first characters a spreadsheet reads as the start of a formula (or that hide one). */
const FORMULA_START = /^[=+\-@\t\r]/;
/** Text that is a plain decimal number (`-3.5`, `+1e-3`): a number, never a formula. */
const NUMBER_TEXT = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * One CSV field (RFC 4180): numbers at full precision as they are (`-3.5` stays a number); text
 * starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` so a
 * spreadsheet shows it instead of evaluating it (formula injection), unless the text is a plain
 * decimal number (`-3.5` recorded as text stays `-3.5`); control characters are
 * made {@link printable} (line feeds kept); fields holding a comma, quote or line break are
 * quoted. `null` is the empty field.
 */
export function csvCell(cell: Cell): string {
  if (cell === null) return "";
  // JSON.stringify gives String()'s text of a finite number, without keeping it in the engine's
  // number cache (where a large output's texts would survive garbage collections).
  if (typeof cell === "number") return Number.isFinite(cell) ? JSON.stringify(cell) : String(cell);
  const text = printable(FORMULA_START.test(cell) && !NUMBER_TEXT.test(cell) ? `'${cell}` : cell, { multiline: true });
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A stream of text (or of UTF-8 buffers of whole characters), as much of one as {@link guardStream} needs. */
export interface TextStream {
  write(text: string | Buffer): unknown;
  /** A Node stream's, for a writer waiting for it to drain. */
  once?(event: "drain" | "close", listener: () => void): unknown;
  off?(event: "drain" | "close", listener: () => void): unknown;
  readonly isTTY?: boolean;
  /** A terminal's width in cells (Node's `tty.WriteStream#columns`), read when a table fits it. */
  readonly columns?: number;
}

/**
 * The escape sequences expflow itself writes to a stream: the colours (picocolors' bold, dim,
 * red, green, yellow and their resets) when `color`, and the progress line's
 * carriage-return-and-erase when `progress`. `null` when neither.
 */
export function ownSequences(color: boolean, progress: boolean): RegExp | null {
  const parts = [...(color ? ["\\u001b\\[(?:1|2|22|31|32|33|39)m"] : []), ...(progress ? ["\\r\\u001b\\[2K"] : [])];
  return parts.length === 0 ? null : new RegExp(parts.join("|"), "g");
}

/**
 * Text for a human stream: {@link printable} (multiline) around the sequences `own` matches,
 * which are kept.
 */
export function guardText(text: string, own: RegExp | null): string {
  if (own === null) return printable(text, { multiline: true });
  let out = "";
  let last = 0;
  for (const m of text.matchAll(own)) {
    out += printable(text.slice(last, m.index), { multiline: true }) + m[0];
    last = m.index + m[0].length;
  }
  return out + printable(text.slice(last), { multiline: true });
}

/** Bytes of a buffer guarded at a time (cut after a line break, which no own sequence holds). */
const GUARD_PIECE = 8 * 1024;

/**
 * The last line of defence on standard output and standard error: while `active()` (the output
 * is for people, not `--json`), every write goes through {@link guardText}, so a path that quotes
 * data without making it printable still cannot move the cursor, clear the screen or reorder
 * text. The renderers make data printable themselves first (so widths are right); this catches
 * what they miss.
 */
export function guardStream(stream: TextStream, active: () => boolean, own: RegExp | null): TextStream & { readonly unguarded: TextStream } {
  const waits = stream.once === undefined || stream.off === undefined ? {} : { once: stream.once.bind(stream), off: stream.off.bind(stream) };
  return {
    ...waits,
    get isTTY() {
      return stream.isTTY;
    },
    // Read at each use: a terminal resized between two commands of a session says its new width.
    get columns() {
      return stream.columns;
    },
    write: (text: string | Buffer) => {
      if (!active()) return stream.write(text);
      if (typeof text === "string") return stream.write(guardText(text, own));
      // A large output's chunk: guarded a few lines at a time, so no large string is made.
      let ok = true;
      for (let at = 0; at < text.length; ) {
        let end = text.length;
        if (end - at > GUARD_PIECE) {
          const nl = text.lastIndexOf(0x0a, at + GUARD_PIECE);
          const next = nl >= at ? nl : text.indexOf(0x0a, at + GUARD_PIECE);
          end = next >= 0 ? next + 1 : text.length;
        }
        ok = stream.write(guardText(text.toString("utf8", at, end), own)) !== false && ok;
        at = end;
      }
      return ok;
    },
    unguarded: stream,
  };
}

/**
 * The stream under a {@link guardStream} (else `stream` itself): for an interactive prompt that
 * draws with its own escape sequences and needs the real terminal stream. What it shows from
 * data must be made {@link printable} first.
 */
export function unguarded(stream: TextStream): TextStream {
  return "unguarded" in stream ? (stream as { unguarded: TextStream }).unguarded : stream;
}
