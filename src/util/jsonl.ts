import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** A line that could not be read as a JSON object. */
export interface DamagedLine {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly reason: string;
}

/** Bytes read at a time: large enough that reading costs about what one whole-file read does. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/** Whether a decoded line holds anything but white space (as `trim()` has it). */
function nonBlank(t: string): boolean {
  // A record starts with "{": test for a printable ASCII start before paying for trim() on
  // every line. Not any code above 32: U+00A0, U+3000 and the like are white space to trim(),
  // and a line of them is as blank here as it is to forEachLineBackwards.
  const c = t.charCodeAt(0);
  return (c > 32 && c < 127) || t.trim() !== "";
}

/**
 * Called for each line: its text, 1-based number, the byte offset where it starts in the file
 * and its length in bytes (its `\r` and a BOM included, its line break not).
 */
export type LineSink = (text: string, line: number, offset: number, bytes: number) => void;

/**
 * Calls `onLine` for every non-blank line of a file, with its 1-based number and where its
 * bytes are in the file, reading in chunks so memory stays bounded by the longest line, not the
 * file. Lines are found among the bytes and each is decoded alone, so the offsets are exact
 * whatever the line holds (invalid UTF-8 included, which decodes to U+FFFD). A trailing `\r`
 * is dropped; a UTF-8 BOM at the start is ignored.
 */
