/**
 * The fake ClearML server's behaviour behind its HTTP layer: the task state machine, task
 * writes, queues, workers and the watchdog, each following the real server's code
 * (apiserver/bll/task/utils.py, task_operations.py, task_bll.py, bll/queue/queue_bll.py,
 * bll/workers/__init__.py, services/tasks.py). The HTTP handlers and the built-in agent both
 * act through it, so both follow the same rules. Errors are thrown as {@link ApiError}.
 */
import { randomBytes } from "node:crypto";
import { ApiError, apiError, pyTuple } from "./errors.js";
import type { FakeClock, FakeConfigurationItem, FakeIdentity, FakeParam, FakeProject, FakeQueue, FakeQueueEntry, FakeTask, FakeWorker } from "./model.js";
import { TASK_STATUSES } from "./schemas.js";

type Doc = Record<string, unknown>;

/** The allowed status moves without `force` (apiserver/bll/task/utils.py `state_machine`); the same status is always allowed. `unknown` has no entry: moving from it is 500/1. */
export const STATE_MACHINE: Readonly<Record<string, readonly string[]>> = {
  created: ["queued", "in_progress"],
  queued: ["created", "in_progress", "stopped"],
  in_progress: ["stopped", "failed", "created", "completed"],
  stopped: ["closed", "created", "failed", "queued", "in_progress", "published", "publishing", "completed"],
  closed: ["created", "failed", "published", "publishing", "stopped"],
  failed: ["created", "stopped", "published", "queued"],
  publishing: ["published"],
  published: [],
  completed: ["published", "in_progress", "created"],
};

/** How long a worker's last report keeps a task "run by a worker" for tasks.stop (apiserver.workers.task_update_timeout). */
export const TASK_UPDATE_TIMEOUT_SEC = 600;
/** The watchdog's threshold (services.tasks.non_responsive_tasks_watchdog.threshold_sec). */
export const WATCHDOG_THRESHOLD_SEC = 7200;
/** A worker's registration lifetime unless it says otherwise (apiserver.workers.default_timeout). */
export const DEFAULT_WORKER_TIMEOUT_SEC = 600;
/** Queues with these system tags are hidden from queues.get_all (services.queues.hidden_tags). */
export const HIDDEN_QUEUE_TAGS = ["k8s-glue"] as const;
/** What a deleted parent becomes in its children's `parent`. */
export const DELETED_PREFIX = "__DELETED__";

const STRIPPED_SCRIPT_FIELDS = ["binary", "repository", "tag", "branch", "version_num", "entry_point", "working_dir"] as const;
/** Task fields a user may set without moving `last_update` (task.py `user_set_allowed`). */
const USER_SET_ALLOWED = new Set(["name", "status_message", "comment", "created", "project", "tags", "system_tags"]);

/** What a status change answers (ChangeStatusRequest.execute). */
export interface UpdateResult {
  updated: number;
  fields?: Doc;
}

/** Options of {@link FakeBackend.changeStatus}. */
export interface StatusChange {
  reason?: string;
  message?: string;
  force?: boolean;
  /** Default true: the same status is allowed. */
  allowSame?: boolean;
  /** The status to validate from, instead of the task's. */
  currentOverride?: string;
  /** More fields written with the change (and returned in `fields`); `null` deletes. */
  set?: Doc;
  /** Dotted paths removed with the change (not returned). */
  unset?: readonly string[];
}

/** The state the backend works on: the fake's live arrays and maps. */
export interface BackendState {
  readonly clock: FakeClock;
  readonly identity: FakeIdentity;
  readonly projects: FakeProject[];
  readonly tasks: FakeTask[];
  readonly queues: FakeQueue[];
  /** key -> worker. */
  readonly workers: Map<string, FakeWorker>;
  /** Called with the ids of tasks whose events are deleted (tasks.reset, tasks.delete). */
  readonly deleteEvents: (taskIds: readonly string[]) => void;
  /** Records a violation. */
  readonly record: (violation: string) => void;
}

/** A new 32-hex-character id like ClearML's. */
export function newId(): string {
  return randomBytes(16).toString("hex");
}

function isObject(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split(".");
  const last = parts.pop() as string;
  let cur = doc;
  for (const p of parts) {
    const next = cur[p];
    if (isObject(next)) cur = next;
    else {
      const created: Doc = {};
      cur[p] = created;
      cur = created;
    }
  }
  if (value === null || value === undefined) delete cur[last];
  else cur[last] = value;
}

function unsetPath(doc: Doc, path: string): void {
  const parts = path.split(".");
  const last = parts.pop() as string;
  let cur: unknown = doc;
  for (const p of parts) {
    if (!isObject(cur)) return;
    cur = cur[p];
  }
  if (isObject(cur)) delete cur[last];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
}

/** A glob (`*`, `?`) as a regular expression source. */
function globSource(glob: string): string {
  return glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
}

/** The fake server's behaviour; see the module comment. */
export class FakeBackend {
  constructor(private readonly s: BackendState) {}

  /** The clock's now as the server writes it (ISO). */
  iso(): string {
    return new Date(this.s.clock.now()).toISOString();
  }

  private get company(): string {
    return this.s.identity.company;
  }

  // ---------------------------------------------------------------- finding tasks

  /** Whether the caller can read `task`: its own company's, or public (company ""). */
  visible(task: FakeTask): boolean {
    return task.company === this.company || !task.company;
  }

  /** A task the caller can read, or undefined. */
  findVisible(id: string): FakeTask | undefined {
    return this.s.tasks.find((t) => t.id === id && this.visible(t));
  }

  /**
   * A task the caller can read (TaskBLL.get_by_id with allow_public).
   * @throws {ApiError} 400/101 "invalid task id: id=..."
   */
  taskForRead(id: string): FakeTask {
    const task = this.findVisible(id);
    if (!task) throw apiError("invalid_task_id", undefined, { id });
    return task;
  }

  /**
   * A task the caller may modify (get_task_with_write_access).
   * @throws {ApiError} 400/101 when it is not the caller's company's nor public; 403/21 when public.
   */
  taskForWrite(id: string): FakeTask {
    const task = this.findVisible(id);
    if (!task) throw apiError("invalid_task_id", undefined, { id, company: this.company });
    if (!task.company) throw apiError("no_write_permission", `cannot modify public task(s), ids=${pyTuple([task.id])}`);
    return task;
  }

