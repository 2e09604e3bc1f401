/**
 * JSON Schemas for the request bodies the fake ClearML server accepts, one per endpoint, written
 * from the ClearML server's API definitions (`apiserver/schema/services/*.conf`, API 2.31) and
 * checked against how its code reads them (`apiserver/apimodels/*.py`, `apiserver/services/*.py`).
 *
 * The real server does not validate bodies against these definitions: endpoints with a request
 * model (jsonmodels) check the types and the required fields of the model's keys (400/12) and
 * DROP every other key silently; endpoints without one (`tasks.get_all`, `projects.get_all`,
 * `events.add_batch`) check nothing. The fake does the same, and records what the real server
 * would let pass silently as a violation: every schema here sets `additionalProperties: false`
 * so that an unknown key is found, dropped from the body and recorded (see `validate.ts`).
 */
import type { SchemaObject } from "ajv";

const str: SchemaObject = { type: "string" };
const bool: SchemaObject = { type: "boolean" };
const int: SchemaObject = { type: "integer" };
const obj: SchemaObject = { type: "object" };
const stringList: SchemaObject = { type: "array", items: { type: "string" } };
/** A list filter: strings (values, `-x`, `__$` operators) and `null` (matches empty lists); a lone string is read as a list of one (get_list_field_query). */
const filterList: SchemaObject = { type: ["array", "string"], items: { type: ["string", "null"] } };

/** Values of `task.status` (task.py `TaskStatus`). */
export const TASK_STATUSES = ["created", "queued", "in_progress", "stopped", "published", "publishing", "closed", "failed", "completed", "unknown"] as const;

/** Values of `task.type` (task.py `TaskType`; `report` is in the model though not in tasks.conf). */
export const TASK_TYPES = ["training", "testing", "inference", "data_processing", "application", "monitor", "controller", "report", "optimizer", "service", "qc", "custom"] as const;

/**
 * Top-level fields of a task document (task.py `Task`). A name outside this list in
 * `only_fields` or `order_by` is recorded as a violation: the real server would return nothing
 * for it, silently.
 */
export const TASK_FIELDS = [
  "id", "name", "user", "company", "type", "status", "comment", "report", "created", "started", "completed",
  "active_duration", "parent", "project", "output", "execution", "script", "tags", "system_tags",
  "status_changed", "status_message", "status_reason", "published", "last_worker",
  "last_worker_report", "last_update", "last_change", "last_changed_by", "last_iteration",
  "last_metrics", "hyperparams", "configuration", "runtime", "models", "container", "enqueue_status",
] as const;

/** Top-level fields of a project document (projects.conf `project` definition). */
export const PROJECT_FIELDS = [
  "id", "name", "basename", "description", "user", "company", "created", "tags", "system_tags",
  "default_output_destination", "last_update",
] as const;

/** Top-level fields of a queue document (queue.py `Queue`). */
export const QUEUE_FIELDS = ["id", "name", "display_name", "company", "created", "tags", "system_tags", "entries", "last_update", "metadata"] as const;

/** `_all_` / `_any_`: one regular expression tried against several fields. */
const multiFieldPattern: SchemaObject = {
  type: "object",
  properties: { pattern: str, fields: stringList, datetime: { type: ["string", "array"] } },
  required: ["fields"],
  additionalProperties: false,
};

/** Paging and scrolling keys shared by the `get_all` calls. */
const paging: Record<string, SchemaObject> = {
  page: { type: "integer", minimum: 0, description: "Page number (page_size defaults to 500)" },
  page_size: { type: "integer", minimum: 1, description: "Page size (the server caps it at 500)" },
  order_by: { ...stringList, description: "Field paths; '-' prefix for descending" },
  // The reference types scroll_id as a string; a scroll starts with the key present and null.
  scroll_id: { type: ["string", "null"], description: "null to start a scroll, then the returned id" },
  refresh_scroll: bool,
  size: { type: "integer", minimum: 1, description: "Scroll batch size (not capped)" },
};

/** Time filters (`[">=2026-01-01T00:00:00"]`, or `[min, max]`). */
const dateFilter: SchemaObject = { type: ["string", "array"], items: { type: ["string", "null"] } };
/** Range filters `[min, max]` (either may be null). */
const rangeFilter: SchemaObject = { type: "array", items: { type: ["string", "number", "null"] } };

