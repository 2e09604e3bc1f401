import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import type { MetricHistory } from "../core/metrics/history.js";
import { MetricSeries, pointsPerMetric } from "../core/metrics/history.js";
import type { MetricRegistry, MetricValues } from "../core/metrics/registry.js";
import { customNameProblem, declareMetricHint, metricNumber, notFiniteMessage, STEP_KEYS, unknownMetricProblem } from "../core/metrics/registry.js";
import { didYouMean } from "../core/suggest.js";
import { nestedDeeperThan } from "../util/jsonl.js";
import { plainObject } from "../stores/local/record.js";

/** A value a run reported that the metrics registry refused; kept in the record, never dropped. */
export interface RejectedMetric {
  /** The name as reported (cut to {@link MetricsFileLimits.maxKeptChars}), or `null` for a line that held no JSON object. */
  readonly name: string | null;
  /**
   * The value as reported: a finite number, boolean or `null` as it was; `NaN`, `Infinity` and
   * `-Infinity` as that text; a string, or the JSON text of anything else, or the text of a
   * damaged line, cut to {@link MetricsFileLimits.maxKeptChars}.
   */
  readonly value: unknown;
  /** Why it was refused (the registry's message, cut to {@link MetricsFileLimits.maxReasonChars}). */
  readonly reason: string;
}

/** What a metrics file yielded: the validated values (canonical names) and the refused entries. */
export interface IngestedMetrics {
  /** The latest value of each metric, registered (canonical name) or custom. */
  readonly accepted: MetricValues;
  readonly rejected: RejectedMetric[];
  /** The accepted names the registry does not know, kept as custom metrics, in order of first entry. */
  readonly custom: string[];
  /** Every accepted metric's history. */
  readonly history: Record<string, MetricHistory>;
}

/** The bounds on what a run's metrics file can make the runner read and keep. */
export interface MetricsFileLimits {
  /**
   * Bytes read at one look while the run goes (the agent's other runs wait meanwhile); at the
   * run's end the runner reads on, this much at a time, to the end (default 4 MiB).
   */
  readonly maxReadBytes: number;
  /**
   * Unread bytes at which the reader gives up catching up: it skips to the last
   * {@link maxReadBytes} of the file (from the next whole line), and one rejected entry says how
   * much was skipped (default 64 MiB). So a file that grows by gigabytes costs a bounded read.
   */
  readonly maxBacklogBytes: number;
  /** Characters of one line (JSON lines); a longer line is rejected unparsed (default 65,536). */
  readonly maxLineChars: number;
  /** Characters of a JSON document spread over lines (pretty-printed); longer is read as lines (default 4 MiB). */
  readonly maxDocumentChars: number;
  /** Nesting depth of a line's (or the file's) JSON; deeper is rejected unparsed (default 32). */
  readonly maxDepth: number;
  /** Distinct metric names per run; further names are rejected (default 1,000). */
  readonly maxMetrics: number;
  /** Rejected entries kept in the record and the log; one more entry counts the rest (default 100). */
  readonly maxRejectedKept: number;
  /** Characters kept of a rejected entry's name and value (default 200). */
  readonly maxKeptChars: number;
  /** Characters kept of a rejected entry's reason (default 500). */
  readonly maxReasonChars: number;
}

/** The default {@link MetricsFileLimits}, as documented in the README's Limits section. */
export const DEFAULT_METRICS_FILE_LIMITS: MetricsFileLimits = Object.freeze({
  maxReadBytes: 4 * 1024 * 1024,
  maxBacklogBytes: 64 * 1024 * 1024,
  maxLineChars: 65_536,
  maxDocumentChars: 4 * 1024 * 1024,
  maxDepth: 32,
  maxMetrics: 1_000,
  maxRejectedKept: 100,
  maxKeptChars: 200,
  maxReasonChars: 500,
});