  /**
   * Tasks the caller may modify, all of them (tasks.archive's _assert_writable_tasks).
   * @throws {ApiError} 403/21 when any is public (first), 400/101 "ids=(...)" when any is missing.
   */
  tasksForWrite(ids: readonly string[]): FakeTask[] {
    const found = this.s.tasks.filter((t) => ids.includes(t.id) && this.visible(t));
    const forbidden = found.filter((t) => !t.company).map((t) => t.id);
    if (forbidden.length > 0) throw apiError("no_write_permission", `cannot modify public task(s), ids=${pyTuple(forbidden)}`);
    const missing = [...new Set(ids)].filter((id) => !found.some((t) => t.id === id));
    if (missing.length > 0) throw apiError("invalid_task_id", undefined, { ids: missing });
    return found;
  }

  // ---------------------------------------------------------------- the state machine

  /**
   * Checks a move without force.
   * @throws {ApiError} 400/110 "Invalid status change"; 500/1 from a status the machine does not know (`unknown`).
   */
  validateStatusChange(current: string, next: string): void {
    const allowed = STATE_MACHINE[current];
    if (allowed === undefined) throw apiError("internal_error", `Current status ${current} not supported by state machine`);
    if (!allowed.includes(next)) throw apiError("invalid_task_status", "Invalid status change", { current_status: current, new_status: next });
  }

  /**
   * Changes a task's status as ChangeStatusRequest.execute does: validated unless forced (the
   * same status always allowed unless `allowSame: false`), then status, status_reason,
   * status_message, status_changed, last_update, last_change and last_changed_by written
   * together; queueing removes the `development` system tag.
   */
  changeStatus(task: FakeTask, next: string, o: StatusChange = {}): UpdateResult {
    const current = o.currentOverride ?? task.status;
    if (o.force !== true) {
      if (next !== current) this.validateStatusChange(current, next);
      else if (o.allowSame === false) throw apiError("invalid_task_status", "Task already in requested status", { current_status: current, new_status: next });
    }
    const now = this.iso();
    const fields: Doc = {
      status: next,
      status_reason: o.reason ?? "",
      status_message: o.message ?? "",
      status_changed: now,
      last_update: now,
      last_change: now,
      last_changed_by: this.s.identity.user,
    };
    const doc = task as unknown as Doc;
    for (const [k, v] of Object.entries(fields)) doc[k] = v;
    if (next === "queued") task.system_tags = task.system_tags.filter((t) => t !== "development");
    for (const [k, v] of Object.entries(o.set ?? {})) {
      setPath(doc, k, v);
      fields[k] = v ?? null;
    }
    for (const path of o.unset ?? []) unsetPath(doc, path);
    return { updated: 1, fields };
  }

  // ---------------------------------------------------------------- queues

  /** The caller's queue by id, or undefined. */
  findQueue(id: string): FakeQueue | undefined {
    return this.s.queues.find((q) => q.id === id && q.company === this.company);
  }

  /**
   * The caller's queue by id (QueueBLL.get_by_id).
   * @throws {ApiError} 400/701 "invalid queue id: id=..., company=..."
   */
  queueById(id: string): FakeQueue {
    const q = this.findQueue(id);
    if (!q) throw apiError("invalid_queue_id", undefined, { id, company: this.company });
    return q;
  }

  /**
   * The queue tagged `default` (QueueBLL.get_default).
   * @throws {ApiError} 400/707 when none, 400/708 when several.
   */
  defaultQueue(): FakeQueue {
    const found = this.s.queues.filter((q) => q.company === this.company && q.system_tags.includes("default"));
    const [first] = found;
    if (first === undefined) throw apiError("no_default_queue");
    if (found.length > 1) throw apiError("multiple_default_queues", undefined, { queues: found.map((q) => q.id) });
    return first;
  }

  /** The caller's queue by exact name (QueueBLL.get_by_name), or undefined. */
  queueByName(name: string): FakeQueue | undefined {
    return this.s.queues.find((q) => q.name === name && q.company === this.company);
  }

