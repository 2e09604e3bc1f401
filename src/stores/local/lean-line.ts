/**
 * Reading a registry line's fields straight from its bytes, for the common line: what a
 * ranking's listing keeps of a record ({@link LeanColumns.addRead}) without decoding the line
 * or building its object. The reader either reads the line exactly as `JSON.parse` then the
 * record helpers would (`checkedRecordId`, `statusOf`, the creation time, `deleted`,
 * `archived`, the metrics asked for; holding, also the name, project, tags, parameters and
 * every metric, as `experimentFromRecord`), or declines it, and the caller takes the general
 * path (decode, `parseObjectLine`, the record helpers), which also says why a damaged line is
 * damaged. It reads Python's bare `NaN`, `Infinity` and `-Infinity` as null, as the general
 * way's repair does.
 *
 * It declines, rather than decides, whatever is unusual: text that is not valid JSON (but for
 * those), a line not starting with `{` (a BOM, white space), nesting deeper than
 * {@link MAX_LINE_DEPTH}, an id that is not a string passing the id rule as it is, a string field that is a number (the helpers turn it into text), an escape in
 * a string it keeps or in a key it compares, a status or creation time outside ASCII, a metric
 * key outside ASCII when a name asked for is outside ASCII too; holding, tags as one string,
 * a parameter that is not a string, a metric that is not a number and a key of either of
 * digits only (`JSON.parse` puts array indexes first). Every accepted line is valid JSON whose
 * values the reader takes as `JSON.parse` does: a later key replaces an earlier one, a number
 * is the double nearest its text. Keys that repeat within the parameters or metrics it keeps
 * in full ({@link Spans}) for the caller to decline.
 */
import { MAX_LINE_DEPTH } from "../../util/jsonl.js";
import { MAX_ID_LENGTH } from "../../core/ids.js";
import { FNV_OFFSET, fnv1a } from "../../util/packed-strings.js";

/** The byte that follows each key in a {@link Spans} hash. */
const ZERO = new Uint8Array(1);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;

/** Declined: the line goes the general way. */
const NO = -1;

/** The top-level keys read, by number. */
const K_OTHER = 0;
const K_ID = 1;
const K_STATUS = 2;
const K_TIMESTAMP = 3;
const K_CREATED_AT = 4;
const K_DELETED = 5;
const K_ARCHIVED = 6;
const K_METRICS = 7;
// Read when holding (the project and the tags also for a filter).
const K_NAME = 8;
const K_PROJECT = 9;
const K_TAGS = 10;
const K_PARAMS = 11;
const K_COUNT = 12;

// The objects read whole: the metrics, for those asked for, or holding, all of them; the parameters, holding.
const RANKED = 0;
const HELD_METRICS = 1;
const HELD_PARAMS = 2;

// What a string field (the id, status, creation times, name, project) was found to be.
/** Absent, or `null`: for the creation time, `timestamp ?? created_at` goes on to `created_at`. */
const V_NULLISH = 0;
/** A string (its bytes at `start`, `end`). */
const V_STRING = 1;
/** Anything else but a number: no status ("unknown"), no creation time. */
const V_OTHER = 2;

const POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** Per byte: 0 for one that a string holds as it is and that is ASCII; else 1 (a quote, a backslash, a control, or outside ASCII). */
const STRING_BYTE = new Uint8Array(256);
for (let c = 0; c < 256; c++) STRING_BYTE[c] = c < 0x20 || c === QUOTE || c === BACKSLASH || c >= 0x80 ? 1 : 0;

