import { BackendError, ConflictError, NotFoundError, UsageError } from "../../core/errors.js";
import { assertValidId, isValidId } from "../../core/ids.js";
import { didYouMean } from "../../core/suggest.js";
import type { ClearmlClient } from "../../stores/clearml/client.js";
import { isClearmlFailure } from "../../stores/clearml/errors.js";
import type { TaskState } from "./task-state.js";
import { TASK_STATE_FIELDS, taskStateOf } from "./task-state.js";

/** The most ids one `tasks.get_all` asks for: the server never answers more than 500 tasks per call. */
export const STATE_BATCH = 500;
/** Batches of a refresh in flight at once. */
const STATE_CONCURRENCY = 4;

/** A queue, found by exact name or as the server's default. */
export interface QueueRef {
  readonly id: string;
  readonly name: string;
}

/** The `script` section of a task: what clearml-agent checks out and runs. */
export interface TaskScript {
  readonly repository?: string;
  readonly branch?: string;
  readonly version_num?: string;
  readonly entry_point: string;
  readonly working_dir: string;
  readonly binary: string;
  readonly diff?: string;
  readonly requirements?: { readonly pip: string };
}

/** A new task for {@link ClearmlTasks.create}. */
export interface NewTask {
  readonly name: string;
  readonly projectId?: string;
  readonly comment: string;
  readonly tags: readonly string[];
  readonly script: TaskScript;
  /** `Args` hyperparameters: name -> value (always a string). */
  readonly args: Readonly<Record<string, string>>;
}

type Raw = Record<string, unknown>;

/** How a queue comes to be: clearml-agent's own flags (not expflow's), as its users type them. */
const AGENT_CREATES_QUEUE = "a clearml-agent makes the queue it serves with `clearml-agent daemon --queue NAME --create-queue`";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Whether the call may have been applied although no answer says so: the answer was lost
 * (timeout, connection reset), garbled, or replaced by a proxy's 5xx page. A clean ClearML
 * refusal (a 4xx envelope) was not applied.
 */
function answerLost(e: unknown): boolean {
  if (isClearmlFailure(e)) return e.clearml.resultCode >= 500;
  return e instanceof BackendError && ["E_CLEARML_TIMEOUT", "E_CLEARML_UNREACHABLE", "E_CLEARML_BAD_RESPONSE", "E_CLEARML_SERVER"].includes(e.code);
}

function clearmlCode(e: unknown): string | undefined {
  return isClearmlFailure(e) ? `${e.clearml.resultCode}/${e.clearml.resultSubcode}` : undefined;
}

/** The system tag that links a task to the local run it was made for: found again after a lost answer, kept by a reset. */
export function linkTag(localId: string): string {
  return `expflow:${localId}`;
}

/** `Args` hyperparameters as `tasks.create` takes them (section -> name -> parameter). */
function argsSection(args: Readonly<Record<string, string>>): Record<string, Record<string, unknown>> {
  const section: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) section[name] = { section: "Args", name, value, type: "str" };
  return Object.keys(section).length === 0 ? {} : { Args: section };
}

/**
 * The ClearML calls of dispatch: queues and projects looked up by exact name, tasks created,
 * cloned, enqueued, stopped, archived and deleted, states read in batches. Calls that are not
 * safe to repeat (create, clone, enqueue) are sent once; when their answer is lost, the state is
 * read before anything is decided (see `/work/shared/clearml-api.md`, "Which calls are safe to
 * retry"). Reads, stop, archive, delete and hyperparameter edits are retried by the client.
 */
export class ClearmlTasks {
  constructor(readonly client: ClearmlClient) {}

  /** The server, for messages and links. */
  get server(): string {
    return this.client.server;
  }