/** `tasks.get_all` request (versions 2.1, 2.14, 2.15, 2.23, 2.26). The server checks nothing; unknown keys are ignored. */
export const tasksGetAll: SchemaObject = {
  type: "object",
  properties: {
    id: filterList,
    name: { type: "string", description: "Regular expression, unanchored, case-sensitive" },
    comment: { type: "string", description: "Regular expression" },
    user: filterList,
    project: filterList,
    type: filterList,
    tags: filterList,
    system_tags: filterList,
    status: filterList,
    parent: filterList,
    "execution.queue": filterList,
    status_changed: dateFilter,
    last_update: dateFilter,
    last_change: dateFilter,
    created: rangeFilter,
    started: rangeFilter,
    last_iteration: rangeFilter,
    only_fields: stringList,
    search_text: str,
    _all_: multiFieldPattern,
    _any_: multiFieldPattern,
    search_hidden: bool,
    include_subprojects: bool,
    allow_public: bool,
    ...paging,
  },
  additionalProperties: false,
};

/** `projects.get_all` request (versions 2.1, 2.13, 2.14, 2.15). `include_stats` exists only in the internal `get_all_ex`. */
export const projectsGetAll: SchemaObject = {
  type: "object",
  properties: {
    id: filterList,
    name: { type: "string", description: "Regular expression, unanchored, case-sensitive" },
    basename: str,
    description: str,
    tags: filterList,
    system_tags: filterList,
    search_text: str,
    only_fields: stringList,
    _all_: multiFieldPattern,
    _any_: multiFieldPattern,
    shallow_search: bool,
    search_hidden: bool,
    ...paging,
  },
  additionalProperties: false,
};

/** `tasks.get_by_id` request (model TaskRequest). */
export const tasksGetById: SchemaObject = { type: "object", properties: { task: str }, required: ["task"], additionalProperties: false };

/** `tasks.get_hyper_params` request (2.9, model GetHyperParamsRequest). */
export const tasksGetHyperParams: SchemaObject = {
  type: "object",
  properties: { tasks: { ...stringList, minItems: 1 } },
  required: ["tasks"],
  additionalProperties: false,
};

/** `auth.login` request. */
export const authLogin: SchemaObject = { type: "object", properties: { expiration_sec: { type: "integer", minimum: 1 } }, additionalProperties: false };

/** A request that takes no parameters (`debug.ping`, `server.info`, `queues.get_default`). */
export const empty: SchemaObject = { type: "object", properties: {}, additionalProperties: false };

/**
 * One line of an `events.add_batch` body: a scalar event (events.conf `metrics_scalar_event`).
 * Stricter than the reference, which requires only `task` and `type` and lets the server fill in
 * the timestamp: the fake requires every field a scalar report needs, and a timestamp in epoch
 * milliseconds (a value in seconds, below 1e11, is refused). Other event types are not simulated.
 * The value must also be finite; JSON Schema cannot say so, the server checks it after parsing.
 */
export const scalarEvent: SchemaObject = {
  type: "object",
  properties: {
    type: { type: "string", enum: ["training_stats_scalar"] },
    task: { type: "string", minLength: 1 },
    metric: { type: "string", minLength: 1 },
    variant: { type: "string", minLength: 1 },
    value: { type: "number" },
    iter: { type: "integer", minimum: 0 },
    timestamp: { type: "integer", minimum: 100_000_000_000, description: "Epoch milliseconds" },
    x_axis_label: str,
    worker: str,
    model_event: { type: "boolean", enum: [false], description: "Model events are not simulated" },
    allow_locked: bool,
  },
  required: ["type", "task", "metric", "variant", "value", "iter", "timestamp"],
  additionalProperties: false,
};

/** `metric_variants` (_events_common.conf; model MetricVariants): a metric and, optionally, some of its variants. */
const metricVariants: SchemaObject = { type: "object", properties: { metric: str, variants: stringList }, required: ["metric"], additionalProperties: false };

/**
 * `events.scalar_metrics_iter_histogram` request (versions 2.1, 2.14 `metrics`, 2.22
 * `model_events`; model ScalarMetricsIterHistogramRequest in apimodels/events.py). The model's
 * validators, not the reference, bound `samples`: 1 to 6,000, default 2,000 (the reference's
 * "default 6000, 0 for all the points" is out of date: 0 is a validation error).
 */