function isWhite(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

// The keys of the record read.
const ID_KEY = Buffer.from("experiment_id");
const STATUS_KEY = Buffer.from("status");
const TIMESTAMP_KEY = Buffer.from("timestamp");
const CREATED_AT_KEY = Buffer.from("created_at");
const DELETED_KEY = Buffer.from("deleted");
const ARCHIVED_KEY = Buffer.from("archived");
const METRICS_KEY = Buffer.from("metrics");
const NAME_KEY = Buffer.from("name");
const PROJECT_KEY = Buffer.from("project");
const TAGS_KEY = Buffer.from("tags");
const PARAMS_KEY = Buffer.from("params");

/** Whether `b` holds `word` at `at` (its length checked by the caller). */
function same(b: Uint8Array, at: number, word: Uint8Array): boolean {
  for (let j = 0; j < word.length; j++) if (b[at + j] !== word[j]) return false;
  return true;
}

/** Where some strings of a line are, in order (each one's bytes); of keys, also a hash of them all. */
export class Spans {
  starts = new Int32Array(16);
  ends = new Int32Array(16);
  length = 0;
  /** FNV-1a of the bytes of the strings {@link pushKey} added, each followed by a 0 byte. */
  hash = FNV_OFFSET;

  clear(): void {
    this.length = 0;
    this.hash = FNV_OFFSET;
  }

  /** {@link push} of a key, hashed. */
  pushKey(b: Uint8Array, start: number, end: number): void {
    this.hash = fnv1a(ZERO, 0, 1, fnv1a(b, start, end, this.hash));
    this.push(start, end);
  }

  push(start: number, end: number): void {
    const n = this.length;
    if (n === this.starts.length) {
      const starts = new Int32Array(2 * n);
      starts.set(this.starts);
      this.starts = starts;
      const ends = new Int32Array(2 * n);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.starts[n] = start;
    this.ends[n] = end;
    this.length = n + 1;
  }
}

/**
 * Reads lines, one at a time, into its fields (valid after {@link read} returned `true`, until
 * the next call). One reader per listing: it holds the metric names' bytes.
 */
export class LeanLineReader {
  /** Where the id's bytes are (ASCII, passing the id rule). */
  idStart = 0;
  idEnd = 0;
  /** `deleted === true`, `archived === true`. */
  deleted = false;
  archived = false;
  /** Whether the status is a string (its ASCII bytes at `statusStart`, `statusEnd`); else it is "unknown". */
  hasStatus = false;
  statusStart = 0;
  statusEnd = 0;
  /** The creation time's text (`timestamp ?? created_at`): `hasCreated` false when none (`created` gives null). */
  hasCreated = false;
  createdStart = 0;
  createdEnd = 0;
  /** Per metric name: its value as a ranking reads it (a finite number, else NaN). */
  readonly values: Float64Array;

  // Holding, also what `experimentFromRecord` reads of the rest (the project and the tags alone
  // for a filter that reads them), where the line has it in a
  // form kept as it is: the name and project as strings (else none), the tags as an array
  // (its strings), the parameters as an object of strings and the metrics as one of numbers,
  // neither with a key that repeats or is an array index (`JSON.parse` would reorder those).
  /** Whether the name is a string (its bytes at `nameStart`, `nameEnd`); else none. */
  hasName = false;
  nameStart = 0;
  nameEnd = 0;
  hasProject = false;
  projectStart = 0;
  projectEnd = 0;
  readonly tags = new Spans();
  readonly paramKeys = new Spans();
  readonly paramValues = new Spans();
  readonly metricKeys = new Spans();
  /** The metrics' values, in the order of `metricKeys`. */
  metricValues = new Float64Array(16);

  private readonly names: readonly Uint8Array[];
  private readonly namesAscii: boolean;
  private readonly stack = new Uint8Array(MAX_LINE_DEPTH + 1);
  // The record's string fields (the id, status, creation times, name and project), as last
  // seen in the line, by key number: what each is ({@link V_NULLISH}, ...) and where its bytes are.
  private readonly kinds = new Uint8Array(K_COUNT);
  private readonly starts = new Int32Array(K_COUNT);
  private readonly ends = new Int32Array(K_COUNT);
  /** Where the string {@link readString} read last ends (its closing quote) and whether it held a byte outside ASCII. */
  private stringEnd = 0;
  private stringWide = false;
  /** The value {@link readNumber} read last. */
  private number = 0;

  /** Whether the rest is read too (see `hasName` and what follows). */
  readonly hold: boolean;
  /** Whether the project and the tags are read (holding, or for a filter that reads them). */
  readonly withFilterFields: boolean;

  /**
   * @param names the metrics read into `values`.
   * @param fields what else is read: nothing (`"ranked"`), the project and tags a filter reads
   *   (`"filtered"`), or all the rest (`"held"`); a line with what is read in another form is declined.
   */
  constructor(names: readonly string[], fields: "ranked" | "filtered" | "held" = "ranked") {
    this.hold = fields === "held";
    this.withFilterFields = fields !== "ranked";
    this.names = names.map((n) => Buffer.from(n, "utf8"));
    // A name is ASCII when its UTF-8 is as long as it is.
    this.namesAscii = this.names.every((n, k) => n.length === names[k]!.length);
    this.values = new Float64Array(names.length);
  }

  /** Reads the line in `b[start, end)`; `false`: declined (see the module's comment). */
  read(b: Uint8Array, start: number, end: number): boolean {
    if (start >= end || b[start] !== OPEN_BRACE) return false;
    this.deleted = false;
    this.archived = false;
    this.kinds.fill(V_NULLISH);
    this.values.fill(Number.NaN);
    this.tags.clear();
    this.paramKeys.clear();
    this.paramValues.clear();
    this.metricKeys.clear();
    let i = this.white(b, start + 1, end);
    if (i < end && b[i] === CLOSE_BRACE) i++;
    else {
      for (;;) {
        if (i >= end || b[i] !== QUOTE) return false;
        const keyStart = i + 1;
        i = this.readString(b, keyStart, end, true);
        if (i === NO) return false;
        const key = this.topKey(b, keyStart, this.stringEnd);
        i = this.white(b, i, end);
        if (i >= end || b[i] !== COLON) return false;
        i = this.white(b, i + 1, end);
        if (i >= end) return false;
        i = this.topValue(b, i, end, key);
        if (i === NO) return false;
        i = this.white(b, i, end);
        if (i >= end) return false;
        const c = b[i]!;
        if (c === CLOSE_BRACE) {
          i++;
          break;
        }
        if (c !== COMMA) return false;
        i = this.white(b, i + 1, end);
      }
    }
    if (this.white(b, i, end) !== end) return false;
    const kinds = this.kinds;
    if (kinds[K_ID] !== V_STRING) return false;
    this.idStart = this.starts[K_ID]!;
    this.idEnd = this.ends[K_ID]!;
    this.hasStatus = kinds[K_STATUS] === V_STRING;
    this.statusStart = this.starts[K_STATUS]!;
    this.statusEnd = this.ends[K_STATUS]!;
    // `timestamp ?? created_at`, and an empty text is none.
    const created = kinds[K_TIMESTAMP] !== V_NULLISH ? K_TIMESTAMP : K_CREATED_AT;
    this.createdStart = this.starts[created]!;
    this.createdEnd = this.ends[created]!;
    this.hasCreated = kinds[created] === V_STRING && this.createdEnd > this.createdStart;
    this.hasName = kinds[K_NAME] === V_STRING;
    this.nameStart = this.starts[K_NAME]!;
    this.nameEnd = this.ends[K_NAME]!;
    this.hasProject = kinds[K_PROJECT] === V_STRING;
    this.projectStart = this.starts[K_PROJECT]!;
    this.projectEnd = this.ends[K_PROJECT]!;
    return true;
  }

  /** The key number of the (escape-free) key in `b[start, end)`. */
  private topKey(b: Uint8Array, start: number, end: number): number {
    switch (end - start) {
      case 13:
        return same(b, start, ID_KEY) ? K_ID : K_OTHER;
      case 6:
        return same(b, start, STATUS_KEY) ? K_STATUS : same(b, start, PARAMS_KEY) ? K_PARAMS : K_OTHER;
      case 4:
        return same(b, start, NAME_KEY) ? K_NAME : same(b, start, TAGS_KEY) ? K_TAGS : K_OTHER;
      case 9:
        return same(b, start, TIMESTAMP_KEY) ? K_TIMESTAMP : K_OTHER;
      case 10:
        return same(b, start, CREATED_AT_KEY) ? K_CREATED_AT : K_OTHER;
      case 7:
        return same(b, start, METRICS_KEY) ? K_METRICS : same(b, start, DELETED_KEY) ? K_DELETED : same(b, start, PROJECT_KEY) ? K_PROJECT : K_OTHER;
      case 8:
        return same(b, start, ARCHIVED_KEY) ? K_ARCHIVED : K_OTHER;
      default:
        return K_OTHER;
    }
  }

  /** Reads the value at `i` of top-level key `key`; returns where it ends, or {@link NO}. */
  private topValue(b: Uint8Array, i: number, end: number, key: number): number {
    const c = b[i]!;
    switch (key) {
      case K_ID:
      case K_STATUS:
      case K_TIMESTAMP:
      case K_CREATED_AT:
      case K_NAME:
      case K_PROJECT: {
        if (key === K_NAME ? !this.hold : key === K_PROJECT && !this.withFilterFields) break;
        // A number the record helpers would turn into text.
        if (c === MINUS || (c >= 0x30 && c <= 0x39)) return NO;
        let e: number;
        if (c === QUOTE) {
          e = this.readString(b, i + 1, end, true);
          if (e === NO) return NO;
          // The id, status and creation time are compared or decoded as ASCII; the name and
          // project are kept as their bytes.
          if (this.stringWide && key !== K_NAME && key !== K_PROJECT) return NO;
          if (key === K_ID && !idBytesValid(b, i + 1, this.stringEnd)) return NO;
          this.kinds[key] = V_STRING;
          this.starts[key] = i + 1;
          this.ends[key] = this.stringEnd;
        } else {
          // An id that is not a string names no record: the general way says so.
          if (key === K_ID) return NO;
          e = this.skipValue(b, i, end);
          // null, or Python's NaN or Infinity, read as null.
          this.kinds[key] = c === 0x6e /* n */ || c === 0x4e /* N */ || c === 0x49 /* I */ ? V_NULLISH : V_OTHER;
        }
        return e;
      }
      case K_DELETED:
      case K_ARCHIVED: {
        const e = this.skipValue(b, i, end);
        const isTrue = c === 0x74; /* t: a value that is valid JSON starting with t is true */
        if (key === K_DELETED) this.deleted = isTrue;
        else this.archived = isTrue;
        return e;
      }
      case K_METRICS:
        // A later `metrics` replaces the earlier one whole.
        this.values.fill(Number.NaN);
        this.metricKeys.clear();
        return c === OPEN_BRACE ? this.object(b, i, end, this.hold ? HELD_METRICS : RANKED) : this.skipValue(b, i, end);
      case K_TAGS:
        if (!this.withFilterFields) break;
        this.tags.clear();
        // Tags as one string are split at commas: declined.
        if (c === QUOTE) return NO;
        return c === OPEN_BRACKET ? this.tagList(b, i, end) : this.skipValue(b, i, end);
      case K_PARAMS:
        if (!this.hold) break;
        this.paramKeys.clear();
        this.paramValues.clear();
        return c === OPEN_BRACE ? this.object(b, i, end, HELD_PARAMS) : this.skipValue(b, i, end);
    }
    return c === QUOTE ? this.readString(b, i + 1, end, false) : this.skipValue(b, i, end);
  }

  /** Reads the tags array at `i` (its `[`): its strings, skipping its other values; returns where it ends, or {@link NO}. */
  private tagList(b: Uint8Array, start: number, end: number): number {
    let i = this.white(b, start + 1, end);
    if (i < end && b[i] === CLOSE_BRACKET) return i + 1;
    for (;;) {
      if (i >= end) return NO;
      if (b[i] === QUOTE) {
        const from = i + 1;
        i = this.readString(b, from, end, true);
        if (i === NO) return NO;
        this.tags.push(from, this.stringEnd);
      } else {
        i = this.skipValue(b, i, end, 2);
        if (i === NO) return NO;
      }
      i = this.white(b, i, end);
      if (i >= end) return NO;
      const d = b[i]!;
      if (d === CLOSE_BRACKET) return i + 1;
      if (d !== COMMA) return NO;
      i = this.white(b, i + 1, end);
    }
  }

  /**
   * Reads the object at `i` (its `{`): the metrics, into `values` (`RANKED`), and holding, also
   * every one of them, each a number (`HELD_METRICS`), or the parameters, each a string
   * (`HELD_PARAMS`); returns where it ends, or {@link NO} for another, or, holding, a key of
   * digits only. Keys that repeat are left to the caller ({@link Spans} keeps them all).
   */
  private object(b: Uint8Array, start: number, end: number, what: number): number {
    let i = this.white(b, start + 1, end);
    if (i < end && b[i] === CLOSE_BRACE) return i + 1;
    const metrics = what !== HELD_PARAMS;
    const keys = what === HELD_METRICS ? this.metricKeys : this.paramKeys;
    for (;;) {
      if (i >= end || b[i] !== QUOTE) return NO;
      const keyStart = i + 1;
      i = this.readString(b, keyStart, end, true);
      if (i === NO || (metrics && this.stringWide && !this.namesAscii)) return NO;
      const keyEnd = this.stringEnd;
      if (what !== RANKED) {
        if (allDigits(b, keyStart, keyEnd)) return NO;
        keys.pushKey(b, keyStart, keyEnd);
      }
      i = this.white(b, i, end);
      if (i >= end || b[i] !== COLON) return NO;
      i = this.white(b, i + 1, end);
      if (i >= end) return NO;
      const v = b[i]!;
      if (!metrics) {
        if (v !== QUOTE) return NO;
        const from = i + 1;
        i = this.readString(b, from, end, true);
        if (i === NO) return NO;
        this.paramValues.push(from, this.stringEnd);
      } else {
        const c = this.nameOf(b, keyStart, keyEnd);
        if ((v === MINUS && b[i + 1] !== 0x49) /* not -Infinity */ || (v >= 0x30 && v <= 0x39)) {
          if (c < 0 && what === RANKED) i = this.skipNumber(b, i, end);
          else {
            i = this.readNumber(b, i, end);
            if (i === NO) return NO;
            if (c >= 0) this.values[c] = Number.isFinite(this.number) ? this.number : Number.NaN;
            if (what === HELD_METRICS) this.heldNumber(keys.length - 1, this.number);
          }
        } else {
          // Holding, a metric that is not a number is kept another way.
          if (what === HELD_METRICS) return NO;
          i = this.skipValue(b, i, end, 2);
          if (c >= 0) this.values[c] = Number.NaN;
        }
        if (i === NO) return NO;
      }
      i = this.white(b, i, end);
      if (i >= end) return NO;
      const d = b[i]!;
      if (d === CLOSE_BRACE) return i + 1;
      if (d !== COMMA) return NO;
      i = this.white(b, i + 1, end);
    }
  }

  /** Sets held metric `k`'s value to `v`. */
  private heldNumber(k: number, v: number): void {
    if (k === this.metricValues.length) {
      const next = new Float64Array(2 * k);
      next.set(this.metricValues);
      this.metricValues = next;
    }
    this.metricValues[k] = v;
  }

  /** Which of the names the key `b[start, end)` is (-1: none). */
  private nameOf(b: Uint8Array, start: number, end: number): number {
    const names = this.names;
    for (let k = 0; k < names.length; k++) {
      const name = names[k]!;
      if (name.length === end - start && same(b, start, name)) return k;
    }
    return -1;
  }

  private white(b: Uint8Array, i: number, end: number): number {
    if (i < end && b[i]! > 0x20) return i;
    while (i < end && isWhite(b[i]!)) i++;
    return i;
  }

  /**
   * Reads the string whose text starts at `i` (after its `"`); returns where it ends (after its
   * closing quote), or {@link NO} when it is not valid JSON, or holds an escape and `plain`.
   * Sets `stringEnd` (at the closing quote) and `stringWide` (a byte outside ASCII).
   */
  private readString(b: Uint8Array, i: number, end: number, plain: boolean): number {
    let wide = false;
    for (;;) {
      while (i < end && STRING_BYTE[b[i]!] === 0) i++;
      if (i >= end) return NO;
      const c = b[i]!;
      if (c === QUOTE) {
        this.stringEnd = i;
        this.stringWide = wide;
        return i + 1;
      }
      if (c >= 0x80) {
        wide = true;
        i++;
        continue;
      }
      if (c !== BACKSLASH || plain || i + 1 >= end) return NO;
      const e = b[i + 1]!;
      if (e === 0x75 /* u */) {
        if (i + 6 > end || !isHex(b[i + 2]!) || !isHex(b[i + 3]!) || !isHex(b[i + 4]!) || !isHex(b[i + 5]!)) return NO;
        i += 6;
        continue;
      }
      if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return NO;
      i += 2;
    }
  }

  /**
   * Reads the JSON number at `i`; returns where it ends, or {@link NO} when the text there is
   * not one. Sets `number` to the double nearest it, as `JSON.parse` reads it: exactly, by one
   * rounding, when its digits and its power of ten are exact doubles, else by `Number`.
   */
  private readNumber(b: Uint8Array, start: number, end: number): number {
    let i = start;
    const negative = b[i] === MINUS;
    if (negative) i++;
    if (i >= end) return NO;
    let m = 0;
    let digits = 0;
    let scale = 0;
    let c = b[i]!;
    if (c === 0x30) i++;
    else if (c >= 0x31 && c <= 0x39) {
      while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) {
        m = m * 10 + (c - 0x30);
        digits++;
        i++;
      }
    } else return NO;
    if (i < end && b[i] === 0x2e /* . */) {
      i++;
      const from = i;
      while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) {
        if (m !== 0 || c !== 0x30) digits++;
        m = m * 10 + (c - 0x30);
        scale--;
        i++;
      }
      if (i === from) return NO;
    }
    const exact = digits <= 15;
    if (i < end && (b[i]! | 0x20) === 0x65 /* e */) {
      i++;
      let sign = 1;
      if (i < end && (b[i] === 0x2b || b[i] === MINUS)) {
        if (b[i] === MINUS) sign = -1;
        i++;
      }
      const from = i;
      let e = 0;
      while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) {
        if (e < 1e6) e = e * 10 + (c - 0x30);
        i++;
      }
      if (i === from) return NO;
      scale += sign * e;
    }
    if (m === 0) this.number = negative ? -0 : 0;
    else if (exact && scale >= -22 && scale <= 22) {
      const v = scale < 0 ? m / POW10[-scale]! : m * POW10[scale]!;
      this.number = negative ? -v : v;
    } else {
      let text = "";
      for (let j = start; j < i; j++) text += String.fromCharCode(b[j]!);
      this.number = Number(text);
    }
    return i;
  }

  /**
   * Skips the JSON value at `i`; returns where it ends, or {@link NO} when it is not valid JSON
   * (or nests deeper than {@link MAX_LINE_DEPTH} with the record around it).
   */
  private skipValue(b: Uint8Array, i: number, end: number, base = 1): number {
    const stack = this.stack;
    // The value is inside `base` containers (the record: 1); its own go on from there.
    let depth = base;
    for (;;) {
      if (i >= end) return NO;
      const c = b[i]!;
      // A value.
      if (c === QUOTE) i = this.readString(b, i + 1, end, false);
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth >= MAX_LINE_DEPTH) return NO;
        stack[++depth] = c;
        i = this.white(b, i + 1, end);
        if (i >= end) return NO;
        const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
        if (b[i] === close) {
          depth--;
          i++;
        } else if (c === OPEN_BRACE) {
          // A member: the key, then its value at the top of the loop.
          if (b[i] !== QUOTE) return NO;
          i = this.readString(b, i + 1, end, false);
          if (i === NO) return NO;
          i = this.white(b, i, end);
          if (i >= end || b[i] !== COLON) return NO;
          i = this.white(b, i + 1, end);
          continue;
        } else continue;
      } else if (c === MINUS || (c >= 0x30 && c <= 0x39)) i = c === MINUS && b[i + 1] === 0x49 ? literal(b, i, end, "-Infinity") : this.skipNumber(b, i, end);
      else if (c === 0x74) i = literal(b, i, end, "true");
      else if (c === 0x66) i = literal(b, i, end, "false");
      else if (c === 0x6e) i = literal(b, i, end, "null");
      // Python's bare NaN and Infinity, which the general way reads as null.
      else if (c === 0x4e) i = literal(b, i, end, "NaN");
      else if (c === 0x49) i = literal(b, i, end, "Infinity");
      else return NO;
      if (i === NO) return NO;
      // After a value: the end of containers, or the next element.
      for (;;) {
        if (depth === base) return i;
        i = this.white(b, i, end);
        if (i >= end) return NO;
        const d = b[i]!;
        const open = stack[depth]!;
        if (d === (open === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) {
          depth--;
          i++;
          continue;
        }
        if (d !== COMMA) return NO;
        i = this.white(b, i + 1, end);
        if (open === OPEN_BRACE) {
          if (i >= end || b[i] !== QUOTE) return NO;
          i = this.readString(b, i + 1, end, false);
          if (i === NO) return NO;
          i = this.white(b, i, end);
          if (i >= end || b[i] !== COLON) return NO;
          i = this.white(b, i + 1, end);
        }
        break;
      }
    }
  }

  /** Skips a JSON number at `i` (checking its form only); returns where it ends, or {@link NO}. */
  private skipNumber(b: Uint8Array, i: number, end: number): number {
    if (b[i] === MINUS) i++;
    if (i >= end) return NO;
    let c = b[i]!;
    if (c === 0x30) i++;
    else if (c >= 0x31 && c <= 0x39) while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) i++;
    else return NO;
    if (i < end && b[i] === 0x2e) {
      const from = ++i;
      while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) i++;
      if (i === from) return NO;
    }
    if (i < end && (b[i]! | 0x20) === 0x65) {
      i++;
      if (i < end && (b[i] === 0x2b || b[i] === MINUS)) i++;
      const from = i;
      while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) i++;
      if (i === from) return NO;
    }
    return i;
  }
}

