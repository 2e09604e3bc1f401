import type { Experiment } from "../../core/experiment.js";
import { idProblem, isValidId, quoteId } from "../../core/ids.js";
import { parseCanonicalTimestamp, parseCanonicalTimestampBytes, parseTimestamp } from "../../core/time.js";
import type { RemoteLink } from "../store.js";
import { NumberColumn, PackedNumbers, PackedStrings } from "../../util/packed-strings.js";
import type { LeanLineReader, Spans } from "./lean-line.js";

/**
 * A line of the local registry (`experiments.jsonl`): the earlier Python tool's fields plus
 * expflow's own. Every field but `experiment_id` is optional when reading.
 */
export interface RegistryRecord {
  experiment_id: string;
  name?: string | null;
  status?: string;
  queue?: string | null;
  command?: string | string[] | null;
  project?: string | null;
  tags?: string[];
  timestamp?: string | number | null;
  method?: string | null;
  clearml_task_id?: string | null;
  metrics?: Record<string, unknown>;
  params?: Record<string, unknown>;
  /** Snapshot revision: 1 for the first line of an experiment, +1 for each change. */
  rev?: number;
  /** When this snapshot was written (ISO 8601). */
  updated_at?: string;
  /** Every lifecycle and archive event. */
  history?: unknown[];
  archived?: boolean;
  /** A tombstone: the experiment was deleted permanently (dropped by `registry compact`). */
  deleted?: boolean;
  [key: string]: unknown;
}

function str(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return null;
}

function created(v: unknown): string | null {
  if (typeof v === "string") return v === "" ? null : v;
  if (typeof v === "number" && Number.isFinite(v)) {
    // The earlier tool may have written time.time(): seconds since the epoch.
    const d = new Date(v > 1e12 ? v : v * 1000);
    return Number.isNaN(d.getTime()) ? null : d.toISOString();
  }
  return null;
}

// The two helpers below return the recorded value itself when it is already in shape, so a
// large registry is not copied record by record.
function tags(v: unknown): string[] {
  if (Array.isArray(v)) return v.every((t) => typeof t === "string") ? (v as string[]) : v.filter((t): t is string => typeof t === "string");
  if (typeof v === "string") return v.split(",").map((t) => t.trim()).filter((t) => t !== "");
  return [];
}