export const eventsScalarMetricsIterHistogram: SchemaObject = {
  type: "object",
  properties: {
    task: str,
    samples: { type: "integer", minimum: 1, maximum: 6000, description: "Points per variant at most (default 2000)" },
    key: { type: "string", enum: ["iter", "timestamp", "iso_time"], description: "The x axis (default iter)" },
    metrics: { type: "array", items: metricVariants },
    model_events: { type: "boolean", enum: [false], description: "Model events are not simulated" },
  },
  required: ["task"],
  additionalProperties: false,
};

// ---------------------------------------------------------------- task writes

/** `task`, `force`, `status_reason`, `status_message`: tasks.conf `status_change_request` (model UpdateRequest). */
const statusChange: Record<string, SchemaObject> = { task: str, force: bool, status_reason: str, status_message: str };

/** `script` (tasks.conf `script`; task.py `Script`). */
const script: SchemaObject = {
  type: "object",
  properties: {
    binary: str,
    repository: str,
    tag: str,
    branch: str,
    version_num: str,
    entry_point: str,
    working_dir: str,
    requirements: obj,
    diff: str,
  },
  additionalProperties: false,
};

/** `execution` (tasks.conf `execution`). */
const execution: SchemaObject = {
  type: "object",
  properties: { queue: str, parameters: obj, model: str, model_desc: obj, model_labels: obj, framework: str, docker_cmd: str, artifacts: { type: "array" } },
  additionalProperties: false,
};

const paramItem: SchemaObject = {
  type: "object",
  properties: { section: str, name: str, value: str, type: str, description: str },
  additionalProperties: false,
};
/** `hyperparams`: section -> name -> item (tasks.conf `section_params`). */
const hyperparamsMap: SchemaObject = { type: "object", additionalProperties: { type: "object", additionalProperties: paramItem } };
/** `configuration`: name -> item (tasks.conf `configuration_item`). */
const configurationMap: SchemaObject = {
  type: "object",
  additionalProperties: { type: "object", properties: { name: str, value: str, type: str, description: str }, additionalProperties: false },
};
/** `container`: `{image, arguments, setup_shell_script}`; values are strings (null allowed, task.py NullableStringField). */
const container: SchemaObject = { type: "object", additionalProperties: { type: ["string", "null"] } };

/** The fields tasks.create and tasks.edit write (services/tasks.py `create_fields`). */
const taskFields: Record<string, SchemaObject> = {
  name: str,
  tags: stringList,
  system_tags: stringList,
  type: { type: "string", enum: [...TASK_TYPES] },
  comment: str,
  parent: str,
  project: str,
  output_dest: str,
  execution,
  script,
  hyperparams: hyperparamsMap,
  configuration: configurationMap,
  models: obj,
  container,
  runtime: obj,
};

/** `tasks.create` (model CreateRequest: `name` and `type` required). */
export const tasksCreate: SchemaObject = { type: "object", properties: taskFields, required: ["name", "type"], additionalProperties: false };

/** `tasks.edit` (model UpdateRequest; also `status`, as services/tasks.py `edit_fields`). */
export const tasksEdit: SchemaObject = {
  type: "object",
  properties: { ...taskFields, ...statusChange, status: { type: "string", enum: [...TASK_STATUSES] } },
  required: ["task"],
  additionalProperties: false,
};

/** `tasks.clone` (model CloneRequest). */
export const tasksClone: SchemaObject = {
  type: "object",
  properties: {
    task: str,
    new_task_name: str,
    new_task_comment: str,
    new_task_tags: stringList,
    new_task_system_tags: stringList,
    new_task_parent: str,
    new_task_project: str,
    new_task_hyperparams: hyperparamsMap,
    new_task_configuration: configurationMap,
    new_task_container: container,
    new_task_input_models: { type: "array", items: { type: "object", properties: { name: str, model: str }, additionalProperties: false } },
    execution_overrides: execution,
    validate_references: bool,
    new_project_name: str,
  },
  required: ["task"],
  additionalProperties: false,
};

/** `tasks.edit_hyper_params` (2.9, model EditHyperParamsRequest). */
export const tasksEditHyperParams: SchemaObject = {
  type: "object",
  properties: {
    task: str,
    hyperparams: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        properties: { section: { type: "string", minLength: 1 }, name: { type: "string", minLength: 1 }, value: str, type: str, description: str },
        required: ["section", "name", "value"],
        additionalProperties: false,
      },
    },
    replace_hyperparams: { type: "string", enum: ["none", "section", "all"] },
    force: bool,
  },
  required: ["task", "hyperparams"],
  additionalProperties: false,
};