/** Where the literal `word` at `i` ends, or {@link NO}. */
function literal(b: Uint8Array, i: number, end: number, word: string): number {
  if (i + word.length > end) return NO;
  for (let j = 1; j < word.length; j++) if (b[i + j] !== word.charCodeAt(j)) return NO;
  return i + word.length;
}

/** Whether `b[start, end)` is one digit or more and nothing else (an array index, to `JSON.parse`, when small enough). */
function allDigits(b: Uint8Array, start: number, end: number): boolean {
  if (start === end) return false;
  for (let i = start; i < end; i++) if (b[i]! < 0x30 || b[i]! > 0x39) return false;
  return true;
}

/** Whether the ASCII bytes `b[start, end)` are an id passing the id rule (`isValidId`). */
function idBytesValid(b: Uint8Array, start: number, end: number): boolean {
  const n = end - start;
  if (n < 1 || n > MAX_ID_LENGTH) return false;
  const first = b[start]!;
  if (!((first >= 0x30 && first <= 0x39) || ((first | 0x20) >= 0x61 && (first | 0x20) <= 0x7a))) return false;
  let previous = 0;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    const letterOrDigit = (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
    if (!(letterOrDigit || c === 0x2e || c === 0x5f || c === MINUS) || (c === 0x2e && previous === 0x2e)) return false;
    previous = c;
  }
  return true;
}