function cut(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

/** Collects rejected entries up to the cap, counting the rest. */
class Rejections {
  private readonly kept: RejectedMetric[] = [];
  private dropped = 0;
  /** Changes since the last {@link MetricsIngest.takeChanges}. */
  changed = false;
  constructor(private readonly limits: MetricsFileLimits) {}

  add(name: string | null, value: unknown, reason: string): void {
    this.changed = true;
    if (this.kept.length >= this.limits.maxRejectedKept) {
      this.dropped++;
      return;
    }
    const n = this.limits.maxKeptChars;
    let kept: unknown;
    if (value === undefined || value === null) kept = null;
    // JSON has no NaN or infinities: the record keeps them as the text Python wrote.
    else if (typeof value === "number") kept = Number.isFinite(value) ? value : String(value);
    else if (typeof value === "boolean") kept = value;
    else if (typeof value === "string") kept = cut(value, n);
    else kept = cut(JSON.stringify(value) ?? String(value), n);
    this.kept.push({ name: name === null ? null : cut(name, n), value: kept, reason: cut(reason, this.limits.maxReasonChars) });
  }

  get size(): number {
    return this.kept.length + this.dropped;
  }

  list(): RejectedMetric[] {
    if (this.dropped === 0) return [...this.kept];
    return [...this.kept, { name: null, value: null, reason: `${this.dropped} more rejected entr${this.dropped === 1 ? "y" : "ies"} not kept (at most ${this.limits.maxRejectedKept} are)` }];
  }
}

// Python's json.dumps writes NaN, Infinity and -Infinity bare; they are read as these strings
// and turned back into numbers, so each such value is refused on its own with its reason. (A
// string the run wrote with these exact characters is no number either: refused the same way.)
const NON_FINITE: ReadonlyMap<string, number> = new Map([
  ["\u0000NaN", Number.NaN],
  ["\u0000Infinity", Number.POSITIVE_INFINITY],
  ["\u0000-Infinity", Number.NEGATIVE_INFINITY],
]);

/** `text` with the bare `NaN`, `Infinity` and `-Infinity` tokens outside strings made the strings of {@link NON_FINITE}. */
function quoteNonFinite(text: string): string {
  let out = "";
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const token = text.startsWith("-Infinity", i) ? "-Infinity" : text.startsWith("Infinity", i) ? "Infinity" : text.startsWith("NaN", i) ? "NaN" : undefined;
    if (token === undefined) continue;
    out += `${text.slice(from, i)}"\\u0000${token}"`;
    i += token.length - 1;
    from = i + 1;
  }
  return out + text.slice(from);
}

/** One parsed line: an object, or why it is none. */
type Parsed = { object: Record<string, unknown> } | { reason: string };

/**
 * Parses JSON text (a line, or a document spread over lines) as a metrics entry: a JSON object
 * whose bare `NaN`/`Infinity`/`-Infinity` values (as Python writes them) are read as those
 * numbers. Deeper than `maxDepth` is refused unparsed.
 */
function parseEntry(text: string, maxDepth: number, what: string): Parsed {
  if (nestedDeeperThan(text, maxDepth)) return { reason: `${what} nests deeper than ${maxDepth} levels` };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    if (!/NaN|Infinity/.test(text)) return { reason: `${what} is not valid JSON` };
    try {
      v = JSON.parse(quoteNonFinite(text));
    } catch {
      return { reason: `${what} is not valid JSON` };
    }
  }
  const o = plainObject(v);
  if (o === null) return { reason: `${what} is not a JSON object of name: value` };
  for (const [k, value] of Object.entries(o)) {
    if (typeof value === "string" && NON_FINITE.has(value)) Object.defineProperty(o, k, { value: NON_FINITE.get(value), enumerable: true, writable: true, configurable: true });
  }
  return { object: o };
}

/** What changed in an ingest since the last look: what a snapshot of the record merges. */
export interface MetricsChanges {
  /** The latest value of each metric that got an entry since the last look. */
  readonly metrics: MetricValues;
  /** The history of every metric of the run (the record's `metric_history` is the runner's). */
  readonly history: Record<string, MetricHistory>;
  /** Every rejected entry so far, when there are new ones; otherwise `undefined`. */
  readonly rejected: RejectedMetric[] | undefined;
  /** Custom metrics first seen since the last look. */
  readonly newCustom: string[];
}

