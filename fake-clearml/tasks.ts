/**
 * Builders for the fake ClearML server's state: tasks stored as the real database stores them
 * (md5-keyed `last_metrics`, `hyperparams` nested by section), and a seeded generator of many.
 */
import { createHash } from "node:crypto";
import type { FakeConfigurationItem, FakeMetricEntry, FakeProject, FakeScalarEvent, FakeScript, FakeTask } from "./model.js";

/** The md5 hex digest of `s` (UTF-8), as ClearML keys `last_metrics` by metric and variant. */
export function md5(s: string): string {
  return createHash("md5").update(s, "utf8").digest("hex");
}

/** A 32-hex-character id like ClearML's, derived from `seed`: the same seed gives the same id. */
export function fakeId(seed: string): string {
  return md5(`fake-id\0${seed}`);
}

/** A project with a deterministic id derived from its name (unless `id` is given). Subprojects use full path names (`PDEBench/ablations`). */
export function fakeProject(name: string, id: string = fakeId(`project\0${name}`)): FakeProject {
  return { id, name };
}

/** One `last_metrics` entry for a single reported value (min = max = first = mean = value, count 1, at iteration 0). */
export function metricEntry(metric: string, variant: string, value: number): FakeMetricEntry {
  return {
    metric,
    variant,
    value,
    min_value: value,
    max_value: value,
    first_value: value,
    mean_value: value,
    count: 1,
    min_value_iteration: 0,
    max_value_iteration: 0,
  };
}

/**
 * `last_metrics` as the server stores it, from plain `{title: {variant: value}}`:
 * `result[md5(title)][md5(variant)]` is an entry that also carries the plain names.
 */
export function lastMetrics(metrics: Readonly<Record<string, Readonly<Record<string, number>>>>): FakeTask["last_metrics"] {
  const out: FakeTask["last_metrics"] = {};
  for (const [metric, variants] of Object.entries(metrics)) {
    const byVariant: Record<string, FakeMetricEntry> = {};
    for (const [variant, value] of Object.entries(variants)) byVariant[md5(variant)] = metricEntry(metric, variant, value);
    out[md5(metric)] = byVariant;
  }
  return out;
}

/** `{title: {variant: [[iter, value], ...]}}`: the scalars a task reported, oldest first. */
export type FakeScalars = Readonly<Record<string, Readonly<Record<string, readonly (readonly [number, number])[]>>>>;

/**
 * What the server holds once a task reported `scalars` through `events.add_batch`, one event per
 * point in the order given, `timestamp` one second apart from `startMs`: the events, and the
 * `last_metrics` entries as the fake's add_batch computes them (value: the last point's; min, max
 * and the first iteration reaching each; first; mean; count), and the highest iteration.
 *
 * @throws {Error} for a point whose iteration is not a whole number from 0 or whose value is not
 *   finite (events.add_batch would refuse it).
 */
export function scalarHistory(taskId: string, scalars: FakeScalars, startMs: number): { events: FakeScalarEvent[]; lastMetrics: FakeTask["last_metrics"]; lastIteration: number | undefined } {
  const events: FakeScalarEvent[] = [];
  const out: FakeTask["last_metrics"] = {};
  let lastIteration: number | undefined;
  for (const [metric, variants] of Object.entries(scalars)) {
    for (const [variant, points] of Object.entries(variants)) {
      let entry: FakeMetricEntry | undefined;
      for (const [iter, value] of points) {
        if (!Number.isInteger(iter) || iter < 0 || !Number.isFinite(value)) throw new Error(`fake ClearML: scalar ${metric}/${variant} has the point [${iter}, ${value}]: iterations are whole numbers from 0, values finite`);
        events.push({ type: "training_stats_scalar", task: taskId, metric, variant, value, iter, timestamp: startMs + events.length * 1000 });
        lastIteration = Math.max(lastIteration ?? 0, iter);
        if (entry === undefined) {
          entry = { ...metricEntry(metric, variant, value), min_value_iteration: iter, max_value_iteration: iter };
          continue;
        }
        const count = (entry.count ?? 1) + 1;
        entry.mean_value = ((entry.mean_value ?? entry.value) * (count - 1) + value) / count;
        entry.count = count;
        if (value < entry.min_value) [entry.min_value, entry.min_value_iteration] = [value, iter];
        if (value > entry.max_value) [entry.max_value, entry.max_value_iteration] = [value, iter];
        entry.value = value;
      }
      if (entry !== undefined) (out[md5(metric)] ??= {})[md5(variant)] = entry;
    }
  }
  return { events, lastMetrics: out, lastIteration };
}

/**
 * `hyperparams` as the server stores them, from `{"Section/name": value}`. The key splits at the
 * FIRST "/" (`Args/--sub_step` is section `Args`, name `--sub_step`; `Args/a/b` is name `a/b`);
 * a key without "/" goes to section `General`, as the SDK does.
 */
