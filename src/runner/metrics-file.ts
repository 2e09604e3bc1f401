import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { ExpflowError } from "../core/errors.js";
import type { MetricRegistry, MetricValues } from "../core/metrics/registry.js";
import { validateMetricValues } from "../core/metrics/registry.js";
import { nestedDeeperThan } from "../util/jsonl.js";
import { plainObject } from "../stores/local/record.js";

/** A value a run reported that the metrics registry refused; kept in the record, never dropped. */
export interface RejectedMetric {
  /** The name as reported (cut to {@link MetricsFileLimits.maxKeptChars}), or `null` for a line that held no JSON object. */
  readonly name: string | null;
  /**
   * The value as reported: a number, boolean or `null` as it was; a string, or the JSON text of
   * anything else, or the text of a damaged line, cut to {@link MetricsFileLimits.maxKeptChars}.
   */
  readonly value: unknown;
  /** Why it was refused (the registry's message, cut to {@link MetricsFileLimits.maxReasonChars}). */
  readonly reason: string;
}

/** What a metrics file yielded: the validated values (canonical names) and the refused entries. */
export interface IngestedMetrics {
  readonly accepted: MetricValues;
  readonly rejected: RejectedMetric[];
}

/** The bounds on what a run's metrics file can make the runner read and keep. */
export interface MetricsFileLimits {
  /** Bytes of the file read; the rest is not read, and one rejected entry says so (default 4 MiB). */
  readonly maxFileBytes: number;
  /** Characters of one line (JSON lines); a longer line is rejected unparsed (default 65,536). */
  readonly maxLineChars: number;
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
  maxFileBytes: 4 * 1024 * 1024,
  maxLineChars: 65_536,
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
  constructor(private readonly limits: MetricsFileLimits) {}

  add(name: string | null, value: unknown, reason: string): void {
    if (this.kept.length >= this.limits.maxRejectedKept) {
      this.dropped++;
      return;
    }
    const n = this.limits.maxKeptChars;
    let kept: unknown;
    if (value === undefined || value === null) kept = null;
    else if (typeof value === "number" || typeof value === "boolean") kept = value;
    else if (typeof value === "string") kept = cut(value, n);
    else kept = cut(JSON.stringify(value) ?? String(value), n);
    this.kept.push({ name: name === null ? null : cut(name, n), value: kept, reason: cut(reason, this.limits.maxReasonChars) });
  }

  list(): RejectedMetric[] {
    if (this.dropped === 0) return this.kept;
    return [...this.kept, { name: null, value: null, reason: `${this.dropped} more rejected entr${this.dropped === 1 ? "y" : "ies"} not kept (at most ${this.limits.maxRejectedKept} are)` }];
  }
}

/**
 * Parses and validates the text of a run's metrics file (`EXPFLOW_METRICS_FILE`).
 *
 * The file holds one JSON object, or one JSON object a line (JSON lines); blank lines are
 * ignored. Later values win: a name reported again (under its own name or an alias) replaces the
 * earlier value. Each resulting name/value is validated on its own through `registry`, so one bad
 * entry never drops the good ones; refused entries, and lines that are not a JSON object, come
 * back in `rejected`. Bounded by `limits` (see {@link MetricsFileLimits}): a line longer or
 * deeper than allowed is rejected unparsed, names past `maxMetrics` are rejected, and at most
 * `maxRejectedKept` rejected entries come back (one more counts the rest), each cut short.
 * Never throws on bad content.
 */
export function ingestMetricsText(text: string, registry: MetricRegistry, limits: MetricsFileLimits = DEFAULT_METRICS_FILE_LIMITS): IngestedMetrics {
  return ingest(text, registry, limits, new Rejections(limits));
}