  /**
   * The queue with exactly this name, or the server's default queue (the one tagged `default`)
   * when no name is given. Never creates a queue.
   *
   * @throws {NotFoundError} `E_QUEUE_NOT_FOUND` (exit 2) listing the queues there are.
   * @throws {UsageError} `E_NO_DEFAULT_QUEUE` (exit 2) when no name is given and the server has no default queue.
   */
  async resolveQueue(name: string | undefined): Promise<QueueRef> {
    if (name === undefined) {
      try {
        const q = await this.client.call<{ id?: unknown; name?: unknown }>("queues.get_default", {});
        if (isValidId(q.id)) return { id: q.id, name: typeof q.name === "string" ? q.name : q.id };
      } catch (e) {
        if (!(isClearmlFailure(e) && e.clearml.resultCode === 400 && (e.clearml.resultSubcode === 707 || e.clearml.resultSubcode === 708))) throw e;
        const several = e.clearml.resultSubcode === 708;
        throw new UsageError("E_NO_DEFAULT_QUEUE", `ClearML at ${this.server} has ${several ? "several default queues" : "no default queue"}: name the queue to use`, {
          hint: await this.queuesHint(),
        });
      }
      throw new BackendError("E_CLEARML_BAD_RESPONSE", `ClearML at ${this.server} answered queues.get_default without a queue id`);
    }
    const data = await this.client.call<{ queues?: Raw[] }>("queues.get_all", { name: `^${escapeRegExp(name)}$`, only_fields: ["id", "name"], search_hidden: true });
    const found = (data.queues ?? []).find((q) => q["name"] === name && isValidId(q["id"]));
    if (found !== undefined) return { id: String(found["id"]), name };
    const names = await this.queueNames();
    throw new NotFoundError("E_QUEUE_NOT_FOUND", `no queue named '${name}' on ClearML at ${this.server}.${didYouMean(name, names)}`, {
      hint: names.length > 0 ? `queues there: ${names.join(", ")} (expflow never creates a queue; ${AGENT_CREATES_QUEUE})` : `the server has no queues yet; ${AGENT_CREATES_QUEUE}`,
    });
  }

  /** The names of the server's queues, sorted (one request). */
  async queueNames(): Promise<string[]> {
    const data = await this.client.call<{ queues?: Raw[] }>("queues.get_all", { only_fields: ["id", "name"], order_by: ["name"], page: 0, page_size: 500 });
    return (data.queues ?? []).map((q) => q["name"]).filter((n): n is string => typeof n === "string");
  }

  private async queuesHint(): Promise<string> {
    const names = await this.queueNames().catch(() => []);
    return names.length > 0 ? `queues there: ${names.join(", ")}` : `the server has no queues; ${AGENT_CREATES_QUEUE}`;
  }

  /**
   * The id of the project with exactly this name, created when there is none (as `clearml-task`
   * does). A lost answer to the creation is followed by a lookup, never a second creation blindly.
   *
   * @returns the id, and whether it was created now.
   */
  async ensureProject(name: string): Promise<{ id: string; created: boolean }> {
    const existing = await this.findProject(name);
    if (existing !== undefined) return { id: existing, created: false };
    try {
      const made = await this.client.call<{ id?: unknown }>("projects.create", { name, description: "created by expflow for the runs dispatched to it" }, { idempotent: false });
      if (isValidId(made.id)) return { id: made.id, created: true };
      throw new BackendError("E_CLEARML_BAD_RESPONSE", `ClearML at ${this.server} answered projects.create without an id`);
    } catch (e) {
      // Lost answer, or another process created it meanwhile: look again before deciding.
      if (!answerLost(e) && !(isClearmlFailure(e) && e.clearml.resultCode === 400)) throw e;
      const again = await this.findProject(name);
      if (again !== undefined) return { id: again, created: false };
      throw e;
    }
  }

  /** The id of the project with exactly this name, or `undefined` (one request; creates nothing). */
  async findProject(name: string): Promise<string | undefined> {
    const data = await this.client.call<{ projects?: Raw[] }>("projects.get_all", { name: `^${escapeRegExp(name)}$`, only_fields: ["id", "name"], search_hidden: true });
    const p = (data.projects ?? []).find((x) => x["name"] === name && isValidId(x["id"]));
    return p === undefined ? undefined : String(p["id"]);
  }

