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
