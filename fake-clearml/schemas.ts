/**
 * JSON Schemas for the request bodies the fake ClearML server accepts, one per endpoint, written
 * from the ClearML server API reference (the `apiserver/schema/services/*.conf` definitions, API
 * 2.34) and /work/shared/clearml-api.md.
 *
 * Unlike the real server, every schema here sets `additionalProperties: false`: the real server
 * silently ignores an unknown key, so a typo'd filter (`tag` for `tags`) returns unfiltered
 * results there. The fake answers 400/12 and records a violation instead.
 *
 * Where the fake is deliberately stricter than the reference (noted per field), it is to catch a
 * client bug the real server would let through.
 */
import type { SchemaObject } from "ajv";

const stringList: SchemaObject = { type: "array", items: { type: "string" } };

/** Values of `task.status` (tasks.conf `task_status_enum`). */
export const TASK_STATUSES = ["created", "queued", "in_progress", "stopped", "published", "publishing", "closed", "failed", "completed", "unknown"] as const;

/** Values of `task.type` (tasks.conf `task_type_enum`). */
export const TASK_TYPES = ["training", "testing", "inference", "data_processing", "application", "monitor", "controller", "optimizer", "service", "qc", "custom"] as const;

/**
 * Top-level fields of a task document (tasks.conf `task` definition, plus later additions). A
 * name outside this list in `only_fields` or `order_by` is recorded as a violation: the real
 * server would return nothing for it, silently.
 */
export const TASK_FIELDS = [
  "id", "name", "user", "company", "type", "status", "comment", "created", "started", "completed",
  "active_duration", "parent", "project", "output", "execution", "script", "tags", "system_tags",
  "status_changed", "status_message", "status_reason", "published", "last_worker",
  "last_worker_report", "last_update", "last_change", "last_changed_by", "last_iteration",
  "last_metrics", "hyperparams", "configuration", "runtime", "models", "container",
] as const;

/** Top-level fields of a project document (projects.conf `project` definition). */
export const PROJECT_FIELDS = [
  "id", "name", "basename", "description", "user", "company", "created", "tags", "system_tags",
  "default_output_destination", "last_update",
] as const;

/**
 * `status` filter of `tasks.get_all`: statuses from the reference enum, each optionally excluded
 * with a `-` prefix, and the list operators `__$all`, `__$any`, `__$not`.
 */
const statusList: SchemaObject = {
  type: "array",
  items: { type: "string", pattern: `^(__\\$(all|any|not)|-?(${TASK_STATUSES.join("|")}))$` },
};

/** `_all_` / `_any_`: one regular expression tried against several fields. */
const multiFieldPattern: SchemaObject = {
  type: "object",
  properties: { pattern: { type: "string" }, fields: stringList },
  required: ["pattern", "fields"],
  additionalProperties: false,
};

/** Paging and scrolling keys shared by the `get_all` calls. */
const paging: Record<string, SchemaObject> = {
  page: { type: "integer", minimum: 0, description: "Page number (needs page_size)" },
  page_size: { type: "integer", minimum: 1, description: "Page size (the server caps it at 500)" },
  order_by: { ...stringList, description: "Field paths; '-' prefix for descending" },
  // The reference types scroll_id as a string; a scroll starts with the key present and null.
  scroll_id: { type: ["string", "null"], description: "null to start a scroll, then the returned id" },
  refresh_scroll: { type: "boolean" },
  size: { type: "integer", minimum: 1, description: "Scroll batch size (the server caps it at 500)" },
};