function statusCall(extra: Record<string, SchemaObject> = {}): SchemaObject {
  return { type: "object", properties: { ...statusChange, ...extra }, required: ["task"], additionalProperties: false };
}

/** `tasks.enqueue` (model EnqueueRequest). */
export const tasksEnqueue = statusCall({ queue: str, queue_name: str, verify_watched_queue: bool, update_execution_queue: bool });
/** `tasks.dequeue` (model DequeueRequest). */
export const tasksDequeue = statusCall({ remove_from_all_queues: bool, new_status: str });
/** `tasks.stop` (model StopRequest; `status_message` is accepted and ignored). */
export const tasksStop = statusCall({ include_pipeline_steps: bool });
/** `tasks.started`, `tasks.stopped`, `tasks.failed`, `tasks.close` (model UpdateRequest). */
export const tasksStatus = statusCall();
/** `tasks.completed` (2.2, model CompletedRequest). */
export const tasksCompleted = statusCall({ publish: bool });
/** `tasks.reset` (model ResetRequest). */
export const tasksReset = statusCall({ clear_all: bool, return_file_urls: bool, delete_output_models: bool, delete_external_artifacts: bool });
/** `tasks.delete` (model DeleteRequest). */
export const tasksDelete = statusCall({ move_to_trash: bool, return_file_urls: bool, delete_output_models: bool, delete_external_artifacts: bool, include_pipeline_steps: bool });
/** `tasks.ping` (model PingRequest). */
export const tasksPing: SchemaObject = { type: "object", properties: { task: str }, required: ["task"], additionalProperties: false };

/** `tasks.archive` (2.12, model ArchiveRequest). */
export const tasksArchive: SchemaObject = {
  type: "object",
  properties: { tasks: { ...stringList, minItems: 1 }, status_reason: str, status_message: str, include_pipeline_steps: bool },
  required: ["tasks"],
  additionalProperties: false,
};

/** `tasks.archive_many`, `tasks.unarchive_many` (2.13, model ArchiveManyRequest / UnarchiveManyRequest). */
export const tasksArchiveMany: SchemaObject = {
  type: "object",
  properties: { ids: { ...stringList, minItems: 1 }, status_reason: str, status_message: str, include_pipeline_steps: bool },
  required: ["ids"],
  additionalProperties: false,
};

// ---------------------------------------------------------------- queues and workers

/** `queues.get_all` (2.4; model GetAllRequest for `max_task_entries` and `search_hidden`, the rest is a query). */
export const queuesGetAll: SchemaObject = {
  type: "object",
  properties: {
    id: filterList,
    name: { type: "string", description: "Regular expression, unanchored, case-sensitive" },
    tags: filterList,
    system_tags: filterList,
    search_text: str,
    only_fields: stringList,
    _all_: multiFieldPattern,
    _any_: multiFieldPattern,
    max_task_entries: int,
    search_hidden: bool,
    ...paging,
  },
  additionalProperties: false,
};
/** `queues.get_by_id` (model GetByIdRequest). */
export const queuesGetById: SchemaObject = { type: "object", properties: { queue: str, max_task_entries: int }, required: ["queue"], additionalProperties: false };
/** `projects.create` (no request model: `required_fields=["name"]`, the rest read with parse_from_call). */
export const projectsCreate: SchemaObject = {
  type: "object",
  properties: { name: str, description: str, tags: stringList, system_tags: stringList, default_output_destination: str },
  additionalProperties: false,
};
/** `queues.create` (model CreateRequest). */
export const queuesCreate: SchemaObject = {
  type: "object",
  properties: { name: str, display_name: str, tags: stringList, system_tags: stringList, metadata: obj },
  required: ["name"],
  additionalProperties: false,
};
/** `queues.delete` (model DeleteRequest). */
export const queuesDelete: SchemaObject = { type: "object", properties: { queue: str, force: bool }, required: ["queue"], additionalProperties: false };
/** `queues.get_next_task` (model GetNextTaskRequest). */
export const queuesGetNextTask: SchemaObject = { type: "object", properties: { queue: str, get_task_info: bool, task: str }, required: ["queue"], additionalProperties: false };

