import { NotFoundError, UsageError } from "../../core/errors.js";
import type { Experiment } from "../../core/experiment.js";
import { isTerminal, nextState } from "../../core/lifecycle/lifecycle.js";
import type { MetricRegistry } from "../../core/metrics/registry.js";
import { customNameProblem } from "../../core/metrics/registry.js";
import { metricsOfTask } from "../../stores/clearml/clearml-store.js";
import { displayUrl } from "../../stores/clearml/client.js";
import { newExperimentId } from "../../stores/local/ids.js";
import type { FollowChange, FollowResult, LocalStore } from "../../stores/local/local-store.js";
import type { RegistryRecord } from "../../stores/local/record.js";
import { experimentFromRecord, linkOf, plainObject, statusOf } from "../../stores/local/record.js";
import type { ArchiveEvent } from "../../core/lifecycle/lifecycle.js";
import type { LinkedTasks, RemoteLink, WarningSink } from "../../stores/store.js";
import type { CancelOutcome, Executor, RunSpec } from "../executor.js";
import type { ClearmlTasks, QueueRef, TaskScript } from "./clearml-tasks.js";
import type { TaskState } from "./task-state.js";
import { clearmlFieldOf, lifecycleTarget } from "./task-state.js";

/** What the task's `script` section is made of, from the working directory and the command (see `script.ts`). */
export type DescribeScript = (input: { cwd: string; argv: readonly string[]; shell: boolean; noRepo: boolean }) => Promise<{ script: TaskScript; display: string; notes: string[] }>;

/** Options of {@link ClearmlExecutor}. */
export interface ClearmlExecutorOptions {
  /** The local registry, where every dispatched run is recorded and linked (unguarded: the executor's own bookkeeping). */
  readonly store: LocalStore;
  readonly tasks: ClearmlTasks;
  /** The web app (`api.web_server`), for links to tasks; `null` when unknown. */
  readonly webServer: string | null;
  /** `user@host`, for the task's comment and status reasons. */
  readonly who: string;
  /** The metric registry that imports a task's metrics on {@link ClearmlExecutor.sync}. */
  readonly metrics: MetricRegistry;
  readonly describeScript: DescribeScript;
  /** How often {@link ClearmlExecutor.watch} asks the server (ms; default 2 000). */
  readonly pollMs?: number;
  readonly onWarning?: WarningSink;
  readonly now?: () => Date;
}

/** A run for ClearML: as a local one, plus whether to send the git repository. */
export interface ClearmlRunSpec extends RunSpec {
  /** Send nothing of git: the command must be self-contained (the agent runs it in an empty directory). */
  readonly noRepo?: boolean;
}

/** A run made from an existing task: clone, then edit hyperparameters. */
export interface ClearmlCloneSpec {
  readonly sourceTaskId: string;
  /** A queue name; absent: the server's default queue. */
  readonly queue?: string;
  readonly name?: string | null;
  readonly project?: string | null;
  /** Tags; absent: the source's. */
  readonly tags?: readonly string[];
  /** `Args/<name>` values set over the copied ones. */
  readonly args: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** The run this one retries (recorded as `retry_of`), and why, for the history. */
  readonly retry?: { readonly of: string; readonly reason: string };
}

/** What a dispatch did. */
export interface Dispatched {
  readonly experiment: Experiment;
  readonly record: RegistryRecord;
  readonly taskId: string;
  readonly queue: QueueRef;
  /** The task in the web app, when the web server is known. */
  readonly webUrl: string | null;
  /** Things the user should know (uncommitted changes sent as a diff, a commit not on the remote, a project created). */
  readonly notes: readonly string[];
}

/** One run a {@link ClearmlExecutor.sync} changed. */
export interface SyncChange {
  readonly id: string;
  readonly taskId: string;
  readonly from: string;
  readonly to: string;
  /** ClearML's status, reason and message. */
  readonly clearml: { readonly status: string; readonly statusReason: string | null; readonly statusMessage: string | null };
}