export function hyperparams(params: Readonly<Record<string, string>>): FakeTask["hyperparams"] {
  const out: FakeTask["hyperparams"] = {};
  for (const [key, value] of Object.entries(params)) {
    const slash = key.indexOf("/");
    const section = slash < 0 ? "General" : key.slice(0, slash);
    const name = slash < 0 ? key : key.slice(slash + 1);
    const bySection = (out[section] ??= {});
    bySection[name] = { section, name, value };
  }
  return out;
}

/** What {@link fakeTask} takes. Only `name` and `project` are required. */
export interface FakeTaskInput {
  /** Default: derived from project, name and created, so identical inputs collide (the server refuses duplicate ids). */
  id?: string;
  name: string;
  /** Project id. */
  project: string;
  /** Default `completed`. */
  status?: string;
  /** Default `training`. */
  type?: string;
  tags?: string[];
  system_tags?: string[];
  /** Adds the system tag `archived`. */
  archived?: boolean;
  /** ISO time; default 2025-01-01T00:00:00.000Z. */
  created?: string;
  /** ISO time; default `created`. */
  last_update?: string;
  /** Default `fake-user`. */
  user?: string;
  /** `{title: {variant: value}}`, stored md5-keyed (see {@link lastMetrics}). */
  metrics?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /**
   * `{title: {variant: [[iter, value], ...]}}`: scalars the task reported over its run (see
   * {@link scalarHistory}), read back by `events.scalar_metrics_iter_histogram`; their
   * `last_metrics` entries join those of `metrics`, which must not name the same title and variant.
   */
  scalars?: FakeScalars;
  /** `{"Section/name": value}` (see {@link hyperparams}). */
  params?: Readonly<Record<string, string>>;
  /** Default `fake-company` (the caller's); `""` makes the task public (readable, not writable: 403/21). */
  company?: string;
  /** Default "". */
  comment?: string;
  parent?: string;
  /** Merged over the server's defaults `{binary: "python", repository: "", entry_point: ""}`. */
  script?: FakeScript;
  /** `execution.queue`. */
  queue?: string;
  /** Default "". */
  status_reason?: string;
  /** Default "". */
  status_message?: string;
  /** ISO time; default `last_update`. */
  status_changed?: string;
  /** ISO time; default `created` for a task that has run (not created or queued). */
  started?: string;
  /** ISO time; default `last_update` for a task that has ended (completed, stopped, failed, closed, published, publishing). */
  completed?: string;
  /** The worker that last reported on the task (tasks.stop asks a LIVE one, reporting within 600 s, to stop it). */
  last_worker?: string;
  /** ISO time of that worker's last report; default `last_update` when `last_worker` is given. */
  last_worker_report?: string;
  /** The status before enqueueing, for a queued task (restored by a dequeue). */
  enqueue_status?: string;
  runtime?: Record<string, unknown>;
  container?: Record<string, string | null>;
  configuration?: Record<string, FakeConfigurationItem>;
}

const RAN = new Set(["in_progress", "stopped", "failed", "completed", "published", "publishing", "closed"]);
const ENDED = new Set(["stopped", "failed", "completed", "published", "publishing", "closed"]);

/** A task as the server stores it. */
export function fakeTask(p: FakeTaskInput): FakeTask {
  const created = p.created ?? "2025-01-01T00:00:00.000Z";
  const lastUpdate = p.last_update ?? created;
  const status = p.status ?? "completed";
  const systemTags = [...(p.system_tags ?? [])];
  if (p.archived === true && !systemTags.includes("archived")) systemTags.push("archived");
  const task: FakeTask = {
    id: p.id ?? fakeId(`task\0${p.project}\0${p.name}\0${created}`),
    name: p.name,
    project: p.project,
    status,
    type: p.type ?? "training",
    tags: [...(p.tags ?? [])],
    system_tags: systemTags,
    created,
    last_update: lastUpdate,
    user: p.user ?? "fake-user",
    last_metrics: lastMetrics(p.metrics ?? {}),
    hyperparams: hyperparams(p.params ?? {}),
    company: p.company ?? "fake-company",
    comment: p.comment ?? "",
    script: { binary: "python", repository: "", entry_point: "", ...structuredClone(p.script ?? {}) },
    execution: p.queue === undefined ? {} : { queue: p.queue },
    status_reason: p.status_reason ?? "",
    status_message: p.status_message ?? "",
    status_changed: p.status_changed ?? lastUpdate,
    last_change: lastUpdate,
    runtime: structuredClone(p.runtime ?? {}),
    container: { ...(p.container ?? {}) },
    configuration: structuredClone(p.configuration ?? {}),
  };
  if (p.parent !== undefined) task.parent = p.parent;
  const started = p.started ?? (RAN.has(status) ? created : undefined);
  if (started !== undefined) task.started = started;
  const completed = p.completed ?? (ENDED.has(status) ? lastUpdate : undefined);
  if (completed !== undefined) task.completed = completed;
  if (p.last_worker !== undefined) {
    task.last_worker = p.last_worker;
    task.last_worker_report = p.last_worker_report ?? lastUpdate;
  }
  if (p.enqueue_status !== undefined) task.enqueue_status = p.enqueue_status;
  if (p.scalars !== undefined) {
    const history = scalarHistory(task.id, p.scalars, Date.parse(created));
    for (const [mh, byVariant] of Object.entries(history.lastMetrics)) {
      for (const [vh, entry] of Object.entries(byVariant)) {
        if (task.last_metrics[mh]?.[vh] !== undefined) throw new Error(`fake ClearML: ${entry.metric}/${entry.variant} is in both metrics and scalars of task ${p.name}`);
        (task.last_metrics[mh] ??= {})[vh] = entry;
      }
    }
    if (history.lastIteration !== undefined) task.last_iteration = history.lastIteration;
    if (history.events.length > 0) task.seed_events = history.events;
  }
  return task;
}