  /**
   * Creates a task clearml-agent can run (status `created`), carrying the system tag
   * {@link linkTag} of `localId`. Sent once: when the answer is lost, the task is looked up by
   * that tag; only when it is not there is the creation sent a second time.
   */
  async create(task: NewTask, localId: string): Promise<string> {
    const body: Raw = {
      name: task.name,
      type: "training",
      comment: task.comment,
      tags: [...task.tags],
      system_tags: [linkTag(localId)],
      script: { ...task.script },
      hyperparams: argsSection(task.args),
      ...(task.projectId === undefined ? {} : { project: task.projectId }),
    };
    return this.createOnce("tasks.create", body, localId);
  }

  /**
   * Clones `sourceId` (script, container, configuration, hyperparameters and tags are copied;
   * metrics are not) as a task linked to `localId`, then sets `args` over the copied `Args`.
   *
   * @throws {NotFoundError} `E_TASK_NOT_FOUND` (exit 2) for an unknown source.
   */
  async clone(sourceId: string, localId: string, options: { name?: string; projectId?: string; tags?: readonly string[]; comment: string; args: Readonly<Record<string, string>> }): Promise<string> {
    const body: Raw = {
      task: sourceId,
      new_task_comment: options.comment,
      // The source's own link (if expflow made it) must not be copied: the clone is another run.
      new_task_system_tags: [linkTag(localId)],
      ...(options.name === undefined ? {} : { new_task_name: options.name }),
      ...(options.projectId === undefined ? {} : { new_task_project: options.projectId }),
      // The server reads an empty list as none given (Python's `or`) and copies the source's: say
      // so by sending none.
      ...(options.tags === undefined || options.tags.length === 0 ? {} : { new_task_tags: [...options.tags] }),
    };
    let id: string;
    try {
      id = await this.createOnce("tasks.clone", body, localId);
    } catch (e) {
      if (isClearmlFailure(e) && e.clearml.resultCode === 400 && e.clearml.resultSubcode === 101) throw this.taskNotFound(sourceId);
      throw e;
    }
    const params = Object.entries(options.args).map(([name, value]) => ({ section: "Args", name, value, type: "str" }));
    // Safe to repeat: it sets the same values again.
    if (params.length > 0) await this.client.call("tasks.edit_hyper_params", { task: id, hyperparams: params, replace_hyperparams: "none" });
    return id;
  }

  private async createOnce(endpoint: "tasks.create" | "tasks.clone", body: Raw, localId: string): Promise<string> {
    const idOf = (data: { id?: unknown }): string => {
      // The id goes into the registry, links and later requests: it must pass the id rule.
      if (!isValidId(data.id)) throw new BackendError("E_CLEARML_BAD_RESPONSE", `ClearML at ${this.server} answered ${endpoint} without a usable task id`);
      return data.id;
    };
    try {
      return idOf(await this.client.call<{ id?: unknown }>(endpoint, body, { idempotent: false }));
    } catch (e) {
      if (!answerLost(e)) throw e;
      const found = await this.findLinked(localId);
      if (found !== undefined) return found;
      return idOf(await this.client.call<{ id?: unknown }>(endpoint, body, { idempotent: false }));
    }
  }

  /** The task carrying the link tag of `localId`, if any. */
  async findLinked(localId: string): Promise<string | undefined> {
    const data = await this.client.call<{ tasks?: Raw[] }>("tasks.get_all", { system_tags: [linkTag(localId)], only_fields: ["id"], search_hidden: true, order_by: ["created"], page: 0, page_size: 10 });
    const t = (data.tasks ?? [])[0];
    return t !== undefined && isValidId(t["id"]) ? t["id"] : undefined;
  }

  /**
   * Puts a created task in the queue. Sent once: when the answer is lost, the task is read, and
   * the enqueue sent again only if the task is still `created` (a second enqueue of a task that
   * went through is refused with 706 at best, and runs it twice at worst).
   *
   * @returns the task's state after the enqueue.
   * @throws {ConflictError} `E_CLEARML_REFUSED` (exit 2) when the server refuses (a status that cannot be queued).
   */
  async enqueue(taskId: string, queue: QueueRef, reason: string): Promise<void> {
    const body = { task: taskId, queue: queue.id, status_reason: reason };
    try {
      await this.client.call("tasks.enqueue", body, { idempotent: false });
    } catch (e) {
      if (!answerLost(e)) throw e;
      const state = await this.state(taskId);
      if (state !== undefined && state.status !== "created") return;
      await this.client.call("tasks.enqueue", body, { idempotent: false });
    }
  }