/**
 * The entries of a run's metrics file, folded as they come: each value is judged on its own
 * (a refused one never drops the rest of its line), the latest value of each metric wins, and
 * every metric keeps a bounded history ({@link MetricSeries}). Unregistered names are kept as
 * custom metrics unless the registry is strict. Memory is bounded by `limits.maxMetrics` and
 * `limits.maxRejectedKept`, whatever the file holds. Pure.
 */
export class MetricsIngest {
  // Maps: metric names such as `__proto__` or `constructor` are names like any other.
  private readonly series = new Map<string, MetricSeries>();
  private readonly custom = new Set<string>();
  private readonly dirty = new Set<string>();
  private newCustom: string[] = [];
  private readonly rejections: Rejections;

  constructor(
    private readonly registry: MetricRegistry,
    private readonly limits: MetricsFileLimits = DEFAULT_METRICS_FILE_LIMITS,
  ) {
    this.rejections = new Rejections(limits);
  }

  /** Records a refused entry. */
  reject(name: string | null, value: unknown, reason: string): void {
    this.rejections.add(name, value, reason);
  }

  /** How many entries were refused so far. */
  get rejectedCount(): number {
    return this.rejections.size;
  }

  /**
   * Folds one entry (a JSON object of name: value). Its step is `step`, else `iteration` (a
   * finite number; a bad one is refused and the entry counts without a step). Within one entry a
   * metric given twice (under its name and an alias) counts once, the later value winning.
   */
  entry(o: Record<string, unknown>): void {
    let step: number | undefined;
    for (const key of STEP_KEYS) {
      if (!Object.hasOwn(o, key)) continue;
      const raw = o[key];
      const n = metricNumber(raw);
      if (step !== undefined) {
        if (n !== step) this.reject(key, raw, `the entry's step is given twice, as step ${step} and as ${key}: step is used`);
      }
      else if (n === undefined) this.reject(key, raw, `the entry's ${key} must be a finite number; its values count without a step`);
      else step = n;
    }
    const values = new Map<string, { name: string; value: number; custom: boolean }>();
    for (const [name, value] of Object.entries(o)) {
      if (STEP_KEYS.includes(name)) continue;
      let canonical = this.registry.resolve(name);
      let custom = false;
      if (canonical === undefined) {
        if (this.registry.strict) {
          this.reject(name, value, `${unknownMetricProblem(name, this.registry)} To keep it, ${declareMetricHint(name)}`);
          continue;
        }
        const problem = customNameProblem(name);
        if (problem !== null) {
          this.reject(name, value, `not kept as a custom metric: ${problem}`);
          continue;
        }
        canonical = name;
        custom = true;
      }
      const n = metricNumber(value);
      if (n === undefined) {
        this.reject(name, value, notFiniteMessage(name, value));
        continue;
      }
      if (!this.series.has(canonical) && !values.has(canonical) && this.series.size + values.size >= this.limits.maxMetrics) {
        this.reject(name, value, `more than ${this.limits.maxMetrics} distinct metric names in one run`);
        continue;
      }
      values.delete(canonical);
      values.set(canonical, { name, value: n, custom });
    }
    for (const [canonical, { value, custom }] of values) {
      let s = this.series.get(canonical);
      if (s === undefined) {
        s = new MetricSeries();
        this.series.set(canonical, s);
        if (custom) {
          this.custom.add(canonical);
          this.newCustom.push(canonical);
        }
      }
      s.add(value, step);
      this.dirty.add(canonical);
    }
  }

  /** The latest value of every metric. */
  accepted(): MetricValues {
    const out = new Map<string, number>();
    for (const [name, s] of this.series) out.set(name, s.last!);
    return Object.fromEntries(out);
  }

  /** The accepted names the registry does not know. */
  customNames(): string[] {
    return [...this.custom];
  }

  /** Every metric's history, each thinned so the whole stays within the record's budget. */
  history(): Record<string, MetricHistory> {
    const points = pointsPerMetric(this.series.size);
    const out = new Map<string, MetricHistory>();
    for (const [name, s] of this.series) out.set(name, s.toJSON(points)!);
    return Object.fromEntries(out);
  }