/** `v` when it is a plain object (not null, not an array), else `null`. */
export function plainObject(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function params(v: unknown): Record<string, string> {
  const o = plainObject(v);
  if (o === null) return {};
  let inShape = true;
  for (const k in o) {
    if (typeof o[k] !== "string") {
      inShape = false;
      break;
    }
  }
  if (inShape) return o as Record<string, string>;
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(o)) {
    if (value === null || value === undefined) continue;
    out[k] = typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return out;
}

/** The id of a parsed line, or `null` when it has none usable. */
export function recordId(o: Record<string, unknown>): string | null {
  const id = str(o["experiment_id"]);
  return id === null || id.trim() === "" ? null : id;
}

/**
 * The id of a parsed line when it passes the id rule (`src/core/ids.ts`), else why the line
 * counts as damaged: it has no id, or one that is not a name (`../experiments`, `a/b`, ...).
 */
export function checkedRecordId(o: Record<string, unknown>): { id: string } | { reason: string } {
  const id = recordId(o);
  if (id === null) return { reason: "record has no experiment_id" };
  const problem = idProblem(id);
  return problem === null ? { id } : { reason: `experiment_id ${quoteId(id)} is not a valid id: ${problem}` };
}

/**
 * The state of a record: its `status`, or `unknown` for a record without one (the earlier
 * tool's records may lack it). The one default, for listing and for transitions alike: such a
 * record is never ranked or certified as completed, and no lifecycle event applies to it
 * (`E_ILLEGAL_TRANSITION` names the states that do), where earlier a cancel took it for created.
 */
export function statusOf(o: Record<string, unknown>): string {
  return str(o["status"]) ?? "unknown";
}

/** Normalises a registry record (of either tool) into an {@link Experiment}. */
export function experimentFromRecord(o: Record<string, unknown>, id: string): Experiment {
  return {
    id,
    name: str(o["name"]),
    status: statusOf(o),
    project: str(o["project"]),
    tags: tags(o["tags"]),
    created: created(o["timestamp"] ?? o["created_at"]),
    metrics: plainObject(o["metrics"]) ?? {},
    params: params(o["params"]),
    archived: o["archived"] === true,
  };
}

const NO_TAGS: readonly string[] = Object.freeze([]);
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** A metric's value as a ranking reads it: a finite number, else NaN (missing). */
function rankedValue(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : Number.NaN;
}

/** Up to how many statuses met a status read from bytes is compared byte by byte (else it is decoded and looked up). */
const FEW_STATUSES = 16;

/** Flag bits of a lean row. */
const ARCHIVED = 1;
const NO_CREATED = 2;

/** Flag bits of a held row's packed fields. */
const HAS_NAME = 1;
const HAS_PROJECT = 2;
/** Its metrics are JSON text (a value that is not a number, or too many shapes), not numbers. */
const METRICS_AS_JSON = 4;
/** Its parameters are key and value pairs, not a shape's values. */
const PARAMS_AS_PAIRS = 8;

/**
 * The most distinct key sequences {@link KeyShapes} keeps, and the most keys in all of them; a
 * row with another is kept another way (so a file of ever new names costs its rows, not more).
 */
const MAX_SHAPES = 4096;
const MAX_SHAPE_KEYS = 1 << 16;

/**
 * The key sequences (in their order) of many objects of few shapes, each kept once: the metrics
 * and the parameters of a registry's records, which mostly share their names.
 */
class KeyShapes {
  readonly shapes: (readonly string[])[] = [];
  private readonly byKeys = new Map<string, number>();
  private last = -1;
  private keys = 0;

  /** Per shape: its keys' UTF-8 bytes (made when first needed). */
  private readonly bytes: (Buffer[] | undefined)[] = [];
  /** The shapes met by {@link ofSpans}, by the hash of their keys' bytes ({@link Spans.hash}). */
  private readonly byHash = new Map<number, number>();

  /** The shape of `o`'s keys, or -1 when there is no room for another ({@link MAX_SHAPES}). */
  of(o: Readonly<Record<string, unknown>>): number {
    const last = this.shapes[this.last];
    if (last !== undefined) {
      let j = 0;
      let same = true;
      for (const k in o) {
        if (k !== last[j]) {
          same = false;
          break;
        }
        j++;
      }
      if (same && j === last.length) return this.last;
    }
    return this.ofKeys(Object.keys(o));
  }

  /**
   * The shape of the keys at `keys` in `line` (an object's, in order), as {@link of} gives it
   * for the object they are of; -1 when there is no room for another, -2 when a key repeats
   * (the object's keys are then fewer, in another order). The shapes met are found by a hash of
   * the keys' bytes and compared byte by byte, so a line of a shape met decodes no key.
   */
  ofSpans(line: Buffer, keys: Spans): number {
    if (this.last >= 0 && this.sameKeys(this.last, line, keys)) return this.last;
    const known = this.byHash.get(keys.hash);
    if (known !== undefined && this.sameKeys(known, line, keys)) {
      this.last = known;
      return known;
    }
    const n = keys.length;
    const decoded: string[] = [];
    for (let j = 0; j < n; j++) decoded.push(line.toString("utf8", keys.starts[j]!, keys.ends[j]!));
    if (new Set(decoded).size !== n) return -2;
    const shape = this.ofKeys(decoded);
    if (shape >= 0) this.byHash.set(keys.hash, shape);
    return shape;
  }

  /** Whether shape `shape`'s keys are the keys at `keys` in `line`, byte for byte. */
  private sameKeys(shape: number, line: Buffer, keys: Spans): boolean {
    const want = (this.bytes[shape] ??= this.shapes[shape]!.map((k) => Buffer.from(k, "utf8")));
    const n = keys.length;
    if (want.length !== n) return false;
    for (let j = 0; j < n; j++) {
      const k = want[j]!;
      const start = keys.starts[j]!;
      if (k.length !== keys.ends[j]! - start) return false;
      for (let i = 0; i < k.length; i++) if (k[i] !== line[start + i]) return false;
    }
    return true;
  }

  /** The shape of the keys `keys` (distinct, in order), a new one when there is room. */
  private ofKeys(keys: string[]): number {
    const text = JSON.stringify(keys);
    let shape = this.byKeys.get(text);
    if (shape === undefined) {
      if (this.shapes.length >= MAX_SHAPES || this.keys + keys.length > MAX_SHAPE_KEYS) return -1;
      this.keys += keys.length;
      shape = this.shapes.push(keys) - 1;
      this.byKeys.set(text, shape);
    }
    this.last = shape;
    return shape;
  }
}

/** Sets an own property, `__proto__` included (as JSON.parse makes it), on a plain object. */
function put(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

/**
 * The rows of a lean listing, in columns: the ranked metrics' values (NaN: missing, or not a
 * finite number, which a ranking reads as missing), the creation time (as milliseconds when the
 * text is of the form `parseCanonicalTimestamp` reads, which gives that text back exactly; else
 * the text itself), the status (a code into the statuses met), the archived flag and where the
 * line is. The ids are packed in the {@link PackedStrings} given. A row costs about 60 bytes of
 * typed arrays and its id's bytes, not objects: little for the garbage collector to copy, so a
 * large registry ranks in less time and memory.
 *
 * Holding (`hold`), the rows keep the rest of each experiment too, packed: the name, project,
 * tags and parameters as bytes, every metric value as a number under its row's key sequence
 * (or, for metrics that are not all numbers, their JSON text). Each row then reads back as the
 * whole experiment `list` gives, for a ranking that shows every row.
 */
export class LeanColumns {
  private readonly values: NumberColumn;
  private readonly createdMs = new NumberColumn("f64");
  private readonly offsets = new NumberColumn("f64");
  private readonly lengths = new NumberColumn("f64");
  private readonly statusCodes = new NumberColumn("i32");
  private readonly flags = new NumberColumn("u8");
  private readonly idAt = new NumberColumn("f64");
  private rows = 0;
  private readonly statuses: string[] = [];
  private readonly statusCode = new Map<string, number>();
  /** The UTF-8 bytes of each status met, by code. */
  private readonly statusBytes: Buffer[] = [];
  /** The creation time's text of the rows where it is not of the canonical form. */
  private readonly createdText = new Map<number, string>();
  // Held rows only.
  private readonly texts: PackedStrings | null;
  private readonly textAt = new NumberColumn("f64");
  private readonly metricShape = new NumberColumn("i32");
  private readonly metricAt = new NumberColumn("f64");
  private readonly metricValues = new PackedNumbers();
  private readonly metricShapes = new KeyShapes();
  private readonly paramShapes = new KeyShapes();
  /** The parameters' and the metrics' shapes {@link canHold} found last. */
  private readonly readShapes = new Int32Array(2);

  /**
   * @param names the metrics a ranking reads, in columns.
   * @param ids where the ids given to {@link add} are packed.
   * @param hold keep every field of each record, not only what a ranking reads.
   */
  constructor(
    readonly names: readonly string[],
    private readonly ids: PackedStrings,
    hold = false,
  ) {
    this.values = new NumberColumn("f64", Math.max(1, names.length));
    this.texts = hold ? new PackedStrings(1 << 20) : null;
  }

  /**
   * Stores record `o` (its id packed at `idAt` in the ids, its line at `offset`, `bytes` long)
   * as a new row; returns its number.
   */
  add(o: Record<string, unknown>, idAt: number, offset: number, bytes: number): number {
    const row = this.rows++;
    this.idAt.set(row, idAt);
    const metrics = plainObject(o["metrics"]);
    const width = this.names.length;
    for (let c = 0; c < width; c++) {
      const name = this.names[c]!;
      this.values.set(row, metrics !== null && Object.hasOwn(metrics, name) ? rankedValue(metrics[name]) : Number.NaN, c);
    }
    this.statusCodes.set(row, this.statusCodeOf(statusOf(o)));
    const text = created(o["timestamp"] ?? o["created_at"]);
    let flags = o["archived"] === true ? ARCHIVED : 0;
    if (text === null) flags |= NO_CREATED;
    else {
      const ms = parseCanonicalTimestamp(text);
      this.createdMs.set(row, ms);
      if (Number.isNaN(ms)) this.createdText.set(row, text);
    }
    this.flags.set(row, flags);
    if (this.texts !== null) this.holdRest(row, o, metrics ?? {});
    else {
      this.offsets.set(row, offset);
      this.lengths.set(row, bytes);
    }
    return row;
  }

  /**
   * Holding, whether the record `reader` read from `line` can be held from its bytes: its
   * parameters' and its metrics' keys are each a shape ({@link KeyShapes.ofSpans}); else it is
   * to be added from its object ({@link add}), which keeps them another way. Their shapes are
   * kept for the {@link addRead} that follows.
   */
  canHold(reader: LeanLineReader, line: Buffer): boolean {
    const p = this.paramShapes.ofSpans(line, reader.paramKeys);
    const m = p < 0 ? p : this.metricShapes.ofSpans(line, reader.metricKeys);
    this.readShapes[0] = p;
    this.readShapes[1] = m;
    return p >= 0 && m >= 0;
  }

  /**
   * {@link add} of the record `reader` read from a line in `line` (at `offset` in the file,
   * `bytes` long; its id packed at `idAt` in the ids): the same row, without the record's
   * object. Holding, once after each {@link canHold} that said it can (`reader` read holding).
   */
  addRead(reader: LeanLineReader, line: Buffer, idAt: number, offset: number, bytes: number): number {
    const row = this.rows++;
    this.idAt.set(row, idAt);
    const values = reader.values;
    const width = this.names.length;
    for (let c = 0; c < width; c++) this.values.set(row, values[c]!, c);
    this.statusCodes.set(row, reader.hasStatus ? this.statusCodeOfBytes(line, reader.statusStart, reader.statusEnd) : this.statusCodeOf("unknown"));
    let flags = reader.archived ? ARCHIVED : 0;
    if (!reader.hasCreated) flags |= NO_CREATED;
    else {
      const ms = parseCanonicalTimestampBytes(line, reader.createdStart, reader.createdEnd);
      this.createdMs.set(row, ms);
      if (Number.isNaN(ms)) this.createdText.set(row, line.toString("latin1", reader.createdStart, reader.createdEnd));
    }
    this.flags.set(row, flags);
    if (this.texts !== null) this.holdRead(row, reader, line);
    else {
      this.offsets.set(row, offset);
      this.lengths.set(row, bytes);
    }
    return row;
  }

  /** {@link holdRest} of the record `reader` read from `line`, in the shapes {@link canHold} found. */
  private holdRead(row: number, reader: LeanLineReader, line: Buffer): void {
    const pShape = this.readShapes[0]!;
    const mShape = this.readShapes[1]!;
    if (!reader.hold || pShape < 0 || mShape < 0) throw new Error("LeanColumns.addRead: a held row is read holding, after canHold");
    this.readShapes[0] = -1;
    const texts = this.texts!;
    texts.begin();
    texts.addCount(0);
    const bits = (reader.hasName ? HAS_NAME : 0) | (reader.hasProject ? HAS_PROJECT : 0);
    // The strings' bytes as they are: read back, they decode as the line does (invalid UTF-8
    // included: a string of the line ends at an ASCII quote, where decoding is in step again).
    if (reader.hasName) texts.addBytes(line, reader.nameStart, reader.nameEnd);
    if (reader.hasProject) texts.addBytes(line, reader.projectStart, reader.projectEnd);
    const tags = reader.tags;
    texts.addCount(tags.length);
    for (let j = 0; j < tags.length; j++) texts.addBytes(line, tags.starts[j]!, tags.ends[j]!);
    texts.addCount(pShape);
    const pv = reader.paramValues;
    for (let j = 0; j < pv.length; j++) texts.addBytes(line, pv.starts[j]!, pv.ends[j]!);
    const n = reader.metricKeys.length;
    const run = this.metricValues.reserve(n);
    const values = this.metricValues.chunkOf(run);
    const from = this.metricValues.offsetOf(run);
    for (let j = 0; j < n; j++) values[from + j] = reader.metricValues[j]!;
    this.metricAt.set(row, run);
    this.metricShape.set(row, mShape);
    const at = texts.end();
    texts.setCount(at, bits);
    this.textAt.set(row, at);
  }

  /** The code of status `status`, a new one for a status not met before. */
  private statusCodeOf(status: string): number {
    let code = this.statusCode.get(status);
    if (code === undefined) {
      code = this.statuses.push(status) - 1;
      this.statusCode.set(status, code);
      this.statusBytes.push(Buffer.from(status, "utf8"));
    }
    return code;
  }

  /** {@link statusCodeOf} of the status whose ASCII bytes are `line[start, end)`: compared with the few statuses met, not decoded. */
  private statusCodeOfBytes(line: Buffer, start: number, end: number): number {
    const known = this.statusBytes;
    const n = end - start;
    if (known.length <= FEW_STATUSES) {
      for (let code = 0; code < known.length; code++) {
        const k = known[code]!;
        if (k.length !== n) continue;
        let j = 0;
        while (j < n && k[j] === line[start + j]) j++;
        if (j === n) return code;
      }
    }
    return this.statusCodeOf(line.toString("latin1", start, end));
  }

  /** Packs what a ranking does not read of record `o` (its metrics `metrics`) into held row `row`. */
  private holdRest(row: number, o: Record<string, unknown>, metrics: Record<string, unknown>): void {
    const texts = this.texts!;
    const name = str(o["name"]);
    const project = str(o["project"]);
    texts.begin();
    texts.addCount(0);
    let bits = (name === null ? 0 : HAS_NAME) | (project === null ? 0 : HAS_PROJECT);
    if (name !== null) texts.addString(name);
    if (project !== null) texts.addString(project);
    const t = tags(o["tags"]);
    texts.addCount(t.length);
    for (const tag of t) texts.addString(tag);
    const p = params(o["params"]);
    const pShape = this.paramShapes.of(p);
    if (pShape < 0) {
      bits |= PARAMS_AS_PAIRS;
      const keys = Object.keys(p);
      texts.addCount(keys.length);
      for (const k of keys) {
        texts.addString(k);
        texts.addString(p[k]!);
      }
    } else {
      texts.addCount(pShape);
      for (const k of this.paramShapes.shapes[pShape]!) texts.addString(p[k]!);
    }
    let mShape = -1;
    let numbers = true;
    for (const k in metrics) {
      if (typeof metrics[k] !== "number") {
        numbers = false;
        break;
      }
    }
    if (numbers) mShape = this.metricShapes.of(metrics);
    if (mShape < 0) {
      bits |= METRICS_AS_JSON;
      texts.addString(JSON.stringify(metrics));
    } else {
      const keys = this.metricShapes.shapes[mShape]!;
      const run = this.metricValues.reserve(keys.length);
      const values = this.metricValues.chunkOf(run);
      const from = this.metricValues.offsetOf(run);
      for (let j = 0; j < keys.length; j++) values[from + j] = metrics[keys[j]!] as number;
      this.metricAt.set(row, run);
    }
    this.metricShape.set(row, mShape);
    const at = texts.end();
    texts.setCount(at, bits);
    this.textAt.set(row, at);
  }

  /** The value of metric `c` in row `row` (NaN: missing). */
  value(row: number, c: number): number {
    return this.values.get(row, c);
  }

  /** Row `row`'s metrics as an object: held, every metric recorded; else each name asked for with a value. */
  metricsOf(row: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (this.texts !== null) {
      const shape = this.metricShape.get(row);
      if (shape < 0) return JSON.parse(this.texts.stringAt(this.heldAfterParams(row))) as Record<string, unknown>;
      const keys = this.metricShapes.shapes[shape]!;
      const run = this.metricAt.get(row);
      const values = this.metricValues.chunkOf(run);
      const from = this.metricValues.offsetOf(run);
      for (let j = 0; j < keys.length; j++) put(out, keys[j]!, values[from + j]!);
      return out;
    }
    for (let c = 0; c < this.names.length; c++) {
      const v = this.value(row, c);
      if (!Number.isNaN(v)) put(out, this.names[c]!, v);
    }
    return out;
  }

  /** Row `row` as a lean experiment. */
  experiment(row: number): LeanExperiment {
    return new LeanExperiment(row, this);
  }

  idOf(row: number): string {
    return this.ids.stringAt(this.idAt.get(row));
  }

  statusOf(row: number): string {
    return this.statuses[this.statusCodes.get(row)]!;
  }

  createdOf(row: number): string | null {
    if ((this.flags.get(row) & NO_CREATED) !== 0) return null;
    return this.createdText.get(row) ?? new Date(this.createdMs.get(row)).toISOString();
  }

  /** Row `row`'s creation time in milliseconds, as `parseTimestamp` reads its text (NaN: none, or not a date). */
  createdTimeOf(row: number): number {
    if ((this.flags.get(row) & NO_CREATED) !== 0) return Number.NaN;
    const text = this.createdText.get(row);
    return text === undefined ? this.createdMs.get(row) : parseTimestamp(text);
  }

  /**
   * `metricsOf(row)[name]` when an own property, else `undefined`, without making the object:
   * held, the recorded value; else, of a metric asked for, its value when a finite number.
   */
  metricOf(row: number, name: string): unknown {
    if (this.texts !== null) {
      const shape = this.metricShape.get(row);
      if (shape < 0) {
        const all = this.metricsOf(row);
        return Object.hasOwn(all, name) ? all[name] : undefined;
      }
      const j = this.metricShapes.shapes[shape]!.indexOf(name);
      if (j < 0) return undefined;
      const run = this.metricAt.get(row);
      return this.metricValues.chunkOf(run)[this.metricValues.offsetOf(run) + j];
    }
    const c = this.names.indexOf(name);
    if (c < 0) return undefined;
    const v = this.value(row, c);
    return Number.isNaN(v) ? undefined : v;
  }

  archivedOf(row: number): boolean {
    return (this.flags.get(row) & ARCHIVED) !== 0;
  }

  offsetOf(row: number): number {
    return this.offsets.get(row);
  }

  bytesOf(row: number): number {
    return this.lengths.get(row);
  }

  /** A held row's name (`null` when not held). */
  nameOf(row: number): string | null {
    const texts = this.texts;
    if (texts === null) return null;
    const at = this.textAt.get(row);
    return (texts.countAt(at) & HAS_NAME) === 0 ? null : texts.stringAt(texts.afterCount(at));
  }

  /** A held row's project (`null` when not held). */
  projectOf(row: number): string | null {
    const texts = this.texts;
    if (texts === null) return null;
    const at = this.textAt.get(row);
    const bits = texts.countAt(at);
    if ((bits & HAS_PROJECT) === 0) return null;
    const first = texts.afterCount(at);
    return texts.stringAt((bits & HAS_NAME) === 0 ? first : texts.afterString(first));
  }

  /** A held row's tags (none when not held). */
  tagsOf(row: number): readonly string[] {
    const texts = this.texts;
    if (texts === null) return NO_TAGS;
    const count = this.heldTags(row);
    const n = texts.countAt(count);
    let at = texts.afterCount(count);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push(texts.stringAt(at));
      at = texts.afterString(at);
    }
    return out;
  }

  /** A held row's parameters (none when not held). */
  paramsOf(row: number): Readonly<Record<string, string>> {
    const texts = this.texts;
    if (texts === null) return NO_PARAMS;
    const count = this.heldParams(row);
    const out: Record<string, string> = {};
    const n = texts.countAt(count);
    let at = texts.afterCount(count);
    if ((texts.countAt(this.textAt.get(row)) & PARAMS_AS_PAIRS) !== 0) {
      for (let i = 0; i < n; i++) {
        const k = texts.stringAt(at);
        at = texts.afterString(at);
        put(out, k, texts.stringAt(at));
        at = texts.afterString(at);
      }
    } else {
      for (const k of this.paramShapes.shapes[n]!) {
        put(out, k, texts.stringAt(at));
        at = texts.afterString(at);
      }
    }
    return out;
  }

  /** Where a held row's tag count is. */
  private heldTags(row: number): number {
    const texts = this.texts!;
    const start = this.textAt.get(row);
    const bits = texts.countAt(start);
    return texts.afterStrings(texts.afterCount(start), ((bits & HAS_NAME) === 0 ? 0 : 1) + ((bits & HAS_PROJECT) === 0 ? 0 : 1));
  }

  /** Where a held row's parameters start (their count or shape). */
  private heldParams(row: number): number {
    const texts = this.texts!;
    const tags = this.heldTags(row);
    return texts.afterStrings(texts.afterCount(tags), texts.countAt(tags));
  }

  /** Where what follows a held row's parameters is (its metrics' JSON, when so kept). */
  private heldAfterParams(row: number): number {
    const texts = this.texts!;
    const params = this.heldParams(row);
    const n = texts.countAt(params);
    const pairs = (texts.countAt(this.textAt.get(row)) & PARAMS_AS_PAIRS) !== 0;
    return texts.afterStrings(texts.afterCount(params), pairs ? 2 * n : this.paramShapes.shapes[n]!.length);
  }
}

/**
 * What a ranking reads of a record (a row of {@link LeanColumns}): its id, status, creation
 * time, archived flag and some metrics, with where its line is in the file, so the whole record
 * can be read again for the few rows shown. `name`, `project`, `tags` and `params` are empty;
 * `metrics` holds the metrics asked for that are finite numbers (the others rank as missing
 * anyway). Of a holding listing's columns, it is the whole experiment instead, every field read
 * back from the columns. Each field is made afresh at each read.
 */
export class LeanExperiment implements Experiment {
  readonly #row: number;
  readonly #columns: LeanColumns;

  constructor(row: number, columns: LeanColumns) {
    this.#row = row;
    this.#columns = columns;
  }

  get id(): string {
    return this.#columns.idOf(this.#row);
  }

  get status(): string {
    return this.#columns.statusOf(this.#row);
  }

  get created(): string | null {
    return this.#columns.createdOf(this.#row);
  }

  get archived(): boolean {
    return this.#columns.archivedOf(this.#row);
  }

  get metrics(): Readonly<Record<string, unknown>> {
    return this.#columns.metricsOf(this.#row);
  }

  get name(): string | null {
    return this.#columns.nameOf(this.#row);
  }

  get project(): string | null {
    return this.#columns.projectOf(this.#row);
  }

  get tags(): readonly string[] {
    return this.#columns.tagsOf(this.#row);
  }

  get params(): Readonly<Record<string, string>> {
    return this.#columns.paramsOf(this.#row);
  }

  /** The experiment's fields, as `list` gives them (of a lean one: what it holds). */
  toJSON(): Experiment {
    return { id: this.id, name: this.name, status: this.status, project: this.project, tags: this.tags, created: this.created, metrics: this.metrics, params: this.params, archived: this.archived };
  }

  /** Whether this is a row of `columns`. */
  isOf(columns: LeanColumns): boolean {
    return this.#columns === columns;
  }

  /** The byte offset of the record's line in the registry. */
  get offset(): number {
    return this.#columns.offsetOf(this.#row);
  }

  /** The line's length in bytes. */
  get bytes(): number {
    return this.#columns.bytesOf(this.#row);
  }

  /**
   * Whether `whole` (read again) is the record this was made of: same id, status, creation
   * time, archived flag and ranked metric values. A registry rewritten in place between the two
   * reads fails it.
   */
  isMadeOf(whole: Experiment): boolean {
    if (whole.id !== this.id || whole.status !== this.status || whole.created !== this.created || (whole.archived === true) !== this.archived) return false;
    const { names } = this.#columns;
    for (let c = 0; c < names.length; c++) {
      const recorded = Object.hasOwn(whole.metrics, names[c]!) ? rankedValue(whole.metrics[names[c]!]) : Number.NaN;
      if (!Object.is(recorded, this.#columns.value(this.#row, c))) return false;
    }
    return true;
  }
}


/**
 * The remote task a record is linked to: its `clearml_task_id` (the earlier tool's field), with
 * `clearml_server` when expflow recorded it; `undefined` for a local run (and for a task id that
 * breaks the id rule of `core/ids.ts`).
 */
export function linkOf(o: Record<string, unknown>): RemoteLink | undefined {
  const taskId = o["clearml_task_id"];
  // A task id that breaks the id rule names no task: it is never sent, nor put in a path or a link.
  if (!isValidId(taskId)) return undefined;
  const server = o["clearml_server"];
  return { kind: "clearml", taskId, ...(typeof server === "string" && server !== "" ? { server } : {}) };
}