export function forEachLine(path: string, onLine: LineSink, chunkBytes = DEFAULT_CHUNK_BYTES): void {
  const fd = openSync(path, "r");
  try {
    forEachLineOf(fd, onLine, chunkBytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * The text of the line in `bytes[start, end)` as {@link forEachLine} gives it: decoded, its
 * trailing `\r` dropped, and a BOM dropped when it is the file's first line.
 */
export function lineText(bytes: Buffer, start: number, end: number, first: boolean): string {
  let from = start;
  // The BOM: bytes EF BB BF at the very start of the file.
  if (first && end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) from += 3;
  const to = end > from && bytes[end - 1] === 0x0d ? end - 1 : end;
  return to <= from ? "" : bytes.toString("utf8", from, to);
}

/** The text {@link forEachLineOf} gives of a line {@link forEachRawLine} gave (at `offset`); `null` for a blank one, which it skips. */
export function nonBlankText(bytes: Buffer, start: number, end: number, offset: number): string | null {
  const t = lineText(bytes, start, end, offset === 0);
  return t !== "" && nonBlank(t) ? t : null;
}

/**
 * Called for each line, blank ones included, with its bytes `bytes[start, end)` (its line
 * break not among them; its `\r` and a BOM are), its 1-based number and the byte offset where
 * it starts in the file. The bytes are valid only during the call.
 */
export type RawLineSink = (bytes: Buffer, start: number, end: number, line: number, offset: number) => void;

/** {@link forEachLine} on an open file, read from its start; the file stays open. */
export function forEachLineOf(fd: number, onLine: LineSink, chunkBytes = DEFAULT_CHUNK_BYTES): void {
  forEachRawLine(
    fd,
    (bytes, start, end, line, offset) => {
      const t = nonBlankText(bytes, start, end, offset);
      if (t !== null) onLine(t, line, offset, end - start);
    },
    chunkBytes,
  );
}

/**
 * Calls `onLine` for every line of an open file (read from its start; it stays open), with
 * its bytes, undecoded: {@link forEachLineOf} before the decoding, for a reader that can take
 * most lines from their bytes.
 */
export function forEachRawLine(fd: number, onLine: RawLineSink, chunkBytes = DEFAULT_CHUNK_BYTES): void {
  const buf = Buffer.allocUnsafe(Math.max(1, chunkBytes));
  /** The pieces of a line that started in an earlier chunk (joined once, when it ends). */
  let carry: Buffer[] | null = null;
  let lineNo = 0;
  /** The file offset of `buf[0]` in the current chunk. */
  let base = 0;
  /** The file offset where the carried partial line starts. */
  let carryStart = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    const data = buf.subarray(0, n);
    let start = 0;
    let nl = data.indexOf(0x0a);
    if (nl >= 0) {
      if (carry !== null) {
        carry.push(data.subarray(0, nl));
        const whole = Buffer.concat(carry);
        carry = null;
        onLine(whole, 0, whole.length, ++lineNo, carryStart);
      } else onLine(data, 0, nl, ++lineNo, base);
      start = nl + 1;
      while ((nl = data.indexOf(0x0a, start)) >= 0) {
        onLine(data, start, nl, ++lineNo, base + start);
        start = nl + 1;
      }
    }
    if (start < n) {
      // The start of a line that ends in a later chunk: copied, as `buf` is read into again.
      const rest = Buffer.from(data.subarray(start));
      if (carry === null) {
        carry = [rest];
        carryStart = base + start;
      } else carry.push(rest);
    }
    base += n;
  }
  if (carry !== null) {
    const whole = Buffer.concat(carry);
    onLine(whole, 0, whole.length, ++lineNo, carryStart);
  }
}

/** Options of {@link forEachLineBackwards}. */
export interface BackwardsOptions {
  /**
   * Only lines containing this text (no line break) are given: the bytes are searched, and only
   * the lines that hold them are decoded, so a search through many lines costs one byte scan.
   */
  readonly containing?: string;
  /** Bytes read first (default 64 KiB); each further read doubles, up to `maxChunkBytes`. */
  readonly chunkBytes?: number;
  /** The largest read (default 4 MiB). */
  readonly maxChunkBytes?: number;
  /** Where to start reading backwards (a byte offset; default the end of the file). */
  readonly end?: number;
}

/**
 * Calls `onLine` for the non-blank lines of a file (with `containing`: only those that contain
 * it) from the last to the first, until it returns true; `offset` is where the line starts in
 * the file. Reads backwards in chunks that start small and grow, so finding a recent line costs
 * little whatever the file's size. A trailing `\r` is dropped; a UTF-8 BOM at the start is
 * ignored.
 */
export function forEachLineBackwards(path: string, onLine: (text: string, offset: number) => boolean, options: BackwardsOptions = {}): void {
  const pattern = options.containing === undefined ? null : Buffer.from(options.containing, "utf8");
  if (pattern !== null && (pattern.length === 0 || pattern.includes(0x0a))) throw new RangeError("forEachLineBackwards: `containing` must be one non-empty line");
  const maxChunk = Math.max(1, options.maxChunkBytes ?? 4 * 1024 * 1024);
  let chunk = Math.min(maxChunk, Math.max(1, options.chunkBytes ?? 64 * 1024));
  const fd = openSync(path, "r");
  try {
    let pos = Math.min(fstatSync(fd).size, options.end ?? Number.MAX_SAFE_INTEGER);
    let carry: Buffer = Buffer.alloc(0);
    for (;;) {
      let data = carry;
      if (pos > 0) {
        const start = Math.max(0, pos - chunk);
        // Room for the carried partial line after the bytes read, so nothing large is copied.
        data = Buffer.allocUnsafe(pos - start + carry.length);
        // The file shrank meanwhile (a reader holds no lock): what is left of it is unknown.
        if (readFully(fd, data, pos - start, start) < pos - start) return;
        carry.copy(data, pos - start);
        pos = start;
        chunk = Math.min(maxChunk, chunk * 2);
      }
      // Bytes before the first line break belong to a line that starts in an earlier chunk.
      const first = pos === 0 ? -1 : data.indexOf(0x0a);
      if (first < 0 && pos > 0) {
        carry = data;
        continue;
      }
      const lo = first + 1;
      const emit = (lineStart: number, lineEnd: number): boolean => {
        let text = data.toString("utf8", lineStart, lineEnd);
        if (text.endsWith("\r")) text = text.slice(0, -1);
        if (pos === 0 && lineStart === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        return text.trim() !== "" && onLine(text, pos + lineStart);
      };
      if (pattern === null) {
        // `end` is where the next line to look at ends: the end of the data, or a line break.
        for (let end = data.length; end >= lo; ) {
          const lineStart = end === 0 ? 0 : data.lastIndexOf(0x0a, end - 1) + 1;
          if (emit(lineStart, end)) return;
          end = lineStart - 1;
        }
      } else {
        // The lines holding the pattern, found searching forwards (several times faster than
        // Buffer#lastIndexOf with a multi-byte needle), then given last first.
        const starts: number[] = [];
        for (let m = data.indexOf(pattern, lo); m >= 0; ) {
          starts.push(m === 0 ? 0 : data.lastIndexOf(0x0a, m - 1) + 1);
          const nl = data.indexOf(0x0a, m);
          if (nl < 0) break;
          m = data.indexOf(pattern, nl + 1);
        }
        for (let k = starts.length - 1; k >= 0; k--) {
          const lineStart = starts[k]!;
          const nl = data.indexOf(0x0a, lineStart);
          if (emit(lineStart, nl < 0 ? data.length : nl)) return;
        }
      }
      if (pos === 0) return;
      carry = Buffer.from(data.subarray(0, first));
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads `length` bytes at `position` into the start of `buf`; fewer only at the end of the file. */
export function readFully(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * Replaces the bare `NaN`, `Infinity` and `-Infinity` tokens that Python's `json.dumps` writes
 * (outside strings) with `null`, so records written by the earlier tool still parse; such
 * values then count as missing.
 */
export function replacePythonNonFinite(text: string): string {
  let out = "";
  let i = 0;
  let inString = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === "\\") {
        out += text[i + 1] ?? "";
        i += 2;
        continue;
      }
      if (ch === '"') inString = false;
      i++;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      i++;
      continue;
    }
    const rest = text.startsWith("-Infinity", i) ? 9 : text.startsWith("Infinity", i) ? 8 : text.startsWith("NaN", i) ? 3 : 0;
    if (rest > 0) {
      out += "null";
      i += rest;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/**
 * The deepest nesting of objects and arrays a registry line may have (64): expflow's own records
 * are 4 deep. A deeper line is damaged (skipped with a warning), so no reader recurses without
 * bound over what a line holds (JSON.parse does not, but rendering and normalising do).
 */
export const MAX_LINE_DEPTH = 64;

/** How often `ch` occurs in `text`, counting no further than `limit + 1`. */
function countUpTo(text: string, ch: string, limit: number): number {
  let n = 0;
  for (let i = text.indexOf(ch); i >= 0 && n <= limit; i = text.indexOf(ch, i + 1)) n++;
  return n;
}

/**
 * `true` when the JSON text `text` nests objects and arrays deeper than `max` (brackets inside
 * strings do not count). Cheap for the common line: the exact scan runs only when the text
 * holds more than `max` opening brackets at all.
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  const opening = countUpTo(text, "{", max);
  if (opening + countUpTo(text, "[", max - opening) <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Parses one line as a JSON object. Returns the object (with `repaired` when Python's bare
 * NaN/Infinity had to be read as null, so the text itself is not valid JSON), or a reason why
 * it is not one (among them: nested deeper than {@link MAX_LINE_DEPTH}).
 */
export function parseObjectLine(text: string): { value: Record<string, unknown>; repaired?: true } | { reason: string } {
  if (nestedDeeperThan(text, MAX_LINE_DEPTH)) return { reason: `nested deeper than ${MAX_LINE_DEPTH} levels (the most a registry line may have)` };
  let value: unknown;
  let repaired = false;
  try {
    value = JSON.parse(text);
  } catch (e) {
    if (/NaN|Infinity/.test(text)) {
      try {
        value = JSON.parse(replacePythonNonFinite(text));
        repaired = true;
      } catch {
        return { reason: `not valid JSON (${(e as Error).message})` };
      }
    } else {
      return { reason: `not valid JSON (${(e as Error).message})` };
    }
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { reason: `not a JSON object (found ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value})` };
  }
  return repaired ? { value: value as Record<string, unknown>, repaired: true } : { value: value as Record<string, unknown> };
}