/** `tasks.get_all` request (versions 2.1, 2.14, 2.15, 2.26). */
export const tasksGetAll: SchemaObject = {
  type: "object",
  properties: {
    id: stringList,
    name: { type: "string", description: "Regular expression, unanchored, case-sensitive" },
    user: stringList,
    project: stringList,
    type: stringList,
    tags: stringList,
    system_tags: stringList,
    status: statusList,
    only_fields: stringList,
    parent: { type: "string" },
    search_text: { type: "string" },
    _all_: multiFieldPattern,
    _any_: multiFieldPattern,
    search_hidden: { type: "boolean" },
    include_subprojects: { type: "boolean" },
    allow_public: { type: "boolean" },
    ...paging,
  },
  // The 2.1 reference states this dependency; without page_size the page number means nothing.
  dependencies: { page: ["page_size"] },
  additionalProperties: false,
};

/** `projects.get_all` request (versions 2.1, 2.13, 2.14, 2.15). `include_stats` exists only in the internal `get_all_ex`, so it is refused here. */
export const projectsGetAll: SchemaObject = {
  type: "object",
  properties: {
    id: stringList,
    name: { type: "string", description: "Regular expression, unanchored, case-sensitive" },
    basename: { type: "string" },
    description: { type: "string" },
    tags: stringList,
    system_tags: stringList,
    search_text: { type: "string" },
    only_fields: stringList,
    _all_: multiFieldPattern,
    _any_: multiFieldPattern,
    shallow_search: { type: "boolean" },
    search_hidden: { type: "boolean" },
    ...paging,
  },
  dependencies: { page: ["page_size"] },
  additionalProperties: false,
};

/** `tasks.get_by_id` request. */
export const tasksGetById: SchemaObject = {
  type: "object",
  properties: { task: { type: "string" } },
  required: ["task"],
  additionalProperties: false,
};

/** `tasks.get_hyper_params` request (2.9). */
export const tasksGetHyperParams: SchemaObject = {
  type: "object",
  properties: { tasks: { ...stringList, minItems: 1 } },
  required: ["tasks"],
  additionalProperties: false,
};

/** `auth.login` request. */
export const authLogin: SchemaObject = {
  type: "object",
  properties: { expiration_sec: { type: "integer", minimum: 1 } },
  additionalProperties: false,
};

/** A request that takes no parameters (`debug.ping`, `server.info`). */
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
    x_axis_label: { type: "string" },
    model_event: { type: "boolean", enum: [false], description: "Model events are not simulated" },
    allow_locked: { type: "boolean" },
  },
  required: ["type", "task", "metric", "variant", "value", "iter", "timestamp"],
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
  /** Request keys that appeared after the endpoint's first version: key -> first API version. */
  readonly since?: Readonly<Record<string, string>>;
}

/** Every endpoint the fake simulates. Any other answers 404 and is recorded as a violation. */
export const ENDPOINTS: Readonly<Record<string, EndpointSpec>> = {
  "debug.ping": { schema: empty, body: "json", auth: false, versions: ["2.1"] },
  "server.info": { schema: empty, body: "json", auth: true, versions: ["2.1"] },
  "auth.login": { schema: authLogin, body: "json", auth: false, versions: ["2.1"] },
  "projects.get_all": {
    schema: projectsGetAll,
    body: "json",
    auth: true,
    versions: ["2.1", "2.13", "2.14", "2.15"],
    since: { shallow_search: "2.13", search_hidden: "2.14", scroll_id: "2.15", refresh_scroll: "2.15", size: "2.15" },
  },
  "tasks.get_all": {
    schema: tasksGetAll,
    body: "json",
    auth: true,
    versions: ["2.1", "2.14", "2.15", "2.23", "2.26"],
    since: { search_hidden: "2.14", scroll_id: "2.15", refresh_scroll: "2.15", size: "2.15", allow_public: "2.23", include_subprojects: "2.26" },
  },
  "tasks.get_by_id": { schema: tasksGetById, body: "json", auth: true, versions: ["2.1"] },
  "tasks.get_hyper_params": { schema: tasksGetHyperParams, body: "json", auth: true, versions: ["2.9"] },
  "events.add_batch": { schema: scalarEvent, body: "json-lines", auth: true, versions: ["2.1", "2.22"], since: { allow_locked: "2.22", model_event: "2.22" } },
};