  /**
   * Creates a queue (QueueBLL.create): the name is stripped, at least 3 characters, unique in the company.
   * @throws {ApiError} 400/800 for a short name, 400/801 for a taken one.
   */
  /**
   * Creates a project (ProjectBLL.create): the name's parts trimmed and empty ones dropped, unique
   * in the company, missing parents created on the way (`_ensure_project`).
   * @throws {ApiError} 400/407 for a name with no parts, 400/801 for a name taken.
   */
  createProject(input: { name: string }): FakeProject {
    const parts = input.name.split("/").filter((p) => p !== "").map((p) => p.trim());
    if (parts.length === 0 || parts.every((p) => p === "")) throw apiError("invalid_project_name", undefined, { name: input.name });
    const name = parts.join("/");
    if (this.s.projects.some((p) => p.name === name)) throw apiError("expected_unique_data", "Project with the same name already exists", { name, company: this.company });
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (!this.s.projects.some((p) => p.name === parent)) this.s.projects.push({ id: newId(), name: parent });
    }
    const project: FakeProject = { id: newId(), name };
    this.s.projects.push(project);
    return project;
  }

  createQueue(input: { name: string; display_name?: string; tags?: string[]; system_tags?: string[]; metadata?: Doc; id?: string }): FakeQueue {
    const name = input.name.trim();
    if (name.length < 3) throw apiError("data_validation_error", undefined, { name: "String value is too short" });
    if (this.queueByName(name)) throw apiError("expected_unique_data", undefined, { name, company: this.company });
    const now = this.iso();
    const q: FakeQueue = {
      id: input.id ?? newId(),
      name,
      company: this.company,
      created: now,
      tags: [...(input.tags ?? [])].sort(),
      system_tags: [...(input.system_tags ?? [])].sort(),
      entries: [],
      last_update: now,
      metadata: { ...(input.metadata ?? {}) },
      ...(input.display_name === undefined ? {} : { display_name: input.display_name }),
    };
    this.s.queues.push(q);
    return q;
  }

  /**
   * Appends a task to a queue (QueueBLL.add_task).
   * @throws {ApiError} 400/701 for an unknown queue, 400/706 when the task is already in it.
   */
  queueAddTask(queueId: string, taskId: string): void {
    const q = this.queueById(queueId);
    if (q.entries.some((e) => e.task === taskId)) throw apiError("task_already_queued", undefined, { task: taskId });
    const now = this.iso();
    q.entries.push({ task: taskId, added: now });
    q.last_update = now;
  }

  /**
   * Removes a task's entries from one queue (QueueBLL.remove_task).
   * @throws {ApiError} 400/703 when the queue does not hold the task.
   */
  queueRemoveTask(queueId: string, taskId: string): number {
    const q = this.findQueue(queueId);
    if (!q || !q.entries.some((e) => e.task === taskId)) throw apiError("invalid_queue_or_task_not_queued", undefined, { task: taskId, id: queueId, company: this.company });
    const before = q.entries.length;
    q.entries = q.entries.filter((e) => e.task !== taskId);
    q.last_update = this.iso();
    return before - q.entries.length;
  }

  /** Removes a task from every queue of the company but `exclude` (TaskBLL.remove_task_from_all_queues); returns the number of queues changed. */
  removeFromAllQueues(taskId: string, exclude?: string): number {
    let changed = 0;
    for (const q of this.s.queues) {
      if (q.company !== this.company || q.id === exclude || !q.entries.some((e) => e.task === taskId)) continue;
      q.entries = q.entries.filter((e) => e.task !== taskId);
      q.last_update = this.iso();
      changed += 1;
    }
    return changed;
  }

  /** TaskBLL.dequeue with silent_fail: removes a queued task from its execution.queue; undefined when not queued or without a queue. @throws {ApiError} 400/703 when that queue does not hold it. */
  private dequeueSilently(task: FakeTask): { removed: number } | undefined {
    if (task.status !== "queued") return undefined;
    const queue = task.execution?.queue;
    if (!queue) return undefined;
    return { removed: this.queueRemoveTask(queue, task.id) };
  }

  /**
   * TaskBLL.dequeue_and_change_status: out of its queue (quietly), out of every queue if asked;
   * a queued or in_progress task then goes (forced) to `newStatus`, else to its status before
   * enqueueing, else created (`newStatusForAborted` instead for an in_progress one); any other
   * status is left alone (`updated: 0`).
   */
  dequeueAndChangeStatus(task: FakeTask, o: { reason?: string; message?: string; removeFromAll?: boolean; newStatus?: string; newStatusForAborted?: string }): UpdateResult {
    try {
      this.dequeueSilently(task);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    if (o.removeFromAll === true) this.removeFromAllQueues(task.id);
    if (task.status !== "queued" && task.status !== "in_progress") return { updated: 0 };
    let next = o.newStatus;
    if (o.newStatusForAborted !== undefined && task.status === "in_progress") next = o.newStatusForAborted;
    return this.changeStatus(task, next || task.enqueue_status || "created", { reason: o.reason ?? "", message: o.message ?? "", force: true, set: { enqueue_status: null } });
  }

  /** Whether any live worker listens to the queue (QueueBLL.check_for_workers). */
  queueWatched(queueId: string): boolean {
    this.purgeWorkers();
    return [...this.s.workers.values()].some((w) => w.company.id === this.company && w.queues.includes(queueId));
  }

  /**
   * Pops the first entry of a queue (QueueBLL.get_next_task); with `task`, only if it is first.
   * A popped task that is `stopped` goes back to `queued` (the server's fix for an agent race).
   * @throws {ApiError} 400/701 for an unknown queue.
   */
  getNextTask(queueId: string, taskId?: string): { entry: FakeQueueEntry; task?: FakeTask } | undefined {
    const q = this.queueById(queueId);
    const first = q.entries[0];
    if (first === undefined || (taskId !== undefined && first.task !== taskId)) return undefined;
    q.entries.shift();
    q.last_update = this.iso();
    const task = this.s.tasks.find((t) => t.id === first.task);
    if (task && task.status === "stopped") task.status = "queued";
    return task ? { entry: first, task } : { entry: first };
  }

  /**
   * Deletes a queue (QueueBLL.delete): an empty one at once; a non-empty one only with force, its
   * tasks reset (forced) to their status before enqueueing, else created, with reason
   * "Queue <id> was deleted" and no execution.queue.
   * @throws {ApiError} 400/701 unknown, 400/702 not empty without force.
   */
  deleteQueue(queueId: string, force: boolean): void {
    const q = this.queueById(queueId);
    if (q.entries.length > 0) {
      if (!force) throw apiError("queue_not_empty", "use force=true to delete", { id: queueId });
      for (const taskId of new Set(q.entries.map((e) => e.task))) {
        const task = this.s.tasks.find((t) => t.id === taskId && t.company === this.company && t.execution?.queue === queueId);
        if (!task) continue;
        this.changeStatus(task, task.enqueue_status || "created", { reason: `Queue ${queueId} was deleted`, message: "", force: true, set: { enqueue_status: null }, unset: ["execution.queue"] });
      }
    }
    this.s.queues.splice(this.s.queues.indexOf(q), 1);
  }

  // ---------------------------------------------------------------- task writes

  /**
   * The fields a create or an edit may write, checked as services/tasks.py's parse_from_call and
   * TaskBLL.validate check them: a project or parent that does not exist at all is 400/16, a
   * parent of another company 400/101, a project not writable 400/401.
   */
  private checkReferences(fields: Doc): void {
    const parent = str(fields["parent"]);
    if (parent !== undefined && !this.s.tasks.some((t) => t.id === parent)) throw apiError("fields_value_error", "expecting Task id", { id: parent, field: "parent" });
    const project = str(fields["project"]);
    if (project !== undefined && !this.s.projects.some((p) => p.id === project)) throw apiError("fields_value_error", "expecting Project id", { id: project, field: "project" });
    if (parent !== undefined && !parent.startsWith(DELETED_PREFIX) && !this.findVisible(parent)) throw apiError("invalid_task_id", "invalid parent", { parent });
  }

  private checkName(name: unknown): string | undefined {
    if (typeof name !== "string") return undefined;
    const stripped = name.trim();
    if (stripped.length < 3) throw apiError("data_validation_error", undefined, { name: "String value is too short" });
    return stripped;
  }

  private static stripScript(script: Doc): Doc {
    const out = { ...script };
    for (const f of STRIPPED_SCRIPT_FIELDS) {
      const v = out[f];
      if (typeof v === "string") out[f] = v.trim();
    }
    return out;
  }

  /** A task document with the server's defaults for a new task. */
  private blankTask(fields: { name: string; type: string; project?: string }): FakeTask {
    const now = this.iso();
    return {
      id: newId(),
      name: fields.name,
      project: fields.project ?? "",
      status: "created",
      type: fields.type,
      tags: [],
      system_tags: [],
      created: now,
      last_update: now,
      last_change: now,
      last_changed_by: this.s.identity.user,
      user: this.s.identity.user,
      company: this.company,
      comment: "",
      script: { binary: "python", repository: "", entry_point: "" },
      execution: {},
      status_reason: "",
      status_message: "",
      last_iteration: 0,
      last_metrics: {},
      hyperparams: {},
      configuration: {},
      runtime: {},
      container: {},
      models: { input: [], output: [] },
    };
  }

  private static hyperparamsFrom(v: unknown): FakeTask["hyperparams"] {
    const out: FakeTask["hyperparams"] = {};
    if (!isObject(v)) return out;
    for (const [section, params] of Object.entries(v)) {
      if (!isObject(params)) continue;
      const bySection: Record<string, FakeParam> = {};
      for (const [name, p] of Object.entries(params)) if (isObject(p)) bySection[name] = { ...(p as unknown as FakeParam), section: str(p["section"]) ?? section, name: str(p["name"]) ?? name };
      out[section] = bySection;
    }
    return out;
  }

  private static configurationFrom(v: unknown): FakeTask["configuration"] {
    const out: FakeTask["configuration"] = {};
    if (!isObject(v)) return out;
    for (const [name, item] of Object.entries(v)) if (isObject(item)) out[name] = { ...(item as unknown as FakeConfigurationItem), name: str(item["name"]) ?? name };
    return out;
  }

  /**
   * tasks.create: a new `created` task; returns its id.
   * @throws {ApiError} 400/16 (unknown project or parent), 400/101 (parent of another company), 400/800 (name shorter than 3 after trimming).
   */
  create(body: Doc): string {
    this.checkReferences(body);
    const name = this.checkName(body["name"]) ?? "";
    const task = this.blankTask({ name, type: str(body["type"]) ?? "training", ...(str(body["project"]) === undefined ? {} : { project: str(body["project"]) as string }) });
    this.applyTaskFields(task, body, false);
    this.s.tasks.push(task);
    return task.id;
  }

  /** Writes the create/edit fields of `body` onto `task`; `merge` merges the embedded documents (script, execution, models) as tasks.edit does. */
  private applyTaskFields(task: FakeTask, body: Doc, merge: boolean): Doc {
    const written: Doc = {};
    const doc = task as unknown as Doc;
    for (const key of ["name", "tags", "system_tags", "type", "comment", "parent", "project", "status"] as const) {
      const v = body[key];
      if (v === undefined || v === null) continue;
      const value = key === "name" ? (v as string).trim() : key === "tags" || key === "system_tags" ? [...(stringList(v) ?? [])].sort() : v;
      doc[key] = value;
      written[key] = value;
    }
    if (isObject(body["script"])) {
      const script = FakeBackend.stripScript(body["script"]);
      task.script = merge ? { ...task.script, ...script } : { binary: "python", repository: "", entry_point: "", ...script };
      written["script"] = task.script;
    }
    if (isObject(body["execution"])) {
      task.execution = merge ? { ...task.execution, ...body["execution"] } : { ...body["execution"] };
      written["execution"] = task.execution;
    }
    if (isObject(body["models"])) {
      const models = body["models"] as Partial<NonNullable<FakeTask["models"]>>;
      const base = merge && task.models ? task.models : { input: [], output: [] };
      task.models = { input: models.input ?? base.input, output: models.output ?? base.output };
      written["models"] = task.models;
    }
    if (body["hyperparams"] !== undefined && body["hyperparams"] !== null) written["hyperparams"] = task.hyperparams = FakeBackend.hyperparamsFrom(body["hyperparams"]);
    if (body["configuration"] !== undefined && body["configuration"] !== null) written["configuration"] = task.configuration = FakeBackend.configurationFrom(body["configuration"]);
    if (isObject(body["container"])) written["container"] = task.container = { ...(body["container"] as Record<string, string | null>) };
    if (isObject(body["runtime"])) written["runtime"] = task.runtime = { ...body["runtime"] };
    if (typeof body["output_dest"] === "string") {
      const output = { ...(isObject(doc["output"]) ? doc["output"] : {}), destination: body["output_dest"] };
      doc["output"] = output;
      written["output"] = output;
    }
    return written;
  }

  /**
   * tasks.edit: only a `created` task unless `force`; the embedded script/execution/models are
   * merged, the rest replaced. Writing `status` bypasses the state machine, as on the real server.
   * @throws {ApiError} 400/101, 403/21, 400/110 "expected=created", 400/16, 400/800.
   */
  edit(body: Doc): UpdateResult {
    const task = this.taskForWrite(str(body["task"]) ?? "");
    if (body["force"] !== true && task.status !== "created") throw apiError("invalid_task_status", undefined, { expected: "created", status: task.status });
    this.checkReferences(body);
    this.checkName(body["name"]);
    if (body["status"] !== undefined) this.s.record(`tasks.edit: 'status' is written as is, bypassing the state machine (no queue entry, no status_changed): use enqueue/stop/reset`);
    const fields = this.applyTaskFields(task, body, true);
    if (Object.keys(fields).length === 0) return { updated: 0 };
    const now = this.iso();
    task.last_change = now;
    task.last_changed_by = this.s.identity.user;
    fields["last_change"] = now;
    fields["last_changed_by"] = this.s.identity.user;
    if (!Object.keys(fields).every((k) => USER_SET_ALLOWED.has(k) || k === "last_change" || k === "last_changed_by")) {
      task.last_update = now;
      fields["last_update"] = now;
    }
    return { updated: 1, fields };
  }

  /**
   * tasks.clone (TaskBLL.clone_task): a `created` copy with the source's script, container,
   * configuration, hyperparameters, tags and system tags (minus `development` and `archived`),
   * execution (minus the queue); metrics are not copied. The parent is the source's parent, else
   * the source. An EMPTY new_task_tags / new_task_system_tags / new_task_hyperparams /
   * new_task_configuration / new_task_container counts as not given (Python's `or`).
   * @throws {ApiError} 400/101 (unknown source, or an unknown new_task_parent), 400/401 (unknown new_task_project).
   */
  clone(body: Doc): { id: string; new_project?: { id: string; name: string } } {
    const src = this.taskForRead(str(body["task"]) ?? "");
    for (const key of ["new_task_tags", "new_task_system_tags"] as const) {
      const v = body[key];
      if (Array.isArray(v) && v.length === 0) this.s.record(`tasks.clone: an empty ${key} is ignored (Python's 'or'): the source's are copied`);
    }
    for (const key of ["new_task_hyperparams", "new_task_configuration", "new_task_container", "new_task_name", "new_task_comment"] as const) {
      const v = body[key];
      if ((isObject(v) && Object.keys(v).length === 0) || v === "") this.s.record(`tasks.clone: an empty ${key} is ignored (Python's 'or'): the source's is copied`);
    }
    const nonEmpty = <T>(v: T | undefined): T | undefined => (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0) ? undefined : v);
    let project = nonEmpty(str(body["new_task_project"]));
    let newProject: { id: string; name: string } | undefined;
    const newProjectName = nonEmpty(str(body["new_project_name"]));
    if (project === undefined && newProjectName !== undefined) {
      const existing = this.s.projects.find((p) => p.name === newProjectName);
      const id = existing?.id ?? newId();
      if (!existing) this.s.projects.push({ id, name: newProjectName });
      project = id;
      newProject = { id, name: newProjectName };
    }
    const parentGiven = nonEmpty(str(body["new_task_parent"]));
    const execution: FakeTask["execution"] = { ...structuredClone(src.execution ?? {}), ...(isObject(body["execution_overrides"]) ? structuredClone(body["execution_overrides"]) : {}) };
    delete execution.queue;
    const task = this.blankTask({ name: nonEmpty(str(body["new_task_name"])) ?? src.name, type: src.type, project: project ?? src.project });
    task.comment = nonEmpty(str(body["new_task_comment"])) ?? src.comment;
    task.parent = parentGiven ?? (src.parent && !src.parent.startsWith(DELETED_PREFIX) ? src.parent : src.id);
    task.tags = [...(nonEmpty(stringList(body["new_task_tags"])) ?? src.tags)];
    task.system_tags = [...(nonEmpty(stringList(body["new_task_system_tags"])) ?? src.system_tags.filter((t) => t !== "development" && t !== "archived"))];
    task.script = structuredClone(src.script ?? {});
    task.execution = execution;
    task.container = structuredClone((nonEmpty(body["new_task_container"]) as FakeTask["container"] | undefined) ?? src.container ?? {});
    task.configuration = nonEmpty(body["new_task_configuration"]) ? FakeBackend.configurationFrom(body["new_task_configuration"]) : structuredClone(src.configuration ?? {});
    task.hyperparams = nonEmpty(body["new_task_hyperparams"]) ? FakeBackend.hyperparamsFrom(body["new_task_hyperparams"]) : structuredClone(src.hyperparams ?? {});
    task.models = { input: structuredClone(src.models?.input ?? []), output: [] };
    const validateRefs = body["validate_references"] === true;
    if ((validateRefs || parentGiven !== undefined) && !task.parent.startsWith(DELETED_PREFIX) && !this.findVisible(task.parent)) throw apiError("invalid_task_id", "invalid parent", { parent: task.parent });
    if ((validateRefs || project !== undefined) && task.project && !this.s.projects.some((p) => p.id === task.project)) throw apiError("invalid_project_id", undefined, { id: task.project });
    this.s.tasks.push(task);
    return newProject ? { id: task.id, new_project: newProject } : { id: task.id };
  }

  /**
   * tasks.edit_hyper_params (HyperParams.edit_params): a `created` task (with `force` also
   * `in_progress`; any status when every item is in the `properties` section).
   * @throws {ApiError} 400/101, 403/21, 400/110 "expected=created".
   */
  editHyperParams(body: Doc): number {
    const items = (Array.isArray(body["hyperparams"]) ? body["hyperparams"] : []) as FakeParam[];
    for (const p of items) if (p.section.toLowerCase() === "properties") p.section = "properties";
    const propertiesOnly = items.every((p) => p.section === "properties");
    const task = this.taskForWrite(str(body["task"]) ?? "");
    const allowed = body["force"] === true ? ["created", "in_progress"] : ["created"];
    if (!propertiesOnly && !allowed.includes(task.status)) throw apiError("invalid_task_status", undefined, { expected: "created", status: task.status });
    const incoming: FakeTask["hyperparams"] = {};
    for (const p of items) (incoming[p.section] ??= {})[p.name] = { ...p };
    const mode = str(body["replace_hyperparams"]) ?? "none";
    if (mode === "all") task.hyperparams = incoming;
    else if (mode === "section") for (const [section, params] of Object.entries(incoming)) task.hyperparams[section] = params;
    else for (const [section, params] of Object.entries(incoming)) task.hyperparams[section] = { ...(task.hyperparams[section] ?? {}), ...params };
    const now = this.iso();
    task.last_change = now;
    task.last_changed_by = this.s.identity.user;
    if (!propertiesOnly) task.last_update = now;
    return 1;
  }

  /**
   * tasks.enqueue (task_operations.enqueue_task), in the server's order: 400/101 / 403/21; the
   * queue (queue_name found or CREATED; none: the default queue, 707/708); the status change to
   * queued (400/110 unless allowed or forced); the queue entry (400/701 unknown queue, 400/706
   * already in it: the status is then put back, forced, with reason "failed enqueueing" and no
   * enqueue_status); execution.queue; the task leaves every other queue.
   */
  enqueue(body: Doc): Doc {
    const queueArg = str(body["queue"]);
    const queueName = str(body["queue_name"]);
    const updateExecutionQueue = body["update_execution_queue"] !== false;
    if (body["verify_watched_queue"] === true && !updateExecutionQueue) throw apiError("validation_error", "verify_watched_queue cannot be used with update_execution_queue=False");
    if (queueArg && queueName) throw apiError("validation_error", "Either queue id or queue name should be provided");
    const task = this.taskForWrite(str(body["task"]) ?? "");
    if (!updateExecutionQueue && !(task.status === "queued" && task.execution?.queue)) {
      throw apiError("validation_error", "Cannot skip setting execution queue for a task that is not enqueued or does not have execution queue set");
    }
    let queueId = queueArg;
    if (queueName) queueId = (this.queueByName(queueName) ?? this.createQueue({ name: queueName })).id;
    if (!queueId) queueId = this.defaultQueue().id;
    const previous = task.status;
    const before = task.status === "queued" && task.enqueue_status ? task.enqueue_status : task.status;
    const res = this.changeStatus(task, "queued", { reason: str(body["status_reason"]) ?? "", message: str(body["status_message"]) ?? "", force: body["force"] === true, set: { enqueue_status: before } });
    try {
      this.queueAddTask(queueId, task.id);
    } catch (e) {
      this.changeStatus(task, previous, { currentOverride: "queued", force: true, reason: "failed enqueueing", set: { enqueue_status: null } });
      throw e;
    }
    const fields = res.fields as Doc;
    if (updateExecutionQueue) {
      task.execution = { ...(task.execution ?? {}), queue: queueId };
      fields["execution.queue"] = queueId;
    }
    this.removeFromAllQueues(task.id, queueId);
    const out: Doc = { queued: 1, ...res };
    if (body["verify_watched_queue"] === true && typeof fields["execution.queue"] === "string") out["queue_watched"] = this.queueWatched(fields["execution.queue"]);
    return out;
  }

  /**
   * tasks.dequeue (task_operations.dequeue_task): never fails for a status. A task the caller
   * cannot see is only removed from the queues ({dequeued: 1, updated: 0}).
   * @throws {ApiError} 400/12 for an unknown new_status; 403/21 for a public task.
   */
  dequeue(body: Doc): Doc {
    const newStatus = str(body["new_status"]);
    if (newStatus && !(TASK_STATUSES as readonly string[]).includes(newStatus)) throw apiError("validation_error", `Invalid task status: ${newStatus}`);
    const id = str(body["task"]) ?? "";
    if (!this.findVisible(id)) {
      this.removeFromAllQueues(id);
      return { dequeued: 1, updated: 0 };
    }
    const task = this.taskForWrite(id);
    const res = this.dequeueAndChangeStatus(task, {
      reason: str(body["status_reason"]) ?? "",
      message: str(body["status_message"]) ?? "",
      removeFromAll: body["remove_from_all_queues"] === true,
      ...(newStatus ? { newStatus } : {}),
    });
    return { dequeued: 1, ...res };
  }

  /** Whether a worker still reports on the task (stop_task's is_run_by_worker: a last_worker and a last_update under 600 s old). */
  runByWorker(task: FakeTask): boolean {
    if (!task.last_worker || !task.last_update) return false;
    return this.s.clock.now() - Date.parse(task.last_update) < TASK_UPDATE_TIMEOUT_SEC * 1000;
  }

  /**
   * tasks.stop (task_operations.stop_task): a queued task is dequeued and stopped; a task with
   * the `development` tag or no live worker is stopped at once ("Stopped by <user name>"); else
   * the status stays and status_message becomes "stopping" for the agent to act on. The move is
   * validated (created, completed, published, publishing: 400/110) unless forced.
   */
  stop(body: Doc): UpdateResult {
    const task = this.taskForWrite(str(body["task"]) ?? "");
    const queued = task.status === "queued";
    const setStopped = queued || task.system_tags.includes("development") || !this.runByWorker(task);
    if (setStopped && queued) {
      try {
        this.dequeueSilently(task);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
      }
    }
    const next = setStopped ? "stopped" : task.status;
    const message = setStopped ? `Stopped by ${this.s.identity.user_name}` : "stopping";
    return this.changeStatus(task, next, { reason: str(body["status_reason"]) ?? "", message, force: body["force"] === true });
  }

  /**
   * tasks.started / stopped / failed / close / completed (set_task_status_from_call).
   * @throws {ApiError} 400/101, 403/21, 400/110.
   */
  setStatus(endpoint: "started" | "stopped" | "failed" | "close" | "completed", body: Doc): Doc {
    const task = this.taskForWrite(str(body["task"]) ?? "");
    const now = this.iso();
    const o: StatusChange = { reason: str(body["status_reason"]) ?? "", message: str(body["status_message"]) ?? "", force: body["force"] === true };
    switch (endpoint) {
      case "started": {
        // `started` is set when absent, else kept if earlier (min__started; not in `fields`).
        const set: Doc = task.started ? {} : { started: now };
        const res = this.changeStatus(task, "in_progress", { ...o, set });
        if (task.started && task.started > now) task.started = now;
        return { started: res.updated, ...res };
      }
      case "stopped":
        return { ...this.changeStatus(task, "stopped", { ...o, set: { completed: now } }) };
      case "failed":
        return { ...this.changeStatus(task, "failed", o) };
      case "close":
        return { ...this.changeStatus(task, "closed", o) };
      case "completed": {
        const res = this.changeStatus(task, "completed", { ...o, set: { completed: now } });
        const out: Doc = { ...res, published: 0 };
        if (res.updated && body["publish"] === true) {
          if (body["force"] !== true) this.validateStatusChange(task.status, "published");
          const pub = this.changeStatus(task, "published", { ...o, set: { published: this.iso() } });
          out["published"] = pub.updated;
          (out["fields"] as Doc)["status"] = "published";
        }
        return out;
      }
    }
  }

  /** tasks.ping: the task's last_update moves (TaskBLL.set_last_update; the caller's own tasks only). */
  ping(id: string): void {
    const task = this.s.tasks.find((t) => t.id === id && t.company === this.company);
    if (!task) return;
    const now = this.iso();
    task.last_update = now;
    task.last_change = now;
  }

  /** Published children block a delete or a reset (task_cleanup.verify_task_children_and_ouptuts). */
  private checkChildren(task: FakeTask, force: boolean): void {
    if (force) return;
    const children = this.s.tasks.filter((t) => t.parent === task.id && t.status === "published").length;
    if (children > 0) throw apiError("task_cannot_be_deleted", "has children, use force=True", { task: task.id, children });
  }

  /**
   * tasks.reset (task_operations.reset_task): back to created with reason and message "reset",
   * out of every queue; metrics, runtime, output models, started/completed/published,
   * last_worker, enqueue_status and execution.queue (clear_all: the whole execution and the
   * script) wiped, events deleted.
   * @throws {ApiError} 400/101, 403/21, 400/110 (published unless force; publishing always but forced), 400/123 (published children unless force).
   */
  reset(body: Doc): Doc {
    const task = this.taskForWrite(str(body["task"]) ?? "");
    const force = body["force"] === true;
    if (!force && task.status === "published") throw apiError("invalid_task_status", undefined, { task_id: task.id, status: task.status });
    let dequeued: { removed: number } | undefined;
    try {
      dequeued = this.dequeueSilently(task);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    this.removeFromAllQueues(task.id);
    this.checkChildren(task, force);
    const unset = ["output.result", "output.error", "last_worker", "last_worker_report", "started", "completed", "published", "active_duration", "enqueue_status"];
    const clearAll = body["clear_all"] === true;
    const res = this.changeStatus(task, "created", { force, reason: "reset", message: "reset", unset: clearAll ? unset : [...unset, "execution.queue"] });
    task.last_iteration = 0;
    task.last_metrics = {};
    task.runtime = {};
    task.models = { input: task.models?.input ?? [], output: [] };
    if (clearAll) {
      task.execution = {};
      task.script = { binary: "python", repository: "", entry_point: "" };
    }
    this.s.deleteEvents([task.id]);
    const out: Doc = { ...res, deleted_models: 0 };
    if (dequeued) out["dequeued"] = dequeued;
    return out;
  }

  /** task_operations.archive_task: dequeued (a queued task back to its earlier status, an in_progress one forced to stopped), then the `archived` system tag, status_reason and status_message written. */
  archiveTask(task: FakeTask, reason: string, message: string): number {
    try {
      this.dequeueAndChangeStatus(task, { reason, message, removeFromAll: true, newStatusForAborted: "stopped" });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    task.status_message = message;
    task.status_reason = reason;
    if (!task.system_tags.includes("archived")) task.system_tags = [...task.system_tags, "archived"];
    task.last_change = this.iso();
    task.last_changed_by = this.s.identity.user;
    return 1;
  }

  /**
   * tasks.archive: every id must be writable or the whole call fails (403/21 first, then 400/101 "ids=(...)").
   */
  archive(body: Doc): Doc {
    const tasks = this.tasksForWrite(stringList(body["tasks"]) ?? []);
    let archived = 0;
    for (const t of tasks) archived += this.archiveTask(t, str(body["status_reason"]) ?? "", str(body["status_message"]) ?? "");
    return { archived };
  }

  /** run_batch_operation: each id on its own; failures as `{id, error: {codes, msg, data}}`. */
  private batch(ids: readonly string[], op: (id: string) => Doc): Doc {
    const succeeded: Doc[] = [];
    const failed: Doc[] = [];
    for (const id of ids) {
      try {
        succeeded.push({ id, ...op(id) });
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        failed.push({ id, error: { codes: [e.status, e.subcode], msg: e.message, data: e.errorData } });
      }
    }
    return { succeeded, failed };
  }

  /** tasks.archive_many: {succeeded: [{id, archived: true}], failed: [{id, error}]}. */
  archiveMany(body: Doc): Doc {
    const reason = str(body["status_reason"]) ?? "";
    const message = str(body["status_message"]) ?? "";
    return this.batch(stringList(body["ids"]) ?? [], (id) => ({ archived: this.archiveTask(this.taskForWrite(id), reason, message) === 1 }));
  }

  /** tasks.unarchive_many: the `archived` system tag removed; status_reason and status_message written. */
  unarchiveMany(body: Doc): Doc {
    const reason = str(body["status_reason"]) ?? "";
    const message = str(body["status_message"]) ?? "";
    return this.batch(stringList(body["ids"]) ?? [], (id) => {
      const task = this.taskForWrite(id);
      task.status_message = message;
      task.status_reason = reason;
      task.system_tags = task.system_tags.filter((t) => t !== "archived");
      task.last_change = this.iso();
      task.last_changed_by = this.s.identity.user;
      return { unarchived: true };
    });
  }

  /**
   * tasks.delete (task_operations.delete_task): only a `created` or archived task unless force;
   * dequeued first, children re-parented to `__DELETED__<id>`, events deleted, the task removed
   * (the trash is invisible to the API).
   * @throws {ApiError} 400/101, 403/21, 400/123 (status, or published children, unless force).
   */
  delete(body: Doc): Doc {
    const task = this.taskForWrite(str(body["task"]) ?? "");
    const force = body["force"] === true;
    if (task.status !== "created" && !task.system_tags.includes("archived") && !force) {
      throw apiError("task_cannot_be_deleted", "due to status, use force=True", { task: task.id, expected: "created", current: task.status });
    }
    try {
      this.dequeueAndChangeStatus(task, { reason: str(body["status_reason"]) ?? "", message: str(body["status_message"]) ?? "", removeFromAll: true });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    this.checkChildren(task, force);
    let updatedChildren = 0;
    for (const child of this.s.tasks) {
      if (child.parent !== task.id) continue;
      child.parent = `${DELETED_PREFIX}${task.id}`;
      child.last_change = this.iso();
      updatedChildren += 1;
    }
    this.s.tasks.splice(this.s.tasks.indexOf(task), 1);
    this.s.deleteEvents([task.id]);
    return { deleted: true, updated_children: updatedChildren, updated_models: 0, deleted_models: 0, urls: null };
  }

  // ---------------------------------------------------------------- events

  /** Whether events.add_batch accepts events for this task: the caller's company's (not public), not publishing/published unless allow_locked (EventBLL._get_valid_entities). */
  acceptsEvents(id: string, allowLocked: boolean): FakeTask | undefined {
    const task = this.s.tasks.find((t) => t.id === id && t.company === this.company && t.company !== "");
    if (!task) return undefined;
    if (!allowLocked && (task.status === "publishing" || task.status === "published")) return undefined;
    return task;
  }

  // ---------------------------------------------------------------- workers

  private workerKey(worker: string): string {
    return `worker_${this.company}_${this.s.identity.user}_${worker}`;
  }

  /** Forgets workers whose registration expired (Redis TTL). */
  purgeWorkers(): void {
    const now = this.s.clock.now();
    for (const [key, w] of this.s.workers) if (w.expires <= now) this.s.workers.delete(key);
  }

  private saveWorker(w: FakeWorker): void {
    w.expires = this.s.clock.now() + w.register_timeout * 1000;
    this.s.workers.set(w.key, w);
  }

  /**
   * workers.register: a fresh entry listening to `queues` (queue ids).
   * @throws {ApiError} 400/1002 for a timeout <= 0, 400/701 for an unknown queue.
   */
  registerWorker(worker: string, o: { timeout?: number; queues?: string[]; tags?: string[]; system_tags?: string[] } = {}): FakeWorker {
    const timeout = o.timeout || DEFAULT_WORKER_TIMEOUT_SEC;
    if (timeout <= 0) throw apiError("worker_registration_failed", "invalid timeout", { timeout, worker });
    const queues = o.queues ?? [];
    const invalid = queues.filter((q) => !this.findQueue(q));
    if (invalid.length > 0) throw apiError("invalid_queue_id", undefined, { ids: invalid });
    const now = this.iso();
    const w: FakeWorker = {
      id: worker,
      key: this.workerKey(worker),
      user: { id: this.s.identity.user, name: this.s.identity.user_name },
      company: { id: this.company, name: this.s.identity.company_name },
      ip: "127.0.0.1",
      queues: [...queues],
      tags: [...(o.tags ?? [])],
      system_tags: [...(o.system_tags ?? [])],
      register_time: now,
      last_activity_time: now,
      register_timeout: timeout,
      expires: 0,
    };
    this.saveWorker(w);
    return w;
  }

  /** workers.unregister (unknown workers are fine: auto_unregister). */
  unregisterWorker(worker: string): void {
    this.s.workers.delete(this.workerKey(worker));
  }

  /**
   * workers.status_report (WorkerBLL.status_report): an unknown worker is registered on the fly
   * (auto_register); with a task, the task's last_worker, last_worker_report and last_update move.
   * @throws {ApiError} 400/101 for a task of no company of the caller (the report is saved anyway).
   */
  statusReport(worker: string, o: { task?: string; queue?: string; queues?: string[]; tags?: string[]; system_tags?: string[] } = {}): void {
    this.purgeWorkers();
    const w = this.s.workers.get(this.workerKey(worker)) ?? this.registerWorker(worker);
    try {
      if (o.tags !== undefined) w.tags = [...o.tags];
      if (o.system_tags !== undefined) w.system_tags = [...o.system_tags];
      const now = this.iso();
      w.last_activity_time = now;
      if (o.queue === undefined) delete w.queue;
      else w.queue = o.queue;
      if (o.queues && o.queues.length > 0) w.queues = [...o.queues];
      if (!o.task) {
        delete w.task;
        delete w.project;
      } else {
        const task = this.s.tasks.find((t) => t.id === o.task && t.company === this.company);
        if (!task) throw apiError("invalid_task_id", undefined, { id: o.task, company: this.company });
        task.last_worker = worker;
        task.last_worker_report = now;
        task.last_update = now;
        task.last_change = now;
        task.last_changed_by = this.s.identity.user;
        w.task = { id: task.id, name: task.name };
        const project = this.s.projects.find((p) => p.id === task.project);
        if (project) w.project = { id: project.id, name: project.name };
        else delete w.project;
      }
      w.last_report_time = now;
    } finally {
      this.saveWorker(w);
    }
  }

  /** workers.get_all (WorkerBLL.get_all_with_projection): live workers seen within `last_seen` seconds (0: all), with their queues and task described. */
  workersGetAll(o: { last_seen?: number; tags?: string[]; system_tags?: string[]; worker_pattern?: string }): Doc[] {
    this.purgeWorkers();
    const now = this.s.clock.now();
    let workers = [...this.s.workers.values()].filter((w) => w.company.id === this.company);
    const hasTags = (o.tags?.length ?? 0) > 0 || (o.system_tags?.length ?? 0) > 0;
    if (o.worker_pattern) {
      // Without tags the server matches a Redis glob over the whole key; with tags a regex search.
      const re = hasTags ? new RegExp(`${globSource(o.worker_pattern)}$`) : new RegExp(`^${globSource(`worker_${this.company}_*_${o.worker_pattern}`)}$`);
      workers = workers.filter((w) => re.test(w.key));
    }
    for (const [list, field] of [[o.tags, "tags"], [o.system_tags, "system_tags"]] as const) {
      if (!list || list.length === 0) continue;
      const include = list.filter((t) => !t.startsWith("-"));
      const exclude = list.filter((t) => t.startsWith("-")).map((t) => t.slice(1));
      workers = workers.filter((w) => (include.length === 0 || include.some((t) => w[field].includes(t))) && !exclude.some((t) => w[field].includes(t)));
    }
    const lastSeen = o.last_seen ?? 3600;
    if (lastSeen) workers = workers.filter((w) => Date.parse(w.last_activity_time) >= now - Math.max(1, lastSeen) * 1000);
    const queueEntry = (id: string): Doc => {
      const q = this.s.queues.find((x) => x.id === id);
      if (!q) return { id };
      const next = q.entries[0];
      const nextTask = next ? this.s.tasks.find((t) => t.id === next.task) : undefined;
      return {
        id,
        name: q.name,
        ...(q.display_name === undefined ? {} : { display_name: q.display_name }),
        num_tasks: q.entries.length,
        ...(next ? { next_task: { id: next.task, ...(nextTask ? { name: nextTask.name } : {}) } } : {}),
      };
    };
    return workers.map((w) => {
      const task = w.task ? this.s.tasks.find((t) => t.id === w.task?.id) : undefined;
      const doc: Doc = {
        id: w.id,
        key: w.key,
        user: { ...w.user },
        company: { ...w.company },
        ip: w.ip,
        register_time: w.register_time,
        register_timeout: w.register_timeout,
        last_activity_time: w.last_activity_time,
        tags: [...w.tags],
        system_tags: [...w.system_tags],
        queues: w.queues.map(queueEntry),
      };
      if (w.last_report_time !== undefined) doc["last_report_time"] = w.last_report_time;
      if (w.queue !== undefined) doc["queue"] = queueEntry(w.queue);
      if (w.task) doc["task"] = { ...w.task, running_time: 0, ...(task?.last_iteration === undefined ? {} : { last_iteration: task.last_iteration }) };
      if (w.project) doc["project"] = { ...w.project };
      return doc;
    });
  }

  // ---------------------------------------------------------------- the watchdog

  /**
   * The server's non-responsive tasks watchdog (NonResponsiveTasksWatchdog.cleanup_tasks): every
   * in_progress task whose last_update is older than `thresholdSec` becomes stopped, with reason
   * and message "Forced stop (non-responsive)". Returns the ids stopped.
   */
  runWatchdog(thresholdSec = WATCHDOG_THRESHOLD_SEC): string[] {
    const ref = this.s.clock.now() - thresholdSec * 1000;
    const now = this.iso();
    const stopped: string[] = [];
    for (const task of this.s.tasks) {
      if (task.status !== "in_progress" || Date.parse(task.last_update) >= ref) continue;
      Object.assign(task, {
        status: "stopped",
        status_reason: "Forced stop (non-responsive)",
        status_message: "Forced stop (non-responsive)",
        status_changed: now,
        last_update: now,
        last_change: now,
        last_changed_by: "__apiserver__",
      });
      stopped.push(task.id);
    }
    return stopped;
  }
}
