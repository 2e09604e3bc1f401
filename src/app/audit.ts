import { ExpflowError } from "../core/errors.js";
import type { Experiment } from "../core/experiment.js";
import { assertValidId } from "../core/ids.js";
import type { RegistryRecord } from "../stores/local/record.js";
import { experimentFromRecord, plainObject } from "../stores/local/record.js";
import type { Store } from "../stores/store.js";
import type { LocalBackend } from "./backend.js";
import { runRecord } from "./runs.js";

/** What an audit reads: from a registry record, or from a ClearML task. */
export interface AuditSubject {
  /** The id the report shows. */
  readonly label: string;
  readonly experiment: Experiment;
  /** The metrics and parameters checked (a local record's as written, unnormalised). */
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly params: Readonly<Record<string, unknown>>;
  /** Where the metrics and parameters came from, for the report. */
  readonly source: string | null;
}

/** Opens the backends an audit may read, only when it needs them. */
export interface AuditBackends {
  readonly local: () => Promise<LocalBackend>;
  /** The ClearML store (for `taskId` and records linked to a task). */
  readonly clearml: () => Store;
}

/** The ClearML task a record links to, checked by the id rule. @throws {UsageError} `E_BAD_ID`. */
function linkedTask(record: RegistryRecord): string | null {
  const t = record.clearml_task_id;
  if (typeof t === "string" && t.trim() !== "") return assertValidId(t.trim(), "ClearML task id");
  if (typeof t === "number" && Number.isFinite(t)) return assertValidId(String(t), "ClearML task id");
  return null;
}

/** The ClearML task `taskId`, as an audit subject labelled `label`. */
async function taskSubject(store: Store, label: string, taskId: string): Promise<AuditSubject> {
  const task = await store.require(taskId);
  return { label, experiment: task, metrics: task.metrics, params: task.params, source: `ClearML task ${taskId} on ${store.location}` };
}

/**
 * The experiment to audit: with `taskId`, that ClearML task (the id is then only a label);
 * otherwise the latest live record by id or unique prefix, and a record linked to a ClearML task
 * (`clearml_task_id`) takes its status, tags, metrics and parameters from that task, where they
 * are current (a stale local status must not certify a task that was stopped), keeping the local
 * id, name and project.
 */
export async function auditSubject(backends: AuditBackends, id: string, taskId?: string): Promise<AuditSubject> {
  if (taskId !== undefined) {
    // The id first: one that is not a name is exit 2 before ClearML is even looked for.
    const task = assertValidId(taskId, "ClearML task id");
    return taskSubject(backends.clearml(), id, task);
  }
  // The latest live record by id or unique prefix (a full read also finds ids written with \u escapes).
  const record = await runRecord(await backends.local(), id);
  const task = linkedTask(record);
  if (task === null) {
    return {
      label: record.experiment_id,
      experiment: experimentFromRecord(record, record.experiment_id),
      metrics: plainObject(record.metrics) ?? {},
      params: plainObject(record.params) ?? {},
      source: null,
    };
  }
  let linked: AuditSubject;
  try {
    linked = await taskSubject(backends.clearml(), record.experiment_id, task);
  } catch (e) {
    // Say why ClearML is needed at all: the user asked about a local experiment. The error keeps
    // its class, code, hint and ClearML details.
    if (e instanceof ExpflowError) e.message = `experiment ${record.experiment_id} is linked to ClearML task ${task}, whose metrics and parameters are read from ClearML: ${e.message}`;
    throw e;
  }
  const local = experimentFromRecord(record, record.experiment_id);
  return { ...linked, experiment: { ...linked.experiment, id: local.id, name: local.name ?? linked.experiment.name, project: local.project ?? linked.experiment.project } };
}
