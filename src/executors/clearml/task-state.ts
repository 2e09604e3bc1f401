import type { RunState } from "../../core/lifecycle/lifecycle.js";
import { isRunState } from "../../core/lifecycle/lifecycle.js";
import { lifecycleOf } from "../../stores/clearml/clearml-store.js";

/** The reason the server's watchdog gives a task whose worker stopped reporting: a failure, not a cancellation. */
export const FORCED_STOP_REASON = "Forced stop (non-responsive)";

/** The fields a status refresh asks for (`only_fields`): only what {@link TaskState} reads. */
export const TASK_STATE_FIELDS: readonly string[] = Object.freeze([
  "id",
  "status",
  "status_reason",
  "status_message",
  "status_changed",
  "last_update",
  "last_worker",
  "started",
  "completed",
  "execution.queue",
  "system_tags",
]);

/** A ClearML task's state, as a refresh reads it. */
export interface TaskState {
  readonly id: string;
  /** ClearML's status (`in_progress`, `stopped`, ...); `unknown` when the answer had none. */
  readonly status: string;
  readonly statusReason: string | null;
  readonly statusMessage: string | null;
  readonly statusChanged: string | null;
  readonly lastWorker: string | null;
  readonly queueId: string | null;
  readonly archived: boolean;
  /** `last_metrics` as the server sent it, when asked for. */
  readonly lastMetrics?: unknown;
}

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

/** Reads one task of a `tasks.get_all` answer (projected on {@link TASK_STATE_FIELDS}). */
export function taskStateOf(raw: Record<string, unknown>): TaskState {
  const execution = raw["execution"] !== null && typeof raw["execution"] === "object" ? (raw["execution"] as Record<string, unknown>) : {};
  const systemTags = Array.isArray(raw["system_tags"]) ? raw["system_tags"] : [];
  return {
    id: String(raw["id"]),
    status: str(raw["status"]) ?? "unknown",
    statusReason: str(raw["status_reason"]),
    statusMessage: str(raw["status_message"]),
    statusChanged: str(raw["status_changed"]),
    lastWorker: str(raw["last_worker"]),
    queueId: str(execution["queue"]),
    archived: systemTags.includes("archived"),
    ...("last_metrics" in raw ? { lastMetrics: raw["last_metrics"] } : {}),
  };
}

/**
 * The lifecycle state a local record of this task should be in: created -> created, queued ->
 * queued, in_progress -> running, completed, published, publishing and closed -> completed,
 * failed -> failed, stopped -> cancelled, but stopped by the server's watchdog
 * ({@link FORCED_STOP_REASON}) -> failed. `undefined` for a status with no lifecycle meaning
 * (`unknown`).
 */
export function lifecycleTarget(task: Pick<TaskState, "status" | "statusReason">): RunState | undefined {
  if (task.status === "stopped" && task.statusReason !== null && task.statusReason.trim() === FORCED_STOP_REASON) return "failed";
  const state = lifecycleOf(task.status);
  return isRunState(state) ? state : undefined;
}

/** What a record keeps of its task's state (the `clearml` field): ClearML's own words. */
export function clearmlFieldOf(task: TaskState): Record<string, unknown> {
  return {
    status: task.status,
    status_reason: task.statusReason,
    status_message: task.statusMessage,
    status_changed: task.statusChanged,
    ...(task.archived ? { archived: true } : {}),
  };
}