  /**
   * Asks the server to stop a task (`tasks.stop`, safe to repeat): a queued task is dequeued and
   * stopped; a running one with a live worker gets the status message `stopping` and its agent
   * stops it within seconds; one without a live worker is stopped at once.
   *
   * @returns the task as the server answered the stop (its `fields` over `before`), which is
   *   what happened even when the agent acts before any later read; read again only when the
   *   answer carries no fields (or the task had ended meanwhile: 400/110); `undefined` when the
   *   task no longer exists.
   */
  async stop(taskId: string, reason: string, before: TaskState): Promise<TaskState | undefined> {
    let answer: { fields?: unknown };
    try {
      answer = await this.client.call<{ fields?: unknown }>("tasks.stop", { task: taskId, status_reason: reason });
    } catch (e) {
      if (isClearmlFailure(e) && e.clearml.resultCode === 400 && e.clearml.resultSubcode === 101) return undefined;
      // 110: it finished (or was never queued) meanwhile; what it is now is read below.
      if (!(isClearmlFailure(e) && e.clearml.resultCode === 400 && e.clearml.resultSubcode === 110)) throw e;
      return this.state(taskId);
    }
    const fields = answer.fields !== null && typeof answer.fields === "object" && !Array.isArray(answer.fields) ? (answer.fields as Raw) : undefined;
    if (fields === undefined || typeof fields["status"] !== "string") return this.state(taskId);
    const text = (v: unknown, was: string | null): string | null => (typeof v === "string" ? (v === "" ? null : v) : was);
    return {
      ...before,
      status: fields["status"],
      statusReason: text(fields["status_reason"], before.statusReason),
      statusMessage: text(fields["status_message"], before.statusMessage),
      statusChanged: text(fields["status_changed"], before.statusChanged),
    };
  }

  /**
   * Archives a task (`tasks.archive`, safe to repeat): it gets the system tag `archived`.
   *
   * @returns `false` when the task no longer exists.
   */
  async archive(taskId: string): Promise<boolean> {
    try {
      await this.client.call("tasks.archive", { tasks: [taskId] });
      return true;
    } catch (e) {
      if (isClearmlFailure(e) && e.clearml.resultCode === 400 && e.clearml.resultSubcode === 101) return false;
      throw e;
    }
  }

  /**
   * Takes a task out of the archive (`tasks.unarchive_many`, safe to repeat).
   *
   * @returns `false` when the task no longer exists.
   */
  async unarchive(taskId: string): Promise<boolean> {
    const data = await this.client.call<{ succeeded?: unknown[]; failed?: Raw[] }>("tasks.unarchive_many", { ids: [taskId] });
    const failed = (data.failed ?? []).find((f) => f["id"] === taskId);
    if (failed === undefined) return true;
    const error = failed["error"] !== null && typeof failed["error"] === "object" ? (failed["error"] as Raw) : {};
    if (error["codes"] !== undefined && JSON.stringify(error["codes"]) === "[400,101]") return false;
    throw new BackendError("E_CLEARML_REQUEST", `ClearML at ${this.server} did not unarchive task ${taskId}: ${typeof error["msg"] === "string" ? error["msg"] : "refused"}`);
  }