  /** Every rejected entry (at most `maxRejectedKept`, then one counting the rest). */
  rejected(): RejectedMetric[] {
    return this.rejections.list();
  }

  /** What {@link IngestedMetrics} reports of everything so far. */
  result(): IngestedMetrics {
    return { accepted: this.accepted(), rejected: this.rejected(), custom: this.customNames(), history: this.history() };
  }

  /** What changed since the last call (`undefined`: nothing), for a snapshot of the record. */
  takeChanges(): MetricsChanges | undefined {
    if (this.dirty.size === 0 && !this.rejections.changed) return undefined;
    const metrics = new Map<string, number>();
    for (const name of this.dirty) metrics.set(name, this.series.get(name)!.last!);
    const changes: MetricsChanges = {
      metrics: Object.fromEntries(metrics),
      history: this.history(),
      rejected: this.rejections.changed ? this.rejected() : undefined,
      newCustom: this.newCustom,
    };
    this.dirty.clear();
    this.rejections.changed = false;
    this.newCustom = [];
    return changes;
  }

  /** Takes back a {@link takeChanges} whose snapshot could not be written: the next one carries it. */
  restoreChanges(changes: MetricsChanges): void {
    for (const name of Object.keys(changes.metrics)) this.dirty.add(name);
    if (changes.rejected !== undefined) this.rejections.changed = true;
    this.newCustom = [...changes.newCustom, ...this.newCustom];
  }

  /** A note on custom metrics, in the library's words (no flags): which names, and how to give them a direction. */
  customNote(names: readonly string[]): string {
    const typos = names
      .map((n) => ({ n, hint: didYouMean(n, this.registry.allNames()) }))
      .filter((x) => x.hint !== "")
      .map((x) => `'${x.n}':${x.hint}`);
    const list = names.map((n) => `'${n}'`).join(", ");
    return `custom metric${names.length === 1 ? "" : "s"} ${list} (not registered) kept as reported; to rank by ${names.length === 1 ? "it" : "one"} best-first, ${declareMetricHint(names.length === 1 ? names[0] : undefined)}${typos.length > 0 ? `. ${typos.join(" ")}` : ""}`;
  }
}

/**
 * Turns the lines of a metrics file into entries: JSON lines, or one JSON document spread over
 * lines (pretty-printed), told apart by the first line: a first line that is no JSON but starts
 * with `{` or `[` starts a document, read whole once it closes (up to
 * {@link MetricsFileLimits.maxDocumentChars}); should a later line be a JSON object on its own,
 * or the document never close, its lines are read as JSON lines after all. Blank lines are
 * ignored. Each line is bounded: longer than `maxLineChars` or deeper than `maxDepth` is refused
 * unparsed.
 */
export class MetricsLines {
  private lineNo = 0;
  /** Line numbers are known until the reader skips part of the file; then places are byte offsets. */
  private numbered = true;
  private mode: "start" | "lines" | "document" = "start";
  private document: { text: string; label: string }[] = [];
  private documentChars = 0;

  constructor(
    readonly ingest: MetricsIngest,
    private readonly limits: MetricsFileLimits = DEFAULT_METRICS_FILE_LIMITS,
  ) {}

  /** The file was replaced or rewritten: what follows is a new file, read from its start. */
  restart(): void {
    this.flushDocumentAsLines();
    this.lineNo = 0;
    this.numbered = true;
    this.mode = "start";
  }

  /** Part of the file was skipped: line numbers are no longer known. */
  skipped(): void {
    this.flushDocumentAsLines();
    this.numbered = false;
    this.mode = "start";
  }

  /** Counts a line that was not read whole (too long), returning how to name it. */
  skipLine(atByte: number): string {
    this.lineNo++;
    return this.label(atByte);
  }

  private label(atByte: number): string {
    return this.numbered ? `line ${this.lineNo}` : `the line at byte ${atByte}`;
  }