/** `workers.register` (model RegisterRequest). */
export const workersRegister: SchemaObject = {
  type: "object",
  properties: { worker: str, timeout: int, queues: stringList, tags: stringList, system_tags: stringList },
  required: ["worker"],
  additionalProperties: false,
};
/** `workers.unregister` (model WorkerRequest). */
export const workersUnregister: SchemaObject = { type: "object", properties: { worker: str, tags: stringList, system_tags: stringList }, required: ["worker"], additionalProperties: false };
/** `workers.status_report` (model StatusReportRequest; `timestamp` is required). */
export const workersStatusReport: SchemaObject = {
  type: "object",
  properties: { worker: str, task: str, queue: str, queues: stringList, timestamp: int, machine_stats: obj, tags: stringList, system_tags: stringList },
  required: ["worker", "timestamp"],
  additionalProperties: false,
};
/** `workers.get_all` (model GetAllRequest; `last_seen` defaults to 3600 s). */
export const workersGetAll: SchemaObject = {
  type: "object",
  properties: { last_seen: int, tags: stringList, system_tags: stringList, worker_pattern: str },
  additionalProperties: false,
};

/** How an endpoint's body is encoded. */
export type BodyKind = "json" | "json-lines";

/** What the fake knows of one endpoint. */
export interface EndpointSpec {
  /** Schema of the body (of each line, for json-lines). */
  readonly schema: SchemaObject;
  readonly body: BodyKind;
  /** Whether the call needs authentication. */
  readonly auth: boolean;
  /** The versions in which the endpoint changed, oldest first (the reference's version keys). */
  readonly versions: readonly string[];
  /** The oldest path version the server routes to this endpoint (its `min_version`); older answers 404. Default 1.0. */
  readonly minVersion?: string;
  /**
   * Whether the server reads the body into a request model (jsonmodels): then a wrong type or a
   * missing required key answers 400/12 and `null` counts as absent. Without a model the server
   * checks nothing; the fake still answers 400/12 to a type it cannot read (and says so). Either
   * way a non-boolean in a boolean key is read by Python truthiness (`"false"` is true).
   */
  readonly model: boolean;
  /** Request keys that appeared after the endpoint's first version: key -> first API version. */
  readonly since?: Readonly<Record<string, string>>;
  /** Keys documented for the endpoint that the server reads and then ignores: key -> why. */
  readonly ignored?: Readonly<Record<string, string>>;
}

const taskWrite = (schema: SchemaObject, versions: readonly string[], extra: Partial<EndpointSpec> = {}): EndpointSpec => ({ schema, body: "json", auth: true, versions, model: true, ...extra });