  /**
   * Deletes a task (`tasks.delete`, without force: a task that is neither created nor archived,
   * or that has published children or models, is refused). Safe to repeat: an unknown task is
   * one already deleted.
   *
   * @returns `false` when the task did not exist (any more).
   * @throws {ConflictError} `E_CLEARML_DELETE_REFUSED` (exit 2) when the server refuses.
   */
  async delete(taskId: string): Promise<boolean> {
    try {
      await this.client.call("tasks.delete", { task: taskId });
      return true;
    } catch (e) {
      if (isClearmlFailure(e) && e.clearml.resultCode === 400 && e.clearml.resultSubcode === 101) return false;
      if (isClearmlFailure(e) && e.clearml.resultCode === 400 && e.clearml.resultSubcode === 123) {
        throw new ConflictError("E_CLEARML_DELETE_REFUSED", `ClearML at ${this.server} refuses to delete task ${taskId}: it is not archived there, or it has published children or models (${clearmlCode(e)})`, {
          hint: "archive it in the ClearML web app (or unpublish what depends on it), then delete again; nothing was deleted locally",
        });
      }
      throw e;
    }
  }

  /** One task's state, or `undefined` when it does not exist. */
  async state(taskId: string, options: { metrics?: boolean } = {}): Promise<TaskState | undefined> {
    return (await this.states([taskId], options)).get(taskId);
  }

  /**
   * The states of many tasks: one `tasks.get_all` per {@link STATE_BATCH} ids (never an empty id
   * list, which the server reads as no filter), a few in flight at once, only the fields needed.
   * An id missing from the answers is a task that no longer exists (deleted, or in the trash).
   */
  async states(taskIds: readonly string[], options: { metrics?: boolean } = {}): Promise<Map<string, TaskState>> {
    const ids = [...new Set(taskIds)];
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += STATE_BATCH) batches.push(ids.slice(i, i + STATE_BATCH));
    const fields = options.metrics === true ? [...TASK_STATE_FIELDS, "last_metrics"] : [...TASK_STATE_FIELDS];
    const out = new Map<string, TaskState>();
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let b = next++; b < batches.length; b = next++) {
        const batch = batches[b]!;
        const data = await this.client.call<{ tasks?: Raw[] }>("tasks.get_all", { id: batch, only_fields: fields, page: 0, page_size: STATE_BATCH, order_by: ["id"] });
        const wanted = new Set(batch);
        for (const t of data.tasks ?? []) if (typeof t["id"] === "string" && wanted.has(t["id"])) out.set(t["id"], taskStateOf(t));
      }
    };
    await Promise.all(Array.from({ length: Math.min(STATE_CONCURRENCY, batches.length) }, worker));
    return out;
  }

  /** The task's project and name, script and `Args`, to record a clone locally. */
  async source(taskId: string): Promise<{ name: string | null; projectId: string | null; tags: string[]; args: Record<string, string>; entryPoint: string | null; binary: string | null }> {
    assertValidId(taskId, "ClearML task id");
    const data = await this.client.call<{ tasks?: Raw[] }>("tasks.get_all", { id: [taskId], only_fields: ["id", "name", "project", "tags", "hyperparams", "script"] });
    const t = (data.tasks ?? []).find((x) => x["id"] === taskId);
    if (t === undefined) throw this.taskNotFound(taskId);
    const args: Record<string, string> = {};
    const hp = t["hyperparams"] !== null && typeof t["hyperparams"] === "object" ? (t["hyperparams"] as Record<string, Raw>) : {};
    const section = hp["Args"] !== null && typeof hp["Args"] === "object" ? (hp["Args"] as Record<string, Raw>) : {};
    for (const [name, p] of Object.entries(section)) if (p !== null && typeof p === "object") args[name] = String((p as Raw)["value"] ?? "");
    const script = t["script"] !== null && typeof t["script"] === "object" ? (t["script"] as Raw) : {};
    return {
      name: typeof t["name"] === "string" ? t["name"] : null,
      projectId: isValidId(t["project"]) ? t["project"] : null,
      tags: Array.isArray(t["tags"]) ? t["tags"].filter((x): x is string => typeof x === "string") : [],
      args,
      entryPoint: typeof script["entry_point"] === "string" ? script["entry_point"] : null,
      binary: typeof script["binary"] === "string" ? script["binary"] : null,
    };
  }

  private taskNotFound(taskId: string): NotFoundError {
    return new NotFoundError("E_TASK_NOT_FOUND", `no ClearML task '${taskId}' on ${this.server}`, { hint: "check the task id (the ID in the ClearML web app's task info)" });
  }
}