  /**
   * Takes one line (without its line break). `atByte` is where it starts in the file.
   * `tentative`: the file's last line, not ended yet; taken only if it is a whole JSON object (or
   * closes the document), else nothing is counted and `false` is returned, so it is read again.
   */
  line(text: string, atByte: number, tentative = false): boolean {
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.trim() === "") {
      if (!tentative) this.lineNo++;
      return !tentative;
    }
    const label = (): string => this.label(atByte);
    if (text.length > this.limits.maxLineChars) {
      if (tentative) return false;
      this.lineNo++;
      this.flushDocumentAsLines();
      this.mode = "lines";
      this.ingest.reject(null, text.slice(0, this.limits.maxKeptChars), `${label()} is longer than ${this.limits.maxLineChars} characters`);
      return true;
    }
    if (this.mode === "document") return this.documentLine(text, atByte, tentative);
    const parsed = parseEntry(text, this.limits.maxDepth, "");
    if ("object" in parsed) {
      this.lineNo++;
      this.mode = "lines";
      this.ingest.entry(parsed.object);
      return true;
    }
    if (tentative) return false;
    this.lineNo++;
    const first = text.trimStart()[0];
    if (this.mode === "start" && (first === "{" || first === "[") && parsed.reason.endsWith("is not valid JSON")) {
      this.mode = "document";
      this.document = [{ text, label: label() }];
      this.documentChars = text.length;
      return true;
    }
    this.mode = "lines";
    this.ingest.reject(null, text.slice(0, this.limits.maxKeptChars), `${label()}${parsed.reason}`);
    return true;
  }

  private documentLine(text: string, atByte: number, tentative: boolean): boolean {
    const alone = parseEntry(text, this.limits.maxDepth, "");
    if ("object" in alone) {
      // A JSON object on a line of its own: these are JSON lines after all (the first was broken).
      this.flushDocumentAsLines();
      this.mode = "lines";
      this.lineNo++;
      this.ingest.entry(alone.object);
      return true;
    }
    const closes = /^\s*[}\]]/.test(text);
    if (closes) {
      const whole = [...this.document.map((l) => l.text), text].join("\n");
      const first = this.document[0]!.label;
      const parsed = parseEntry(whole, this.limits.maxDepth, `the JSON document from ${first}`);
      if ("object" in parsed) {
        this.lineNo++;
        this.document = [];
        this.documentChars = 0;
        this.mode = "start";
        this.ingest.entry(parsed.object);
        return true;
      }
      if (!parsed.reason.endsWith("is not valid JSON")) {
        // It closed, but holds no object of name: value (an array, or too deep): one rejection.
        this.lineNo++;
        this.ingest.reject(null, whole.slice(0, this.limits.maxKeptChars), parsed.reason);
        this.document = [];
        this.documentChars = 0;
        this.mode = "start";
        return true;
      }
    }
    if (tentative) return false;
    this.lineNo++;
    this.document.push({ text, label: this.label(atByte) });
    this.documentChars += text.length + 1;
    if (this.documentChars > this.limits.maxDocumentChars) {
      this.flushDocumentAsLines();
      this.mode = "lines";
    }
    return true;
  }

  /** A document that never closed is read as the lines it is. */
  private flushDocumentAsLines(): void {
    if (this.document.length === 0) return;
    const lines = this.document;
    this.document = [];
    this.documentChars = 0;
    this.mode = "lines";
    for (const l of lines) {
      const parsed = parseEntry(l.text, this.limits.maxDepth, "");
      if ("object" in parsed) this.ingest.entry(parsed.object);
      else this.ingest.reject(null, l.text.slice(0, this.limits.maxKeptChars), `${l.label}${parsed.reason}`);
    }
  }

  /** The end of the file, for good (the run ended): a document still open is read as lines. */
  finish(): void {
    this.flushDocumentAsLines();
  }
}

/**
 * Parses and validates the whole text of a run's metrics file (`EXPFLOW_METRICS_FILE`), as the
 * runner reads it (see {@link MetricsLines} and {@link MetricsIngest}). Never throws on bad
 * content.
 */
export function ingestMetricsText(text: string, registry: MetricRegistry, limits: MetricsFileLimits = DEFAULT_METRICS_FILE_LIMITS): IngestedMetrics {
  const ingest = new MetricsIngest(registry, limits);
  const lines = new MetricsLines(ingest, limits);
  let start = 0;
  for (;;) {
    const end = text.indexOf("\n", start);
    lines.line(text.slice(start, end < 0 ? text.length : end), start);
    if (end < 0) break;
    start = end + 1;
  }
  lines.finish();
  return ingest.result();
}