/** What a {@link ClearmlExecutor.sync} found and did. */
export interface SyncReport {
  /** Linked runs whose task was read. */
  readonly checked: number;
  /** Runs whose state moved. */
  readonly moved: readonly SyncChange[];
  /** Runs whose record changed otherwise (ClearML's status words, metrics). */
  readonly updated: number;
  /** Runs whose task no longer exists (marked, nothing deleted). */
  readonly missing: readonly string[];
  /** Runs whose task is in a state the lifecycle does not allow from theirs (left as they are). */
  readonly blocked: readonly SyncChange[];
  /** Linked runs of another ClearML server, not read. */
  readonly otherServer: readonly { readonly id: string; readonly server: string }[];
  /** Metric values imported (with `metrics`). */
  readonly metricsImported: number;
  /** Metric names reported on the tasks that the metric registry does not know (not imported). */
  readonly metricsLeftOut: readonly string[];
}

/** `https://app/` and `https://app` name one server. */
function sameServer(a: string, b: string): boolean {
  return displayUrl(a) === displayUrl(b);
}

/**
 * Imports a task's last metric values through the metric registry: a variant that names a
 * registered metric (or alias) becomes that metric; a variant reported under two titles is taken
 * from the title that is its metric's group (never guessed). Any other variant is kept as a
 * custom metric under its own name, as a run's metrics file keeps one, unless the registry is
 * strict (`metrics.strict`) or the name cannot be a metric's; then it is left out (and named).
 */
export function importTaskMetrics(lastMetrics: unknown, registry: MetricRegistry): { values: Record<string, number>; leftOut: string[] } {
  const { metrics, ambiguous } = metricsOfTask(lastMetrics);
  const values: Record<string, number> = {};
  const leftOut: string[] = [];
  const take = (name: string, value: unknown): boolean => {
    if (typeof value !== "number" || !Number.isFinite(value)) return false;
    const canonical = registry.resolve(name) ?? (registry.strict || customNameProblem(name) !== null ? undefined : name);
    if (canonical === undefined) return false;
    values[canonical] = value;
    return true;
  };
  for (const [name, value] of Object.entries(metrics)) {
    if (ambiguous !== undefined && name.includes("/")) continue;
    if (!take(name, value)) leftOut.push(name);
  }
  for (const [variant, qualified] of Object.entries(ambiguous ?? {})) {
    const canonical = registry.resolve(variant);
    const group = canonical === undefined ? undefined : registry.get(canonical)?.group;
    const chosen = qualified.find((q) => q === `${group}/${variant}`);
    if (chosen === undefined || !take(variant, metrics[chosen])) leftOut.push(...qualified);
  }
  return { values, leftOut };
}

/**
 * The ClearML executor: runs are ClearML tasks that clearml-agent workers pull from ClearML
 * queues, each recorded in the local registry and linked to its task (`method: clearml`,
 * `clearml_task_id`), and followed from there: {@link sync} moves the records as their tasks
 * move, through the lifecycle state machine. `cancel` is guarded when the executor is opened
 * through `security/guarded.ts`; archive and delete of linked runs go through the store
 * ({@link linkedTasks}).
 */
export class ClearmlExecutor implements Executor {
  readonly kind = "clearml";
  readonly #o: ClearmlExecutorOptions;
  readonly #now: () => Date;

