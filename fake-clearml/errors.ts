/**
 * Error answers of the fake ClearML server, worded as the real server words them
 * (apiserver/apierrors/errors.conf and apierrors/base.py): `<default message> (<extra>): k=v, ...`,
 * with the k=v pairs in `error_data`.
 */

/** An error answer: HTTP status (= result_code), result_subcode, result_msg, error_data. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly subcode: number,
    message: string,
    readonly errorData: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The errors the fake answers: name -> [code, subcode, default message] (errors.conf). */
const KNOWN = {
  missing_required_fields: [400, 11, "missing required fields"],
  validation_error: [400, 12, "validation error"],
  fields_value_error: [400, 16, "invalid value for fields"],
  batch_contains_no_items: [400, 17, "batch request contains no items"],
  invalid_regex_error: [400, 21, "malformed regular expression"],
  invalid_task_id: [400, 101, "invalid task id"],
  invalid_task_status: [400, 110, "invalid task status"],
  failed_changing_task_status: [400, 121, "failed changing task status. probably someone changed it before you"],
  task_cannot_be_deleted: [400, 123, "task cannot be deleted"],
  events_not_added: [400, 131, "events not added"],
  invalid_project_id: [400, 401, "invalid project id"],
  invalid_queue_id: [400, 701, "invalid queue id"],
  queue_not_empty: [400, 702, "queue is not empty"],
  invalid_queue_or_task_not_queued: [400, 703, "invalid queue id or task not in queue"],
  task_already_queued: [400, 706, "failed adding task to queue since task is already queued"],
  no_default_queue: [400, 707, "no queue is tagged as the default queue for this company"],
  multiple_default_queues: [400, 708, "more than one queue is tagged as the default queue for this company"],
  data_validation_error: [400, 800, "data validation error"],
  expected_unique_data: [400, 801, "value combination already exists (unique field already contains this value)"],
  invalid_project_name: [400, 407, "invalid project name"],
  invalid_worker_id: [400, 1001, "invalid worker id"],
  worker_registration_failed: [400, 1002, "worker registration failed"],
  no_write_permission: [403, 21, "forbidden (modification not allowed)"],
  internal_error: [500, 1, "internal server error"],
} as const satisfies Record<string, readonly [number, number, string]>;

/** Names of the errors {@link apiError} builds. */
export type ErrorName = keyof typeof KNOWN;

/** Python's str() of a value as the real server formats a kwarg: collections as `(a, b)`. */
function formatValue(v: unknown): string {
  if (Array.isArray(v)) return `(${v.map((x) => String(x)).join(", ")})`;
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  return typeof v === "object" ? JSON.stringify(v) : String(v as number);
}

/** Python's repr() of a tuple of strings, as in "cannot modify public task(s), ids=('abc',)". */
export function pyTuple(items: readonly string[]): string {
  const inner = items.map((s) => `'${s}'`).join(", ");
  return items.length === 1 ? `(${inner},)` : `(${inner})`;
}

/**
 * The error `name` with the real server's message: the default text, then ` (<extra>)`, then
 * `: k=v, ...` for `data` (which becomes `error_data`).
 */
export function apiError(name: ErrorName, extra?: string, data: Record<string, unknown> = {}): ApiError {
  const [status, subcode, text] = KNOWN[name];
  let message: string = text;
  if (extra !== undefined && extra !== "") message += ` (${extra})`;
  const pairs = Object.entries(data);
  if (pairs.length > 0) message += `: ${pairs.map(([k, v]) => `${k}=${formatValue(v)}`).join(", ")}`;
  return new ApiError(status, subcode, message, data);
}