/** Bytes compared at the start of the file and before the read offset, to notice a rewrite. */
const FINGERPRINT_BYTES = 256;

/** What one look at the file did. */
export interface TailRead {
  /** Bytes taken (whole lines, or a last line that is a whole object). */
  readonly bytes: number;
  /** Unread bytes are left (the look stopped at its budget). */
  readonly more: boolean;
  /** Something to say in the run's log (the file replaced, part of it skipped), if anything. */
  readonly notes: string[];
}

/**
 * Reads a run's metrics file incrementally, while the run writes it: each {@link read} opens
 * the file by its path, takes only what was appended since the last read (whole lines; a last
 * line without its line break is left for the next read, unless it already is a whole JSON
 * object) and feeds it to {@link MetricsLines}. The file is opened non-blocking and only a
 * regular file is read (a FIFO or a device is refused once, never waited on).
 *
 * A file replaced (another inode), truncated (shorter than what was read) or rewritten (its first
 * bytes, or those before the read offset, changed) is read again from its start. A line longer
 * than allowed is skipped to its end without being kept in memory; more than
 * {@link MetricsFileLimits.maxBacklogBytes} unread skips to the file's last part.
 */
export class MetricsFileTail {
  private offset = 0;
  private identity: string | undefined;
  private head: Buffer = Buffer.alloc(0);
  private tail: Buffer = Buffer.alloc(0);
  /** Inside a line too long to keep: bytes are dropped up to its line break. */
  private skipping = false;
  private refused: string | undefined;
  /** The last line was taken before its line break came. */
  private tookPartial = false;
  /** What was said in the log already (each kind once). */
  private readonly said = new Set<string>();

  constructor(
    readonly path: string,
    readonly lines: MetricsLines,
    private readonly limits: MetricsFileLimits = DEFAULT_METRICS_FILE_LIMITS,
  ) {}