  constructor(options: ClearmlExecutorOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** The ClearML API server. */
  get server(): string {
    return this.#o.tasks.server;
  }

  /** {@inheritDoc Executor.submit} See {@link dispatch}. */
  async submit(spec: ClearmlRunSpec): Promise<Experiment> {
    return (await this.dispatch(spec)).experiment;
  }

  /**
   * Sends a command to a ClearML queue: a task clearml-agent can run (the git repository of
   * `spec.cwd`, its uncommitted changes as a diff, the command as entry point, `Args/k` for each
   * parameter), enqueued to the queue of that exact name (or the server's default), and recorded
   * in the local registry linked to it. Everything that can be refused is checked before anything
   * is created (the repository, the queue, the name).
   *
   * @throws {UsageError} `E_NO_REPOSITORY`, `E_USAGE` (exit 2) from the script description;
   *   `E_QUEUE_NOT_FOUND`, `E_NO_DEFAULT_QUEUE` (exit 2) naming the queues there are.
   * @throws {BackendError} from the client (exit 4). When the enqueue fails after the task was
   *   created, the run stays recorded as dispatched and linked, and the error says so.
   */
  async dispatch(spec: ClearmlRunSpec): Promise<Dispatched> {
    const name = this.#taskName(spec.name ?? null);
    // A registry that cannot take the record is said before a task exists.
    this.#o.store.assertWritable();
    const { script, display, notes } = await this.#o.describeScript({ cwd: spec.cwd, argv: spec.argv, shell: spec.shell, noRepo: spec.noRepo === true });
    // The two lookups share the client's one login and go out together; a missing project is
    // created only once the queue is known to exist (a refusal creates nothing).
    const projectName = spec.project ?? null;
    const [queue, found] = await Promise.all([this.#o.tasks.resolveQueue(spec.queue), projectName === null ? undefined : this.#o.tasks.findProject(projectName)]);
    const project = found !== undefined ? { id: found } : await this.#project(projectName, notes);
    const localId = newExperimentId();
    const args = Object.fromEntries(Object.entries(spec.params ?? {}).map(([k, v]) => [k.startsWith("Args/") ? k.slice(5) : k, v]));
    // Without --name the task is named by its command, or by the run when that is too short for ClearML.
    const derived = display.trim().length >= 3 ? display.trim().slice(0, 120) : `expflow ${localId}`;
    const taskId = await this.#o.tasks.create(
      { name: name ?? derived, projectId: project?.id, comment: this.#comment(localId), tags: spec.tags ?? [], script, args },
      localId,
    );
    return this.#record(localId, taskId, queue, project?.id ?? null, notes, {
      name: spec.name ?? null,
      command: display,
      argv: [...spec.argv],
      shell: spec.shell,
      cwd: spec.cwd,
      project: spec.project ?? null,
      tags: [...(spec.tags ?? [])],
      params: { ...(spec.params ?? {}) },
    });
  }

  /**
   * Makes a run from an existing task: cloned (script, container, configuration, hyperparameters
   * and tags copied, metrics not), `Args` set over the copied ones, enqueued, recorded and linked.
   *
   * @throws {NotFoundError} `E_TASK_NOT_FOUND` (exit 2) for an unknown source task.
   */
  async dispatchClone(spec: ClearmlCloneSpec): Promise<Dispatched> {
    const name = this.#taskName(spec.name ?? null);
    this.#o.store.assertWritable();
    const source = await this.#o.tasks.source(spec.sourceTaskId);
    const queue = await this.#o.tasks.resolveQueue(spec.queue);
    const notes: string[] = [];
    const project = await this.#project(spec.project ?? null, notes);
    const localId = newExperimentId();
    const taskId = await this.#o.tasks.clone(spec.sourceTaskId, localId, {
      ...(name === undefined ? {} : { name }),
      ...(project === undefined ? {} : { projectId: project.id }),
      ...(spec.tags === undefined ? {} : { tags: spec.tags }),
      comment: this.#comment(localId, spec.sourceTaskId),
      args: spec.args,
    });
    const args = { ...source.args, ...spec.args };
    const command = source.binary === null || source.entryPoint === null ? `clone of ${spec.sourceTaskId}` : `${source.binary} ${source.entryPoint}`;
    return this.#record(localId, taskId, queue, project?.id ?? source.projectId, notes, {
      name: name ?? source.name,
      command,
      argv: [],
      shell: false,
      cwd: spec.cwd,
      project: spec.project ?? null,
      tags: [...(spec.tags ?? source.tags)],
      params: Object.fromEntries(Object.entries(args).map(([k, v]) => [`Args/${k}`, v])),
      clearml_source_task_id: spec.sourceTaskId,
      ...(spec.retry === undefined ? {} : { retry_of: spec.retry.of }),
    }, spec.retry?.reason);
  }

  /** A name ClearML accepts (at least 3 characters after trimming), or `undefined` to derive one. */
  #taskName(name: string | null): string | undefined {
    if (name === null) return undefined;
    if (name.trim().length < 3) throw new UsageError("E_USAGE", `the task name '${name}' is too short for ClearML, which needs at least 3 characters`, { field: "name", value: name });
    return name;
  }

  async #project(name: string | null, notes: string[]): Promise<{ id: string } | undefined> {
    if (name === null) return undefined;
    const p = await this.#o.tasks.ensureProject(name);
    if (p.created) notes.push(`created the ClearML project '${name}'`);
    return p;
  }

  #comment(localId: string, source?: string): string {
    return `expflow run ${localId}${source === undefined ? "" : `, cloned from ${source}`}, submitted by ${this.#o.who}`;
  }

  /** The task's page in the web app: `<web>/projects/<project or *>/experiments/<task>/output/execution`. */
  webUrl(taskId: string, projectId: string | null): string | null {
    const web = this.#o.webServer;
    if (web === null || web.trim() === "") return null;
    return `${displayUrl(web.trim())}/projects/${projectId ?? "*"}/experiments/${taskId}/output/execution`;
  }

  async #record(localId: string, taskId: string, queue: QueueRef, projectId: string | null, notes: string[], fields: Record<string, unknown>, reason?: string): Promise<Dispatched> {
    const webUrl = this.webUrl(taskId, projectId);
    const { store } = this.#o;
    const created = await store.create({
      id: localId,
      generatedId: true,
      events: ["dispatch"],
      ...(reason === undefined ? {} : { reason }),
      fields: {
        name: fields["name"] ?? null,
        status: "created",
        queue: queue.name,
        ...fields,
        timestamp: this.#now().toISOString(),
        method: "clearml",
        clearml_task_id: taskId,
        clearml_server: this.server,
        clearml_queue_id: queue.id,
        ...(webUrl === null ? {} : { clearml_web_url: webUrl }),
        metrics: {},
        history: [],
        archived: false,
      },
    }).catch(async (e: unknown) => {
      // Not recorded here (a full disk): the task, still created and never queued, is taken back
      // so that nothing runs untracked.
      const gone = await this.#o.tasks.delete(taskId).then(
        () => true,
        () => false,
      );
      this.#o.onWarning?.(gone ? `the run could not be recorded, so ClearML task ${taskId} was deleted again` : `the run could not be recorded, and ClearML task ${taskId} (created, not queued) could not be deleted: delete it in the web app`);
      throw e;
    });
    try {
      await this.#o.tasks.enqueue(taskId, queue, `queued by expflow (run ${localId}) for ${this.#o.who}`);
    } catch (e) {
      this.#o.onWarning?.(`ClearML task ${taskId} was created and run ${localId} records it (dispatched), but it was not queued; \`expflow run sync\` follows it if it is queued in the web app, \`expflow run cancel ${localId}\` drops it`);
      throw e;
    }
    const queued = await store.follow(localId, () => ({ target: "queued" }));
    return { experiment: experimentFromRecord(queued.record, created.id), record: queued.record, taskId, queue, webUrl, notes };
  }

  #linked(id: string): { record: RegistryRecord; link: RemoteLink } {
    const record = this.#o.store.raw(id);
    if (record === undefined) throw new NotFoundError("E_EXPERIMENT_NOT_FOUND", `no experiment '${id}' in ${this.#o.store.location}`, { hint: "`expflow run list` shows the ids" });
    const link = linkOf(record);
    if (link === undefined) throw new UsageError("E_NOT_LINKED", `run ${id} is not linked to a ClearML task`, { hint: "it is a local run: the local agent runs it" });
    if (link.server !== undefined && !sameServer(link.server, this.server)) {
      throw new UsageError("E_OTHER_SERVER", `run ${id} is linked to a task on ClearML at ${displayUrl(link.server)}, not on ${this.server}`, {
        hint: "point CLEARML_API_HOST (or api.api_server in clearml.conf) at that server",
      });
    }
    return { record, link };
  }

  /**
   * {@inheritDoc Executor.cancel} On ClearML: the task is read first; a queued one is dequeued
   * (and stopped: `tasks.stop`, which is safe to repeat, where `tasks.dequeue` is not); a running
   * one is asked to stop, which a live agent does within seconds; a task never queued is left.
   * A run whose task has already finished is moved to that end and the cancel is refused.
   *
   * @throws {ConflictError} `E_ILLEGAL_TRANSITION` (exit 2) for a finished run (here or on ClearML).
   */
  async cancel(id: string): Promise<CancelOutcome> {
    const { record, link } = this.#linked(id);
    const from = statusOf(record);
    nextState(from, "cancel", id);
    const { tasks, store } = this.#o;
    const before = await tasks.state(link.taskId);
    if (before === undefined) {
      const done = await store.follow(id, (r) => ({ target: "cancelled", fields: { clearml: { ...(plainObject(r["clearml"]) ?? {}), missing: true } }, reason: "the ClearML task no longer exists" }));
      return { kind: "clearml", id, from, taskId: link.taskId, action: "missing", clearml: null, to: statusOf(done.record) };
    }
    const seen = lifecycleTarget(before);
    if (seen !== undefined && isTerminal(seen) && seen !== "cancelled") {
      // It ended there meanwhile: the record follows, and the cancel is what cannot happen.
      await this.#follow(id, before, false);
      nextState(seen, "cancel", id);
    }
    let after: TaskState | undefined = before;
    let action: "dequeued" | "stop-requested" | "stopped" | "none";
    if (before.status === "queued" || before.status === "in_progress") {
      after = await tasks.stop(link.taskId, `cancelled with expflow by ${this.#o.who}`, before);
      if (before.status === "queued") action = "dequeued";
      else action = after !== undefined && after.status === "in_progress" ? "stop-requested" : "stopped";
    } else action = before.status === "stopped" ? "stopped" : "none";
    const clearml = after === undefined ? null : { status: after.status, statusReason: after.statusReason, statusMessage: after.statusMessage };
    const done = await store.follow(id, () => ({ target: "cancelled", fields: after === undefined ? {} : { clearml: clearmlFieldOf(after) }, reason: `cancelled by ${this.#o.who}` }));
    return { kind: "clearml", id, from, taskId: link.taskId, action, clearml, to: statusOf(done.record) };
  }

  /** {@inheritDoc Executor.status} The run after one refresh from its task. */
  async status(id: string): Promise<Experiment> {
    const { link } = this.#linked(id);
    const state = await this.#o.tasks.state(link.taskId);
    const r = await this.#follow(id, state, false);
    return experimentFromRecord(r.record, id);
  }

  /** {@inheritDoc Executor.watch} Refreshes from the task every `intervalMs` (default 2 s). */
  async *watch(id: string, options: { intervalMs?: number; signal?: AbortSignal } = {}): AsyncIterable<Experiment> {
    const interval = options.intervalMs ?? this.#o.pollMs ?? 2_000;
    let last: string | undefined;
    for (;;) {
      if (options.signal?.aborted === true) return;
      const now = await this.status(id);
      if (now.status !== last) {
        last = now.status;
        yield now;
      }
      if (isTerminal(now.status)) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, interval);
        options.signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  /** Applies one task's state (or its absence) to its run. */
  async #follow(id: string, state: TaskState | undefined, withMetrics: boolean): Promise<FollowResult> {
    return this.#o.store.follow(id, (r) => this.#change(r, state, withMetrics));
  }

  /** What a task's state (or its absence) changes in its run's record. */
  #change(r: Readonly<RegistryRecord>, state: TaskState | undefined, withMetrics: boolean, leftOut?: Set<string>): FollowChange | undefined {
    const previous = plainObject(r["clearml"]) ?? {};
    if (state === undefined) return previous["missing"] === true ? undefined : { fields: { clearml: { ...previous, missing: true } } };
    const fields: Record<string, unknown> = { clearml: clearmlFieldOf(state) };
    if (withMetrics && state.lastMetrics !== undefined) {
      const imported = importTaskMetrics(state.lastMetrics, this.#o.metrics);
      for (const n of imported.leftOut) leftOut?.add(n);
      if (Object.keys(imported.values).length > 0) fields["metrics"] = { ...(plainObject(r.metrics) ?? {}), ...imported.values };
    }
    const target = lifecycleTarget(state);
    return { ...(target === undefined ? {} : { target }), fields, ...(state.statusReason === null ? {} : { reason: state.statusReason }) };
  }

  /**
   * Refreshes linked runs from their tasks: one `tasks.get_all` per 500 (only the fields needed,
   * with `last_metrics` when `metrics`), then each change applied through the state machine in
   * the registry, keeping ClearML's status, reason and message in the record's `clearml` field.
   * A task that no longer exists marks its run (`clearml.missing`); nothing local is deleted.
   * Runs linked to another server are listed, not read. Runs that are not linked are ignored.
   */
  async sync(records: Iterable<RegistryRecord>, options: { metrics?: boolean } = {}): Promise<SyncReport> {
    const targets: { id: string; taskId: string }[] = [];
    const otherServer: { id: string; server: string }[] = [];
    for (const r of records) {
      if (r.deleted === true) continue;
      const link = linkOf(r);
      if (link === undefined) continue;
      if (link.server !== undefined && !sameServer(link.server, this.server)) otherServer.push({ id: r.experiment_id, server: displayUrl(link.server) });
      else targets.push({ id: r.experiment_id, taskId: link.taskId });
    }
    const states = targets.length === 0 ? new Map<string, TaskState>() : await this.#o.tasks.states(targets.map((t) => t.taskId), { metrics: options.metrics === true });
    const moved: SyncChange[] = [];
    const blocked: SyncChange[] = [];
    const missing: string[] = [];
    const leftOut = new Set<string>();
    let updated = 0;
    let metricsImported = 0;
    const withMetrics = options.metrics === true;
    const taskOf = new Map(targets.map((t) => [t.id, t.taskId]));
    const metricsBefore = new Map<string, Record<string, unknown>>();
    // Every change in one append, under one lock.
    const results = await this.#o.store.followEach([...taskOf.keys()], (r) => {
      metricsBefore.set(String(r.experiment_id), plainObject(r.metrics) ?? {});
      return this.#change(r, states.get(taskOf.get(String(r.experiment_id))!), withMetrics, leftOut);
    });
    for (const { id, taskId } of targets) {
      const result = results.get(id);
      if (result === undefined) continue;
      const state = states.get(taskId);
      if (state === undefined) {
        missing.push(id);
        continue;
      }
      const clearml = { status: state.status, statusReason: state.statusReason, statusMessage: state.statusMessage };
      if (result.events.length > 0) moved.push({ id, taskId, from: result.from, to: statusOf(result.record), clearml });
      else if (result.written) updated++;
      if (result.blocked !== undefined) blocked.push({ id, taskId, from: result.blocked.from, to: result.blocked.to, clearml });
      if (withMetrics && result.written) {
        const was = metricsBefore.get(id) ?? {};
        const now = plainObject(result.record.metrics) ?? {};
        metricsImported += Object.keys(now).filter((k) => JSON.stringify(was[k]) !== JSON.stringify(now[k])).length;
      }
    }
    return { checked: targets.length, moved, updated, missing, blocked, otherServer, metricsImported, metricsLeftOut: [...leftOut].sort() };
  }

  /**
   * The store's side of linked runs on this server: archive (`tasks.archive`), restore
   * (`tasks.unarchive_many`) and delete (`tasks.delete`) of the task, all safe to repeat. A task
   * that no longer exists is `false`; the record changes all the same, and says so.
   */
  linkedTasks(): LinkedTasks {
    return {
      archive: async (link: RemoteLink, event: ArchiveEvent): Promise<boolean> => {
        if (link.server !== undefined && !sameServer(link.server, this.server)) {
          throw new UsageError("E_OTHER_SERVER", `task ${link.taskId} is on ClearML at ${displayUrl(link.server)}, not on ${this.server}`, {
            hint: "point CLEARML_API_HOST (or api.api_server in clearml.conf) at that server",
          });
        }
        const { tasks } = this.#o;
        return event === "archive" ? tasks.archive(link.taskId) : event === "restore" ? tasks.unarchive(link.taskId) : tasks.delete(link.taskId);
      },
    };
  }
}
