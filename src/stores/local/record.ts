import type { Experiment } from "../../core/experiment.js";
import { idProblem, isValidId, quoteId } from "../../core/ids.js";
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

/**
 * The metric values of a lean listing's rows, a column per metric name (NaN: missing, or not a
 * finite number, which a ranking reads as missing): 8 bytes a value instead of an object a row.
 */
export class LeanColumns {
  private values: Float64Array;
  private rows = 0;

  constructor(readonly names: readonly string[]) {
    this.values = new Float64Array(Math.max(1, names.length) * 1024);
  }

  /** Stores the named metrics of `metrics` (a record's, as written) as a new row; returns its number. */
  add(metrics: Record<string, unknown> | null): number {
    const width = this.names.length;
    if ((this.rows + 1) * width > this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    const at = this.rows * width;
    for (let c = 0; c < width; c++) {
      const name = this.names[c]!;
      this.values[at + c] = metrics !== null && Object.hasOwn(metrics, name) ? rankedValue(metrics[name]) : Number.NaN;
    }
    return this.rows++;
  }

  /** The value of metric `c` in row `row` (NaN: missing). */
  value(row: number, c: number): number {
    return this.values[row * this.names.length + c]!;
  }

  /** Row `row` as a metrics object: each name with a value. */
  metricsOf(row: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (let c = 0; c < this.names.length; c++) {
      const v = this.value(row, c);
      if (!Number.isNaN(v)) out[this.names[c]!] = v;
    }
    return out;
  }
}

/**
 * What a ranking reads of a record ({@link leanExperimentFromRecord}): its id, status, creation
 * time, archived flag and some metrics, with where its line is in the file, so the whole record
 * can be read again for the few rows shown. `name`, `project`, `tags` and `params` are empty;
 * `metrics` holds the metrics asked for that are finite numbers (the others rank as missing
 * anyway), made afresh from the listing's columns at each read.
 */
export class LeanExperiment implements Experiment {
  constructor(
    readonly id: string,
    readonly status: string,
    readonly created: string | null,
    readonly archived: boolean,
    /** The byte offset of the record's line in the registry. */
    readonly offset: number,
    /** The line's length in bytes. */
    readonly bytes: number,
    private readonly row: number,
    private readonly columns: LeanColumns,
  ) {}

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

  get metrics(): Readonly<Record<string, unknown>> {
    return this.columns.metricsOf(this.row);
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
 * A record as {@link experimentFromRecord} normalises it, but keeping only the metrics of
 * `columns` (in them) and no name, project, tags or params.
 */
export function leanExperimentFromRecord(o: Record<string, unknown>, id: string, columns: LeanColumns, offset: number, bytes: number): LeanExperiment {
  const row = columns.add(plainObject(o["metrics"]));
  return new LeanExperiment(id, statusOf(o), created(o["timestamp"] ?? o["created_at"]), o["archived"] === true, offset, bytes, row, columns);
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