  /**
   * Takes what was appended since the last read, up to `budget` bytes (default
   * `maxReadBytes`). `final`: the run has ended, so a last line without its line break is taken
   * as it is. A missing file is nothing yet.
   *
   * @throws the file system's error when the file exists but cannot be opened or read.
   */
  read(options: { final?: boolean; budget?: number } = {}): TailRead {
    const notes: string[] = [];
    let fd: number;
    try {
      // Non-blocking: a run that made its metrics file a FIFO must not hang the runner at open.
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { bytes: 0, more: false, notes };
      throw e;
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) {
        const what = stat.isDirectory() ? "a directory" : stat.isFIFO() ? "a FIFO" : "not a regular file";
        if (this.refused !== what) this.lines.ingest.reject(null, null, `the metrics file is not a regular file (${what}): not read`);
        this.refused = what;
        return { bytes: 0, more: false, notes };
      }
      this.refused = undefined;
      const identity = `${stat.dev}:${stat.ino}`;
      const size = stat.size;
      if (this.identity !== undefined && (identity !== this.identity || size < this.offset || !this.unchanged(fd))) {
        const how = identity !== this.identity ? "replaced" : size < this.offset ? "truncated" : "rewritten";
        if (!this.said.has(how)) notes.push(`the metrics file was ${how} while the run went on: read again from its start, what it holds now counting as new entries (said once)`);
        this.said.add(how);
        this.offset = 0;
        this.skipping = false;
        this.tookPartial = false;
        this.head = Buffer.alloc(0);
        this.tail = Buffer.alloc(0);
        this.lines.restart();
      }
      this.identity = identity;
      if (size - this.offset > this.limits.maxBacklogBytes) {
        const to = size - this.limits.maxReadBytes;
        this.lines.ingest.reject(
          null,
          null,
          `the metrics file grew faster than it is read: bytes ${this.offset} to ${to} of ${size} (${to - this.offset} bytes) were skipped, over the limit of ${this.limits.maxBacklogBytes} unread; reading went on from the next whole line`,
        );
        notes.push(`the metrics file grew by more than ${this.limits.maxBacklogBytes} bytes unread: skipped ${to - this.offset} bytes to its last part`);
        this.offset = to;
        this.skipping = true;
        this.tookPartial = false;
        this.lines.skipped();
      }
      const budget = Math.max(1, options.budget ?? this.limits.maxReadBytes);
      const start = this.offset;
      const end = Math.min(size, this.offset + budget);
      this.consume(fd, end, options.final === true && end === size);
      if (this.offset > 0 && this.head.length < Math.min(FINGERPRINT_BYTES, this.offset)) this.head = readAt(fd, 0, Math.min(FINGERPRINT_BYTES, this.offset));
      this.tail = readAt(fd, Math.max(0, this.offset - FINGERPRINT_BYTES), Math.min(FINGERPRINT_BYTES, this.offset));
      return { bytes: this.offset - start, more: this.offset < size && end < size, notes };
    } finally {
      closeSync(fd);
    }
  }

  /** Whether the bytes remembered at the start and before the offset are still there. */
  private unchanged(fd: number): boolean {
    if (this.head.length > 0 && !readAt(fd, 0, this.head.length).equals(this.head)) return false;
    return this.tail.length === 0 || readAt(fd, this.offset - this.tail.length, this.tail.length).equals(this.tail);
  }

  /** Reads from the offset up to `end`, in chunks, feeding whole lines. */
  private consume(fd: number, end: number, final: boolean): void {
    const maxLineBytes = this.limits.maxLineChars * 3;
    const chunkBytes = Math.max(maxLineBytes + 1, 1024 * 1024);
    while (this.offset < end) {
      const want = Math.min(chunkBytes, end - this.offset);
      const buf = readAt(fd, this.offset, want);
      if (buf.length === 0) break;
      let pos = 0;
      // The line break of a last line taken before it had one is no line of its own.
      if (this.tookPartial && buf[0] === 0x0a) pos = 1;
      this.tookPartial = false;
      for (;;) {
        const nl = buf.indexOf(0x0a, pos);
        if (nl < 0) break;
        if (this.skipping) this.skipping = false;
        else this.lines.line(buf.toString("utf8", pos, nl), this.offset + pos);
        pos = nl + 1;
      }
      const restBytes = buf.length - pos;
      const atEnd = this.offset + buf.length >= end;
      if (this.skipping) {
        // Still inside a line too long to keep: drop it all.
        pos = buf.length;
      } else if (restBytes > maxLineBytes) {
        // A line this long cannot be within the limit (a character is at most 3 bytes of UTF-8 per UTF-16 unit): refused without reading it into memory.
        const label = this.lines.skipLine(this.offset + pos);
        this.lines.ingest.reject(null, buf.toString("utf8", pos, pos + this.limits.maxKeptChars), `${label} is longer than ${this.limits.maxLineChars} characters`);
        this.skipping = true;
        pos = buf.length;
      } else if (restBytes > 0 && atEnd) {
        const text = buf.toString("utf8", pos);
        if (this.lines.line(text, this.offset + pos, !final)) {
          pos = buf.length;
          this.tookPartial = !final;
        }
      }
      this.offset += pos;
      if (pos === 0 || atEnd) break;
      // A line cut by the chunk: the next chunk starts at it.
    }
    if (final) this.lines.finish();
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * Reads and ingests the whole metrics file at `path` at once (see {@link MetricsFileTail}), as
 * the runner does at a run's end: bounded by `limits` (more than `maxBacklogBytes` is read from
 * its last part, and one rejected entry says what was skipped).
 *
 * @throws the file system's error when the file cannot be opened or read.
 */
export function readMetricsFile(path: string, registry: MetricRegistry, limits: MetricsFileLimits = DEFAULT_METRICS_FILE_LIMITS): IngestedMetrics {
  const ingest = new MetricsIngest(registry, limits);
  const tail = new MetricsFileTail(path, new MetricsLines(ingest, limits), limits);
  while (tail.read({ final: true }).more) {
    // read on to the end
  }
  return ingest.result();
}