/** What {@link manyTasks} takes. */
export interface ManyTasksOptions {
  /** Project id of every task. */
  project: string;
  /** PRNG seed; the same seed gives the same tasks. Default 1. */
  seed?: number;
  /** Task names are `<namePrefix>-0000`, `<namePrefix>-0001`, ... Default `run`. */
  namePrefix?: string;
  /** Creation time of the first task (ISO). Default 2025-01-01T00:00:00.000Z. */
  start?: string;
  /** Minutes between two creation times. Default 7. */
  stepMinutes?: number;
  /** Default `fake-user`. */
  user?: string;
}

/** mulberry32: a small deterministic PRNG in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OTHER_STATUSES = ["failed", "stopped", "in_progress", "published", "queued", "created"] as const;

/**
 * `n` tasks in one project, deterministic for a seed: mostly `completed` (about 80%), the rest
 * failed, stopped, in_progress, published, queued or created; creation times increasing by
 * `stepMinutes`; metrics under the titles Score (`seg_total`), PDE (`pde_mean`), Time
 * (`train_time_min`) and Loss (`val_loss`), with some values exactly 0 and some negative; tags
 * drawn from `task1`, `final`, `ablation`; about 10% archived. Tasks never started (queued,
 * created) report no metrics.
 */
export function manyTasks(n: number, options: ManyTasksOptions): FakeTask[] {
  const rand = prng(options.seed ?? 1);
  const start = Date.parse(options.start ?? "2025-01-01T00:00:00.000Z");
  const stepMs = (options.stepMinutes ?? 7) * 60_000;
  const prefix = options.namePrefix ?? "run";
  const round = (x: number): number => Math.round(x * 10_000) / 10_000;
  const tasks: FakeTask[] = [];
  for (let i = 0; i < n; i++) {
    const status = rand() < 0.8 ? "completed" : (OTHER_STATUSES[Math.floor(rand() * OTHER_STATUSES.length)] ?? "failed");
    const createdMs = start + i * stepMs;
    const trainMin = round(5 + rand() * 120);
    const tags: string[] = [];
    if (rand() < 0.5) tags.push("task1");
    if (rand() < 0.2) tags.push("final");
    if (rand() < 0.25) tags.push("ablation");
    const started = status !== "queued" && status !== "created";
    const metrics: Record<string, Record<string, number>> = {};
    if (started) {
      // Every 11th task scores exactly 0; PDE residual means straddle 0 (some negative).
      metrics["Score"] = { seg_total: i % 11 === 5 ? 0 : round(rand()) };
      metrics["PDE"] = { pde_mean: i % 13 === 7 ? 0 : round(rand() * 2 - 0.5) };
      metrics["Time"] = { train_time_min: trainMin };
      metrics["Loss"] = { val_loss: round(0.01 + rand() * 2) };
    }
    tasks.push(
      fakeTask({
        id: fakeId(`many\0${options.seed ?? 1}\0${options.project}\0${prefix}\0${i}`),
        name: `${prefix}-${String(i).padStart(4, "0")}`,
        project: options.project,
        status,
        tags,
        archived: rand() < 0.1,
        created: new Date(createdMs).toISOString(),
        last_update: new Date(createdMs + (started ? trainMin * 60_000 : 1_000)).toISOString(),
        user: options.user ?? "fake-user",
        metrics,
        params: {
          "Args/lr": String(round(10 ** (-4 + rand() * 3))),
          "Args/seed": String(i),
          "Args/--sub_step": String(1 + Math.floor(rand() * 4)),
        },
      }),
    );
  }
  return tasks;
}