/** Every endpoint the fake simulates. Any other answers 404 and is recorded as a violation. */
export const ENDPOINTS: Readonly<Record<string, EndpointSpec>> = {
  "debug.ping": { schema: empty, body: "json", auth: false, versions: ["2.1"], model: false },
  "server.info": { schema: empty, body: "json", auth: true, versions: ["2.1"], model: false },
  "auth.login": { schema: authLogin, body: "json", auth: false, versions: ["2.1"], model: false },
  "projects.get_all": {
    schema: projectsGetAll,
    body: "json",
    auth: true,
    versions: ["2.1", "2.13", "2.14", "2.15"],
    model: false,
    since: { shallow_search: "2.13", search_hidden: "2.14", scroll_id: "2.15", refresh_scroll: "2.15", size: "2.15" },
  },
  "tasks.get_all": {
    schema: tasksGetAll,
    body: "json",
    auth: true,
    versions: ["2.1", "2.14", "2.15", "2.23", "2.26"],
    model: false,
    since: { search_hidden: "2.14", scroll_id: "2.15", refresh_scroll: "2.15", size: "2.15", allow_public: "2.23", include_subprojects: "2.26" },
    ignored: { allow_public: "tasks.get_all always includes public tasks (services/tasks.py passes allow_public=True); only tasks.get_all_ex reads it" },
  },
  "tasks.get_by_id": { schema: tasksGetById, body: "json", auth: true, versions: ["2.1"], model: true },
  "tasks.get_hyper_params": { schema: tasksGetHyperParams, body: "json", auth: true, versions: ["2.9"], model: true },
  "tasks.create": taskWrite(tasksCreate, ["2.1", "2.13"], { since: { models: "2.13", container: "2.13" } }),
  "tasks.edit": taskWrite(tasksEdit, ["2.1", "2.13"], { since: { models: "2.13", container: "2.13", runtime: "2.13" } }),
  "tasks.clone": taskWrite(tasksClone, ["2.5", "2.12", "2.13"], { since: { new_project_name: "2.12", new_task_input_models: "2.13", new_task_container: "2.13" } }),
  "tasks.edit_hyper_params": taskWrite(tasksEditHyperParams, ["2.9"]),
  "tasks.enqueue": taskWrite(tasksEnqueue, ["1.5", "2.19", "2.22", "2.31"], { since: { queue_name: "2.19", verify_watched_queue: "2.22", update_execution_queue: "2.31" } }),
  "tasks.dequeue": taskWrite(tasksDequeue, ["1.5", "2.25", "2.26"], { since: { remove_from_all_queues: "2.25", new_status: "2.26" } }),
  "tasks.stop": taskWrite(tasksStop, ["2.1", "2.30"], {
    since: { include_pipeline_steps: "2.30" },
    ignored: { status_message: "tasks.stop ignores status_message (it writes 'Stopped by <user>' or 'stopping')" },
  }),
  "tasks.started": taskWrite(tasksStatus, ["2.1"]),
  "tasks.stopped": taskWrite(tasksStatus, ["2.1"]),
  "tasks.failed": taskWrite(tasksStatus, ["2.1"]),
  "tasks.close": taskWrite(tasksStatus, ["2.1"]),
  "tasks.completed": taskWrite(tasksCompleted, ["2.2", "2.20"], { minVersion: "2.2", since: { publish: "2.20" } }),
  "tasks.ping": taskWrite(tasksPing, ["2.1"]),
  "tasks.reset": taskWrite(tasksReset, ["2.1", "2.13", "2.21"], { since: { return_file_urls: "2.13", delete_output_models: "2.13", delete_external_artifacts: "2.21" } }),
  "tasks.archive": taskWrite(tasksArchive, ["2.12", "2.30"], { since: { include_pipeline_steps: "2.30" } }),
  "tasks.archive_many": taskWrite(tasksArchiveMany, ["2.13", "2.30"], { since: { include_pipeline_steps: "2.30" } }),
  "tasks.unarchive_many": taskWrite(tasksArchiveMany, ["2.13", "2.30"], { since: { include_pipeline_steps: "2.30" } }),
  "tasks.delete": taskWrite(tasksDelete, ["2.1", "2.13", "2.21", "2.30"], {
    since: { return_file_urls: "2.13", delete_output_models: "2.13", delete_external_artifacts: "2.21", include_pipeline_steps: "2.30" },
  }),
  "projects.create": { schema: projectsCreate, body: "json", auth: true, versions: ["2.1"], model: false },
  "queues.get_all": taskWrite(queuesGetAll, ["2.4", "2.15", "2.20", "2.21"], {
    minVersion: "2.4",
    since: { scroll_id: "2.15", refresh_scroll: "2.15", size: "2.15", max_task_entries: "2.20", search_hidden: "2.21" },
  }),
  "queues.get_by_id": taskWrite(queuesGetById, ["2.4", "2.20"], { minVersion: "2.4", since: { max_task_entries: "2.20" } }),
  "queues.get_default": { schema: empty, body: "json", auth: true, versions: ["2.4"], minVersion: "2.4", model: false },
  "queues.create": taskWrite(queuesCreate, ["2.4", "2.13", "2.31"], { minVersion: "2.4", since: { metadata: "2.13", display_name: "2.31" } }),
  "queues.delete": taskWrite(queuesDelete, ["2.4"], { minVersion: "2.4" }),
  "queues.get_next_task": taskWrite(queuesGetNextTask, ["2.4", "2.14", "2.21"], { since: { get_task_info: "2.14", task: "2.21" } }),
  "workers.register": taskWrite(workersRegister, ["2.4", "2.22"], { minVersion: "2.4", since: { system_tags: "2.22" } }),
  "workers.unregister": taskWrite(workersUnregister, ["2.4"], { minVersion: "2.4" }),
  "workers.status_report": taskWrite(workersStatusReport, ["2.4", "2.22"], { minVersion: "2.4", since: { system_tags: "2.22" } }),
  "workers.get_all": taskWrite(workersGetAll, ["2.4", "2.20", "2.22", "2.30"], { minVersion: "2.4", since: { tags: "2.20", system_tags: "2.22", worker_pattern: "2.30" } }),
  "events.scalar_metrics_iter_histogram": {
    schema: eventsScalarMetricsIterHistogram,
    body: "json",
    auth: true,
    versions: ["2.1", "2.14", "2.22"],
    model: true,
    since: { metrics: "2.14", model_events: "2.22" },
  },
  "events.add_batch": { schema: scalarEvent, body: "json-lines", auth: true, versions: ["2.1", "2.22"], model: false, since: { allow_locked: "2.22", model_event: "2.22" } },
};
