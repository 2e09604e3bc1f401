/**
 * The documents the fake ClearML server stores, shaped as the real server's database stores
 * them (apiserver/database/model/task/task.py, queue.py; workers live in Redis there).
 * server.ts re-exports these types; this module holds no state.
 */

/** A project as stored. Subprojects have full path names (`PDEBench/ablations`). */
export interface FakeProject {
  id: string;
  name: string;
}

/** One `last_metrics` entry: the last value of one metric (plot title) and variant (series). */
export interface FakeMetricEntry {
  metric: string;
  variant: string;
  value: number;
  min_value: number;
  max_value: number;
  first_value?: number;
  mean_value?: number;
  count?: number;
  min_value_iteration?: number;
  max_value_iteration?: number;
  x_axis_label?: string;
}

/**
 * A scalar event as `events.add_batch` stores it (events.conf `metrics_scalar_event`): what
 * `events.scalar_metrics_iter_histogram` reads back. The real server keeps them in Elasticsearch,
 * one document per task, iteration, metric and variant (a later event replaces an earlier one).
 */
export interface FakeScalarEvent {
  type: "training_stats_scalar";
  task: string;
  metric: string;
  variant: string;
  value: number;
  iter: number;
  /** Epoch milliseconds. */
  timestamp: number;
  x_axis_label?: string;
  /** Whatever else the event carried (`worker`, unknown keys), stored with it and never read. */
  [key: string]: unknown;
}

/** One hyperparameter (`value` is always a string). */
export interface FakeParam {
  section: string;
  name: string;
  value: string;
  type?: string;
  description?: string;
}

/** One configuration item (`tasks.edit_configuration`, `configuration` of create and clone). */
export interface FakeConfigurationItem {
  name: string;
  value: string;
  type?: string;
  description?: string;
}

/**
 * `task.script`: what clearml-agent checks out and runs. Revision precedence as the agent's:
 * `version_num`, else `tag`, else `origin/<branch>` (else origin/master, then origin/main).
 */
export interface FakeScript {
  /** `python*` (run as `<binary> -u <entry_point>`) or `bash`/`sh`/`zsh` (`$SHELL -c <command>`). The server's default is `python`. */
  binary?: string;
  /** A git URL (a local path or file:// URL in tests). "" when none. */
  repository?: string;
  branch?: string;
  version_num?: string;
  tag?: string;
  entry_point?: string;
  working_dir?: string;
  /** A git diff (starts with `diff `) applied with `git apply`, or a literal script (anything else). */
  diff?: string;
  /** `{pip: "pkg==1\n..."}`; the fake's agent records it and installs nothing. */
  requirements?: Record<string, unknown>;
}

/** A task stored as the real database stores it. */
export interface FakeTask {
  id: string;
  name: string;
  /** Project id. */
  project: string;
  status: string;
  type: string;
  tags: string[];
  system_tags: string[];
  /** ISO time. */
  created: string;
  /** ISO time; status changes, worker reports and events move it. */
  last_update: string;
  user: string;
  /** md5(metric) -> md5(variant) -> entry. */
  last_metrics: Record<string, Record<string, FakeMetricEntry>>;
  /** section -> name -> parameter; `value` is always a string. */
  hyperparams: Record<string, Record<string, FakeParam>>;
  /**
   * The owner company. The caller's (the fake's token identity) is `fake-company`; a PUBLIC task
   * has `""` (the real server's get_company_or_none_constraint: readable by every company,
   * writable by none, 403/21). A task of any other company is invisible (400/101, never listed).
   */
  company: string;
  comment: string;
  /** Parent task id; absent when none. Deleting a parent rewrites it to `__DELETED__<id>`. */
  parent?: string;
  script: FakeScript;
  /** `queue`: the queue the task was last enqueued to (a dequeue leaves it; a reset unsets it). */
  execution: { queue?: string; [key: string]: unknown };
  status_reason: string;
  status_message: string;
  /** ISO time of the last status change (absent on a task never changed). */
  status_changed?: string;
  started?: string;
  completed?: string;
  published?: string;
  /** The worker that last reported on this task (workers.status_report). */
  last_worker?: string;
  last_worker_report?: string;
  last_change?: string;
  last_changed_by?: string;
  last_iteration?: number;
  runtime: Record<string, unknown>;
  /** `{image, arguments, setup_shell_script}` (used by the agent in Docker mode only). */
  container: Record<string, string | null>;
  configuration: Record<string, FakeConfigurationItem>;
  models?: { input: { name: string; model: string }[]; output: { name: string; model: string }[] };
  /**
   * The status before the task was enqueued, restored by a dequeue. Excluded from answers unless
   * named in `only_fields` (the real field is `exclude_by_default`).
   */
  enqueue_status?: string | null;
  /**
   * Not a field of the real document: scalar events `fakeTask({scalars})` made for the task.
   * `FakeClearml.start` moves them into `fake.events` (as if `events.add_batch` had sent them) and
   * deletes the key, so a task pushed into `fake.tasks` later must push its events itself.
   */
  seed_events?: FakeScalarEvent[];
}

/** One entry of a queue: FIFO, oldest first. */
export interface FakeQueueEntry {
  task: string;
  /** ISO time. */
  added: string;
}

/** A queue as stored (apiserver/database/model/queue.py). */
export interface FakeQueue {
  id: string;
  name: string;
  company: string;
  created: string;
  tags: string[];
  /** `default` marks the default queue; `k8s-glue` hides a queue from queues.get_all (unless search_hidden, id or name). */
  system_tags: string[];
  entries: FakeQueueEntry[];
  last_update: string;
  display_name?: string;
  metadata: Record<string, unknown>;
}

/** What {@link FakeClearmlOptions.queues} takes: a queue by name, the rest defaulted. */
export interface FakeQueueInput {
  name: string;
  /** Default: derived from the name (the same name gives the same id). */
  id?: string;
  tags?: string[];
  system_tags?: string[];
}

/** A registered worker, as the real server keeps it in Redis (expires `register_timeout` seconds after its last report). */
export interface FakeWorker {
  id: string;
  key: string;
  user: { id: string; name: string };
  company: { id: string; name: string };
  ip: string;
  /** Queue ids the worker listens to. */
  queues: string[];
  /** The queue its current task came from. */
  queue?: string;
  task?: { id: string; name: string };
  project?: { id: string; name: string };
  tags: string[];
  system_tags: string[];
  /** ISO times. */
  register_time: string;
  last_activity_time: string;
  last_report_time?: string;
  /** Seconds. */
  register_timeout: number;
  /** Epoch ms (by the fake's clock) after which the entry is gone. */
  expires: number;
}

/** The caller every token stands for (the real server's Identity). */
export interface FakeIdentity {
  company: string;
  company_name: string;
  user: string;
  user_name: string;
}

/** The fake's injectable clock: every server time (status_changed, last_update, worker liveness, the watchdog, tokens, scrolls) reads it. */
export interface FakeClock {
  /** Epoch milliseconds. */
  now(): number;
  /** Moves the clock forward (or back, with a negative value) by `ms`. */
  advance(ms: number): void;
}
