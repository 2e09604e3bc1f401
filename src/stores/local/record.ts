import type { Experiment } from "../../core/experiment.js";
import { idProblem, isValidId, quoteId } from "../../core/ids.js";
import { parseCanonicalTimestamp } from "../../core/time.js";
import type { RemoteLink } from "../store.js";

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

/** `a` copied into a new array of `size` elements. */
function grown<T extends Float64Array | Int32Array | Uint8Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/** Flag bits of a lean row. */
const ARCHIVED = 1;
const NO_CREATED = 2;

/**
 * The rows of a lean listing, in columns: the ranked metrics' values (NaN: missing, or not a
 * finite number, which a ranking reads as missing), the creation time (as milliseconds when the
 * text is of the form `parseCanonicalTimestamp` reads, which gives that text back exactly; else
 * the text itself), the status (a code into the statuses met), the archived flag and where the
 * line is. A row costs its id and about 60 bytes of typed arrays, not objects: little for the
 * garbage collector to copy, so a large registry ranks in less time and memory.
 */
export class LeanColumns {
  private values: Float64Array;
  private createdMs: Float64Array;
  private offsets: Float64Array;
  private lengths: Float64Array;
  private statusCodes: Int32Array;
  private flags: Uint8Array;
  private capacity = 1024;
  private rows = 0;
  private readonly statuses: string[] = [];
  private readonly statusCode = new Map<string, number>();
  /** The creation time's text of the rows where it is not of the canonical form. */
  private readonly createdText = new Map<number, string>();
  private readonly ids: string[] = [];

  constructor(readonly names: readonly string[]) {
    this.values = new Float64Array(this.capacity * names.length);
    this.createdMs = new Float64Array(this.capacity);
    this.offsets = new Float64Array(this.capacity);
    this.lengths = new Float64Array(this.capacity);
    this.statusCodes = new Int32Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
  }

  /** Stores what a ranking reads of record `o` (id `id`, its line at `offset`, `bytes` long) as a new row; returns its number. */
  add(o: Record<string, unknown>, id: string, offset: number, bytes: number): number {
    if (this.rows === this.capacity) {
      this.capacity *= 2;
      this.values = grown(this.values, this.capacity * this.names.length);
      this.createdMs = grown(this.createdMs, this.capacity);
      this.offsets = grown(this.offsets, this.capacity);
      this.lengths = grown(this.lengths, this.capacity);
      this.statusCodes = grown(this.statusCodes, this.capacity);
      this.flags = grown(this.flags, this.capacity);
    }
    const row = this.rows++;
    this.ids.push(id);
    const metrics = plainObject(o["metrics"]);
    const width = this.names.length;
    for (let c = 0; c < width; c++) {
      const name = this.names[c]!;
      this.values[row * width + c] = metrics !== null && Object.hasOwn(metrics, name) ? rankedValue(metrics[name]) : Number.NaN;
    }
    const status = statusOf(o);
    let code = this.statusCode.get(status);
    if (code === undefined) {
      code = this.statuses.push(status) - 1;
      this.statusCode.set(status, code);
    }
    this.statusCodes[row] = code;
    const text = created(o["timestamp"] ?? o["created_at"]);
    let flags = o["archived"] === true ? ARCHIVED : 0;
    if (text === null) flags |= NO_CREATED;
    else {
      const ms = parseCanonicalTimestamp(text);
      this.createdMs[row] = ms;
      if (Number.isNaN(ms)) this.createdText.set(row, text);
    }
    this.flags[row] = flags;
    this.offsets[row] = offset;
    this.lengths[row] = bytes;
    return row;
  }

  /** The value of metric `c` in row `row` (NaN: missing). */
  value(row: number, c: number): number {
    return this.values[row * this.names.length + c]!;
  }

  /** Row `row`'s metrics as an object: each name with a value. */
  metricsOf(row: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (let c = 0; c < this.names.length; c++) {
      const v = this.value(row, c);
      if (!Number.isNaN(v)) out[this.names[c]!] = v;
    }
    return out;
  }

  /** Row `row` as a lean experiment. */
  experiment(row: number): LeanExperiment {
    return new LeanExperiment(this.ids[row]!, row, this);
  }

  statusOf(row: number): string {
    return this.statuses[this.statusCodes[row]!]!;
  }

  createdOf(row: number): string | null {
    if ((this.flags[row]! & NO_CREATED) !== 0) return null;
    return this.createdText.get(row) ?? new Date(this.createdMs[row]!).toISOString();
  }

  archivedOf(row: number): boolean {
    return (this.flags[row]! & ARCHIVED) !== 0;
  }

  offsetOf(row: number): number {
    return this.offsets[row]!;
  }

  bytesOf(row: number): number {
    return this.lengths[row]!;
  }
}

/**
 * What a ranking reads of a record (a row of {@link LeanColumns}): its id, status, creation
 * time, archived flag and some metrics, kept in the listing's {@link LeanColumns}, with where its
 * line is in the file, so the whole record can be read again for the few rows shown. `name`,
 * `project`, `tags` and `params` are empty; `metrics` holds the metrics asked for that are finite
 * numbers (the others rank as missing anyway), made afresh at each read.
 */
export class LeanExperiment implements Experiment {
  constructor(
    readonly id: string,
    private readonly row: number,
    private readonly columns: LeanColumns,
  ) {}

  get status(): string {
    return this.columns.statusOf(this.row);
  }

  get created(): string | null {
    return this.columns.createdOf(this.row);
  }

  get archived(): boolean {
    return this.columns.archivedOf(this.row);
  }

  get metrics(): Readonly<Record<string, unknown>> {
    return this.columns.metricsOf(this.row);
  }

  get name(): null {
    return null;
  }

  get project(): null {
    return null;
  }

  get tags(): readonly string[] {
    return NO_TAGS;
  }

  get params(): Readonly<Record<string, string>> {
    return NO_PARAMS;
  }

  /** The byte offset of the record's line in the registry. */
  get offset(): number {
    return this.columns.offsetOf(this.row);
  }

  /** The line's length in bytes. */
  get bytes(): number {
    return this.columns.bytesOf(this.row);
  }

  /**
   * Whether `whole` (read again) is the record this was made of: same id, status, creation
   * time, archived flag and ranked metric values. A registry rewritten in place between the two
   * reads fails it.
   */
  isMadeOf(whole: Experiment): boolean {
    if (whole.id !== this.id || whole.status !== this.status || whole.created !== this.created || (whole.archived === true) !== this.archived) return false;
    const { names } = this.columns;
    for (let c = 0; c < names.length; c++) {
      const recorded = Object.hasOwn(whole.metrics, names[c]!) ? rankedValue(whole.metrics[names[c]!]) : Number.NaN;
      if (!Object.is(recorded, this.columns.value(this.row, c))) return false;
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