function ingest(text: string, registry: MetricRegistry, limits: MetricsFileLimits, rejected: Rejections): IngestedMetrics {
  const objects: Record<string, unknown>[] = [];
  const trimmed = text.trim();
  if (trimmed === "") return { accepted: {}, rejected: rejected.list() };
  const tooDeep = `nests deeper than ${limits.maxDepth} levels`;
  let whole: unknown;
  let parsedWhole = false;
  let wholeTooDeep = false;
  // One document (possibly pretty-printed over lines) is tried first; JSON lines otherwise.
  const oneLine = !trimmed.includes("\n");
  if ((oneLine && trimmed.length <= limits.maxLineChars) || (!oneLine && (trimmed.startsWith("{") || trimmed.startsWith("[")))) {
    if (nestedDeeperThan(trimmed, limits.maxDepth)) wholeTooDeep = oneLine;
    else {
      try {
        whole = JSON.parse(trimmed);
        parsedWhole = true;
      } catch {
        // not a single JSON document: read it as JSON lines below
      }
    }
  }
  if (wholeTooDeep) {
    rejected.add(null, trimmed.slice(0, limits.maxKeptChars), `the metrics file ${tooDeep}`);
  } else if (parsedWhole) {
    const o = plainObject(whole);
    if (o !== null) objects.push(o);
    else rejected.add(null, trimmed.slice(0, limits.maxKeptChars), "the metrics file holds JSON that is not an object of name: value");
  } else {
    let start = 0;
    for (let i = 1; start <= text.length; i++) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end > start && text.charCodeAt(end - 1) === 0x0d ? end - 1 : end);
      start = end + 1;
      if (line.trim() === "") continue;
      const shown = line.slice(0, limits.maxKeptChars);
      if (line.length > limits.maxLineChars) {
        rejected.add(null, shown, `line ${i} is longer than ${limits.maxLineChars} characters`);
        continue;
      }
      if (nestedDeeperThan(line, limits.maxDepth)) {
        rejected.add(null, shown, `line ${i} ${tooDeep}`);
        continue;
      }
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        rejected.add(null, shown, `line ${i} is not valid JSON`);
        continue;
      }
      const o = plainObject(v);
      if (o !== null) objects.push(o);
      else rejected.add(null, shown, `line ${i} is not a JSON object of name: value`);
    }
  }
  // Later wins, keyed by the canonical name when the name is registered (an alias and its
  // metric are the same entry). A Map: names like `__proto__` are names like any other.
  const latest = new Map<string, { name: string; value: unknown }>();
  for (const o of objects) {
    for (const [name, value] of Object.entries(o)) {
      const key = registry.resolve(name) ?? name;
      if (!latest.has(key) && latest.size >= limits.maxMetrics) {
        rejected.add(name, value, `more than ${limits.maxMetrics} distinct metric names in one run`);
        continue;
      }
      latest.delete(key);
      latest.set(key, { name, value });
    }
  }
  const accepted = new Map<string, number>();
  for (const { name, value } of latest.values()) {
    try {
      for (const [canonical, n] of Object.entries(validateMetricValues(new Map([[name, value]]), registry))) accepted.set(canonical, n);
    } catch (e) {
      if (!(e instanceof ExpflowError)) throw e;
      rejected.add(name, value, e.message);
    }
  }
  return { accepted: Object.fromEntries(accepted), rejected: rejected.list() };
}

/**
 * Reads and ingests the metrics file at `path` (see {@link ingestMetricsText}), reading at most
 * `limits.maxFileBytes` bytes: a larger file is read up to its last complete line within the
 * limit, and one rejected entry says how much was not read.
 *
 * @throws the file system's error when the file cannot be opened or read.
 */
export function readMetricsFile(path: string, registry: MetricRegistry, limits: MetricsFileLimits = DEFAULT_METRICS_FILE_LIMITS): IngestedMetrics {
  // Non-blocking: a run that made its metrics file a FIFO must not hang the runner at open.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let buf: Buffer;
  let size: number;
  let got = 0;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      const rejected = new Rejections(limits);
      rejected.add(null, null, "the metrics file is not a regular file: not read");
      return { accepted: {}, rejected: rejected.list() };
    }
    size = stat.size;
    buf = Buffer.alloc(Math.min(size, limits.maxFileBytes) + 1);
    // One byte more than the limit: a file that grew since fstat still shows it is over.
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  const rejected = new Rejections(limits);
  let text: string;
  if (got > limits.maxFileBytes) {
    const within = buf.subarray(0, limits.maxFileBytes);
    const lastNewline = within.lastIndexOf(0x0a);
    text = within.subarray(0, lastNewline < 0 ? 0 : lastNewline).toString("utf8");
    rejected.add(null, null, `the metrics file is ${Math.max(size, got)} bytes, over the limit of ${limits.maxFileBytes}: only its lines within the first ${limits.maxFileBytes} bytes were read`);
  } else {
    text = buf.subarray(0, got).toString("utf8");
  }
  return ingest(text, registry, limits, rejected);
}
