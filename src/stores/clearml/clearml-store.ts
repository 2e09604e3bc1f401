import { BackendError, ConflictError, NotFoundError, UsageError } from "../../core/errors.js";
import type { Experiment, ExperimentFilter } from "../../core/experiment.js";
import { LIFECYCLE_STATES, matchesFilter } from "../../core/experiment.js";
import type { MetricHistory } from "../../core/metrics/history.js";
import { pointsPerMetric, thin } from "../../core/metrics/history.js";
import type { MetricRegistry, MetricValues } from "../../core/metrics/registry.js";
import { MetricRegistry as Registry } from "../../core/metrics/registry.js";
import { didYouMean, nearest } from "../../core/suggest.js";
import { assertValidId } from "../../core/ids.js";
import type { StoreCapability, WarningSink } from "../store.js";
import { BaseStore } from "../store.js";
import type { ClearmlClient } from "./client.js";
import { isClearmlFailure } from "./errors.js";

/** The statuses a ClearML task can have. */
export const CLEARML_STATUSES = Object.freeze(["created", "queued", "in_progress", "stopped", "published", "publishing", "closed", "failed", "completed", "unknown"] as const);

/** ClearML status -> lifecycle state. Statuses not listed keep their own name. */
const TO_LIFECYCLE: Readonly<Record<string, string>> = Object.freeze({
  created: "created",
  queued: "queued",
  in_progress: "running",
  completed: "completed",
  published: "completed",
  publishing: "completed",
  closed: "completed",
  failed: "failed",
  stopped: "cancelled",
});

/** The lifecycle state of a ClearML status (`in_progress` -> `running`, `stopped` -> `cancelled`, ...). */
export function lifecycleOf(clearmlStatus: string): string {
  return Object.hasOwn(TO_LIFECYCLE, clearmlStatus) ? TO_LIFECYCLE[clearmlStatus]! : clearmlStatus;
}

/** The ClearML statuses that select `status` (a lifecycle state or a ClearML status). */
export function clearmlStatusesFor(status: string): string[] {
  const mapped = Object.entries(TO_LIFECYCLE)
    .filter(([, life]) => life === status)
    .map(([raw]) => raw);
  if ((CLEARML_STATUSES as readonly string[]).includes(status) && !mapped.includes(status)) mapped.push(status);
  return mapped;
}

/** The page size: the server never returns more than 500 tasks per call. */
export const CLEARML_PAGE_LIMIT = 500;

/** The most tasks one listing reads before it fails (`E_CLEARML_LISTING`), unless `maxTasks` says otherwise. */
export const DEFAULT_MAX_LIST_TASKS = 1_000_000;

/**
 * How many pages of a listing are asked for at once, by default, once it has shown it is long:
 * the first three pages go one at a time (a listing of up to 1,500 tasks asks for nothing it
 * does not need), then two, then this many.
 */
export const DEFAULT_PAGE_CONCURRENCY = 4;

/** The most pages asked for at once ({@link ClearmlStoreOptions.pageConcurrency}). */
export const MAX_PAGE_CONCURRENCY = 16;

/** The most projects a project lookup reads before it fails (`E_CLEARML_LISTING`). */
const MAX_PROJECTS = 100_000;

/** The most project names read to suggest close ones for a name that matches none. */
const MAX_SUGGESTION_PROJECTS = 10_000;

/** The order of a project lookup's pages: names are unique, and the id breaks any tie. */
const PROJECT_ORDER = Object.freeze(["name", "id"]);

/** The order of a listing: `created` never changes and `id` is unique, so page boundaries do not move when tasks change. */
const LIST_ORDER = Object.freeze(["created", "id"]);

/** The fields fetched for every task: everything an Experiment needs, metrics included. */
const TASK_FIELDS = Object.freeze(["id", "name", "status", "project", "tags", "system_tags", "created", "last_metrics", "hyperparams"]);

interface RawTask {
  id?: unknown;
  name?: unknown;
  status?: unknown;
  project?: unknown;
  tags?: unknown;
  system_tags?: unknown;
  created?: unknown;
  last_metrics?: unknown;
  hyperparams?: unknown;
}

interface RawProject {
  id?: unknown;
  name?: unknown;
}

/** What a task must be to accept metrics: its status and its company (`""` for a public task). */
interface RawTaskOwner {
  id?: unknown;
  status?: unknown;
  company?: unknown;
}

/** Options of {@link ClearmlStore}. */
export interface ClearmlStoreOptions {
  /** The metric registry that names the scalar titles of {@link ClearmlStore.logMetrics} (default: the standard one). */
  metrics?: MetricRegistry;
  readonly client: ClearmlClient;
  /** Receives non-fatal problems (a task whose metrics cannot be read). */
  readonly onWarning?: WarningSink;
  /** Tasks per listing request, 1..500. Default 500. */
  readonly pageSize?: number;
  /** Called after each page of a listing with the number of tasks fetched so far. */
  readonly onProgress?: (fetched: number) => void;
  /**
   * Fetch hyperparameters with listings. Default true; a ranking, which never reads them, turns
   * this off to fetch less (`get` always fetches them).
   */
  readonly listParams?: boolean;
  /**
   * The most tasks one listing reads (counting every task received, repeats included) before it
   * fails with `E_CLEARML_LISTING` (exit 4). Default {@link DEFAULT_MAX_LIST_TASKS} (1,000,000).
   */
  readonly maxTasks?: number;
  /**
   * How many pages of a long listing are asked for at once, 1..{@link MAX_PAGE_CONCURRENCY}
   * (1: one after the other). Default {@link DEFAULT_PAGE_CONCURRENCY} (4). Pages are still
   * yielded in order; at most this many minus one are asked for past the end of the listing.
   */
  readonly pageConcurrency?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Reads `last_metrics` (md5-keyed; each entry carries its plain `metric` title and `variant`):
 * one metric per variant, named by the variant, also readable (not listed) as `Title/variant`; a
 * variant reported under two titles is kept as `Title/variant` for each and its bare name listed
 * as ambiguous. 0 and negative values are values.
 */
export function metricsOfTask(lastMetrics: unknown): { metrics: Record<string, unknown>; ambiguous: Record<string, string[]> | undefined } {
  const byVariant = new Map<string, { title: string; value: unknown }[]>();
  if (isObject(lastMetrics)) {
    for (const perTitle of Object.values(lastMetrics)) {
      if (!isObject(perTitle)) continue;
      for (const entry of Object.values(perTitle)) {
        if (!isObject(entry) || typeof entry.variant !== "string" || typeof entry.metric !== "string") continue;
        const list = byVariant.get(entry.variant) ?? [];
        list.push({ title: entry.metric, value: entry.value ?? null });
        byVariant.set(entry.variant, list);
      }
    }
  }
  const metrics: Record<string, unknown> = {};
  let ambiguous: Record<string, string[]> | undefined;
  for (const [variant, list] of [...byVariant].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (list.length === 1) {
      metrics[variant] = list[0]!.value;
      // The qualified name reads the same value, without listing the metric twice in output.
      const qualified = `${list[0]!.title}/${variant}`;
      if (!Object.hasOwn(metrics, qualified)) Object.defineProperty(metrics, qualified, { value: list[0]!.value, enumerable: false, writable: false, configurable: true });
      continue;
    }
    list.sort((a, b) => (a.title < b.title ? -1 : a.title > b.title ? 1 : 0));
    ambiguous ??= {};
    ambiguous[variant] = list.map((x) => `${x.title}/${variant}`);
    for (const x of list) metrics[`${x.title}/${variant}`] = x.value;
  }
  return { metrics, ambiguous };
}

/** Tasks whose history failed, none read, after which the others are not asked for. */
const HISTORY_GIVE_UP_AFTER = 3;
/** The endpoint that reads a task's scalars, downsampled by the server: one task per call. */
export const SCALAR_HISTOGRAM_ENDPOINT = "events.scalar_metrics_iter_histogram";

function finiteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A task's step history from the answer of `events.scalar_metrics_iter_histogram` (`{title:
 * {variant: {x: [...], y: [...]}}}`, keyed by iteration) and the task's `last_metrics`, named as
 * {@link metricsOfTask} names the metrics: by variant, or `Title/variant` for a variant under two
 * titles (in either source). Each metric keeps at most `maxPoints` points (default: the share
 * {@link pointsPerMetric} gives it among the task's metrics), thinned evenly with the first and
 * the last kept; a point whose step or value is not a finite number is left out, and the points
 * are put in step order. `last`, `min`, `max` and `count` are the exact ones of `last_metrics`
 * (every value reported) where it has them, else those of the points received. Pure.
 *
 * @returns `undefined` when no metric has a point.
 */
export function historiesOfTask(histogram: unknown, lastMetrics: unknown, maxPoints?: number): Record<string, MetricHistory> | undefined {
  const titles = new Map<string, Set<string>>();
  const aggregates = new Map<string, { last: number; min: number; max: number; count: number }>();
  const addTitle = (title: string, variant: string): void => {
    const set = titles.get(variant) ?? new Set<string>();
    set.add(title);
    titles.set(variant, set);
  };
  if (isObject(lastMetrics)) {
    for (const perTitle of Object.values(lastMetrics)) {
      if (!isObject(perTitle)) continue;
      for (const e of Object.values(perTitle)) {
        if (!isObject(e) || typeof e.metric !== "string" || typeof e.variant !== "string") continue;
        addTitle(e.metric, e.variant);
        const { value, min_value: min, max_value: max, count } = e;
        if (finiteNumber(value) && finiteNumber(min) && finiteNumber(max) && finiteNumber(count) && Number.isInteger(count) && count >= 1) aggregates.set(`${e.metric}\0${e.variant}`, { last: value, min, max, count });
      }
    }
  }
  const series: { title: string; variant: string; points: [number, number][] }[] = [];
  if (isObject(histogram)) {
    for (const [title, perVariant] of Object.entries(histogram)) {
      if (!isObject(perVariant)) continue;
      for (const [variant, s] of Object.entries(perVariant)) {
        if (!isObject(s) || !Array.isArray(s.x) || !Array.isArray(s.y)) continue;
        const points: [number, number][] = [];
        const n = Math.min(s.x.length, s.y.length);
        for (let i = 0; i < n; i++) {
          const x: unknown = s.x[i];
          const y: unknown = s.y[i];
          if (finiteNumber(x) && finiteNumber(y)) points.push([x, y]);
        }
        if (points.length === 0) continue;
        addTitle(title, variant);
        series.push({ title, variant, points: points.sort((a, b) => a[0] - b[0]) });
      }
    }
  }
  if (series.length === 0) return undefined;
  const keep = Math.max(2, Math.floor(maxPoints ?? pointsPerMetric(series.length)));
  const out: Record<string, MetricHistory> = {};
  // In metricsOfTask's order (by variant, then title), so that a name two series share ends as it does there.
  series.sort((a, b) => byCodeUnit(a.variant, b.variant) || byCodeUnit(a.title, b.title));
  for (const { title, variant, points } of series) {
    const name = titles.get(variant)!.size === 1 ? variant : `${title}/${variant}`;
    const exact = aggregates.get(`${title}\0${variant}`);
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (const [, y] of points) {
      if (y < low) low = y;
      if (y > high) high = y;
    }
    out[name] = {
      last: exact?.last ?? points[points.length - 1]![1],
      min: exact?.min ?? low,
      max: exact?.max ?? high,
      count: exact?.count ?? points.length,
      steps: thin(points, keep),
    };
  }
  return out;
}

/**
 * Whether a failed history read concerns that one task (it is gone, its answer was refused or too
 * large, the server failed on it) rather than the server or the credentials (no answer, 401,
 * 403, an unknown endpoint), which fail the read as every other read fails.
 */
function isOneTaskFailure(e: unknown): boolean {
  if (e instanceof BackendError && e.code === "E_CLEARML_TOO_LARGE") return true;
  if (!isClearmlFailure(e)) return false;
  return e.clearml.resultCode === 400 || e.clearml.resultCode >= 500;
}

/** Up to five ids, and how many more, for a warning. */
function someIds(ids: readonly string[]): string {
  return `${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ` and ${ids.length - 5} more` : ""}`;
}

/** Reads `hyperparams` (`section -> name -> {value}`) as `Section/name -> value`. */
export function paramsOfTask(hyperparams: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(hyperparams)) return out;
  for (const [section, params] of Object.entries(hyperparams)) {
    if (!isObject(params)) continue;
    for (const [name, p] of Object.entries(params)) {
      if (!isObject(p)) continue;
      const v = p.value;
      out[`${typeof p.section === "string" ? p.section : section}/${typeof p.name === "string" ? p.name : name}`] = v === null || v === undefined ? "" : String(v);
    }
  }
  return out;
}

/** A ClearML task as an Experiment (see the mapping in the README). */
export function experimentOfTask(task: RawTask, projectNames: ReadonlyMap<string, string>): Experiment {
  const raw = typeof task.status === "string" ? task.status : "unknown";
  const { metrics, ambiguous } = metricsOfTask(task.last_metrics);
  const project = typeof task.project === "string" ? task.project : isObject(task.project) && typeof task.project.id === "string" ? task.project.id : null;
  const systemTags = strings(task.system_tags);
  return {
    id: String(task.id),
    name: typeof task.name === "string" ? task.name : null,
    status: lifecycleOf(raw),
    backendStatus: raw,
    project: project === null ? null : (projectNames.get(project) ?? project),
    tags: strings(task.tags),
    created: typeof task.created === "string" ? task.created : null,
    metrics,
    params: paramsOfTask(task.hyperparams),
    archived: systemTags.includes("archived"),
    ...(ambiguous ? { ambiguousMetrics: ambiguous } : {}),
  };
}

/**
 * The ClearML server as a {@link Store}: experiments are tasks. A listing costs one request per
 * 500 tasks (stateless pages ordered by `created` then `id`, with metrics and parameters in the
 * same answer), plus the project lookup and the client's one login; never one request per task.
 * The first three pages are read one at a time, then 2 and then up to `pageConcurrency` (4) at
 * once, each round asked for when the round before it has been read, and yielded in order; a
 * round that holds the end of the listing may ask for up to 3 pages past it (never more), whose
 * answers, errors included, are awaited (so no request outlives the listing) and dropped unread.
 *
 * What a listing guarantees: every task that matches throughout the listing is listed exactly
 * once, however often a page is retried; a task is never listed twice (repeats are dropped by
 * id); tasks created during the listing sort last and are listed when they exist by the time the
 * last page is read. Not guaranteed under concurrent changes: a task that leaves the selection
 * (deleted, archived, status changed) while a later page is read shifts the tasks after it one
 * place earlier, so one of them may fall between two pages; run the listing again for an exact
 * snapshot. A listing fails (`E_CLEARML_LISTING`, exit 4) rather than end short when a page
 * brings nothing new, holds more than was asked for, or the listing passes `maxTasks`. Filters are applied on the server
 * (`__$all` for all tags, `-archived` for archived tasks) and again in memory, the reference.
 */
export class ClearmlStore extends BaseStore {
  readonly kind = "clearml";
  override readonly capabilities: ReadonlySet<StoreCapability> = new Set<StoreCapability>(["metrics"]);
  readonly location: string;
  readonly statuses: readonly string[] = CLEARML_STATUSES;
  readonly #client: ClearmlClient;
  readonly #warn: WarningSink;
  readonly #pageSize: number;
  readonly #onProgress: ((fetched: number) => void) | undefined;
  readonly #listFields: readonly string[];
  readonly #maxTasks: number;
  readonly #concurrency: number;
  readonly #metrics: MetricRegistry | undefined;

  constructor(options: ClearmlStoreOptions) {
    super();
    this.#client = options.client;
    this.#metrics = options.metrics;
    this.location = options.client.server;
    this.#warn = options.onWarning ?? (() => undefined);
    const size = options.pageSize ?? CLEARML_PAGE_LIMIT;
    if (!(Number.isInteger(size) && size >= 1 && size <= CLEARML_PAGE_LIMIT)) throw new RangeError(`pageSize must be 1..${CLEARML_PAGE_LIMIT}, got ${size}`);
    this.#pageSize = size;
    this.#onProgress = options.onProgress;
    this.#listFields = options.listParams === false ? TASK_FIELDS.filter((f) => f !== "hyperparams") : TASK_FIELDS;
    const max = options.maxTasks ?? DEFAULT_MAX_LIST_TASKS;
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`maxTasks must be a positive integer, got ${max}`);
    this.#maxTasks = max;
    const concurrency = options.pageConcurrency ?? DEFAULT_PAGE_CONCURRENCY;
    if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= MAX_PAGE_CONCURRENCY)) {
      throw new RangeError(`pageConcurrency must be 1..${MAX_PAGE_CONCURRENCY}, got ${concurrency}`);
    }
    this.#concurrency = concurrency;
  }

  /**
   * Finds a project by exact name (and, with `includeSubprojects`, its subprojects): one request
   * per 500 projects (stateless pages ordered by name), so one for most names.
   *
   * @returns project id -> full name.
   * @throws {NotFoundError} `E_PROJECT_NOT_FOUND` (exit 2) listing close names (one more request
   *   per 500 projects, reading at most 10,000).
   * @throws {BackendError} `E_CLEARML_LISTING` (exit 4) when the server pages wrongly or sends
   *   more than 100,000 projects; from the client.
   */
  async resolveProject(name: string, includeSubprojects = false): Promise<Map<string, string>> {
    const pattern = `^${escapeRegExp(name)}${includeSubprojects ? "(/.*)?" : ""}$`;
    const projects = await this.#projects({ name: pattern, only_fields: ["id", "name"], search_hidden: true }, MAX_PROJECTS);
    const found = new Map<string, string>();
    let exact = false;
    for (const p of projects) {
      if (typeof p.id !== "string" || typeof p.name !== "string") continue;
      if (p.name === name) exact = true;
      // Hidden subprojects (`P/.pipelines/...`) hold pipeline internals, not runs.
      else if (p.name.slice(name.length).split("/").some((part) => part.startsWith("."))) continue;
      found.set(p.id, p.name);
    }
    if (!exact) {
      const all = await this.#projects({ only_fields: ["id", "name"] }, MAX_SUGGESTION_PROJECTS, true);
      const names = all.map((p) => p.name).filter((n): n is string => typeof n === "string");
      const lower = name.toLowerCase();
      const close = names.filter((n) => n.toLowerCase().includes(lower) || lower.includes(n.toLowerCase()) || nearest(name, [n]) !== undefined).slice(0, 5);
      throw new NotFoundError("E_PROJECT_NOT_FOUND", `no ClearML project is named '${name}' on ${this.location}.${close.length > 0 ? ` Close names: ${close.map((n) => `'${n}'`).join(", ")}.` : didYouMean(name, names)}`, {
        hint: "project names are exact and case-sensitive; subprojects use their full path (Parent/child)",
      });
    }
    return found;
  }

  /**
   * The projects `query` selects, a page of 500 at a time (stateless, ordered by name, so a page
   * asked for again by the client's retries is the same page), de-duplicated by id. Past `limit`
   * projects it fails, or with `truncate` ends there (for suggestions).
   */
  async #projects(query: Record<string, unknown>, limit: number, truncate = false): Promise<RawProject[]> {
    const out: RawProject[] = [];
    const seen = new Set<string>();
    for (let pageNo = 0; ; pageNo++) {
      const data = await this.#client.call<{ projects?: RawProject[] }>("projects.get_all", { ...query, order_by: [...PROJECT_ORDER], page: pageNo, page_size: CLEARML_PAGE_LIMIT });
      const projects = Array.isArray(data.projects) ? data.projects : [];
      if (projects.length > CLEARML_PAGE_LIMIT) {
        throw this.#listingError(`answered page ${pageNo} of the projects with ${projects.length} where ${CLEARML_PAGE_LIMIT} were asked for, so its pages cannot be trusted`, out.length, "projects");
      }
      let fresh = 0;
      for (const p of projects) {
        const key = typeof p.id === "string" ? p.id : undefined;
        if (key !== undefined && seen.has(key)) continue;
        if (key !== undefined) seen.add(key);
        out.push(p);
        fresh += 1;
      }
      if (projects.length < CLEARML_PAGE_LIMIT) return out;
      if (fresh === 0) throw this.#listingError(`answered page ${pageNo} of the projects with only projects it had already sent (it may ignore paging)`, out.length, "projects");
      if (out.length >= limit) {
        if (truncate) return out;
        throw this.#listingError(`sent more than ${limit} projects for one lookup`, out.length, "projects");
      }
    }
  }

  /**
   * A task's status is a ClearML status, so a status that is neither one nor a lifecycle state
   * can select nothing; see {@link Store.assertStatuses}.
   *
   * @throws {UsageError} `E_UNKNOWN_STATUS` (exit 2) with a did-you-mean suggestion.
   */
  assertStatuses(statuses: readonly string[]): void {
    for (const s of statuses) {
      if (!(LIFECYCLE_STATES as readonly string[]).includes(s) && !(CLEARML_STATUSES as readonly string[]).includes(s)) {
        const known = [...LIFECYCLE_STATES, ...CLEARML_STATUSES];
        throw new UsageError("E_UNKNOWN_STATUS", `unknown status '${s}' in statuses.${didYouMean(s, known)}`, {
          hint: `lifecycle states: ${LIFECYCLE_STATES.join(", ")}; ClearML statuses: ${CLEARML_STATUSES.join(", ")}`,
          field: "statuses",
          value: s,
          suggestion: nearest(s, known),
        });
      }
    }
  }

  /** The experiments matching `filter`; see {@link Store.list}. */
  override async list(filter: ExperimentFilter = {}): Promise<Experiment[]> {
    const out: Experiment[] = [];
    for await (const page of this.pages(filter)) for (const e of page) out.push(e);
    return out;
  }

  /**
   * The matching experiments, a page (up to 500) at a time: pagination as an async iterator.
   *
   * @throws {UsageError} `E_UNKNOWN_STATUS` for a status that is neither a lifecycle state nor a
   *   ClearML status, `E_TAG_SYNTAX` for a tag ClearML would read as an operator.
   * @throws {NotFoundError} `E_PROJECT_NOT_FOUND` for an unknown project.
   * @throws {BackendError} from the client.
   */
  override async *pages(filter: ExperimentFilter = {}): AsyncGenerator<Experiment[]> {
    const body: Record<string, unknown> = { only_fields: [...this.#listFields], order_by: [...LIST_ORDER] };
    const statuses = filter.statuses ?? [];
    if (statuses.length > 0) {
      this.assertStatuses(statuses);
      const raw = new Set<string>();
      for (const s of statuses) for (const r of clearmlStatusesFor(s)) raw.add(r);
      body.status = [...raw];
    }
    const tags = filter.tags ?? [];
    for (const t of tags) {
      if (t.startsWith("-") || t.startsWith("__$")) {
        throw new UsageError("E_TAG_SYNTAX", `tag '${t}' cannot be matched on ClearML, which reads a leading '-' or '__$' as an operator`, { hint: "rename the tag, or filter without it" });
      }
    }
    if (tags.length > 0) body.tags = filter.anyTag ? [...tags] : ["__$all", ...tags];
    if (!filter.includeArchived) body.system_tags = ["-archived"];
    let projectNames = new Map<string, string>();
    if (filter.project !== undefined) {
      projectNames = await this.resolveProject(filter.project, filter.includeSubprojects === true);
      body.project = [...projectNames.keys()];
    }
    // A status that maps to no ClearML status (`dispatched`) selects nothing: no need to ask.
    if (statuses.length > 0 && (body.status as string[]).length === 0) return;

    // Stateless pages (page + page_size, ordered by created then id), not a scroll: the server
    // keeps one position per scroll and moves it before it answers, so retrying a page whose
    // answer was lost would skip it. A page can be asked for again, by the client's retries, with
    // the same answer, and pages can be asked for at once.
    const seen = new Set<string>();
    let received = 0;
    // The last page the maxTasks bound lets a listing read: a full page there passes the bound.
    const lastPage = Math.floor(this.#maxTasks / this.#pageSize);
    let nextPage = 0;
    let round = 0;
    // The pages asked for and not read yet, in order.
    const queue: { pageNo: number; answer: Promise<{ tasks?: RawTask[] }> }[] = [];
    const askRound = (): void => {
      // One page at a time three times, then 2, 4, ... up to the concurrency: a short listing
      // asks for no page it does not need, and a round is asked for once the page before it is
      // read (never on a timer), so the requests of a listing do not depend on timing.
      const width = round < 3 ? 1 : Math.min(this.#concurrency, 2 ** (round - 2));
      round += 1;
      for (let k = 0; k < width && nextPage <= lastPage; k++, nextPage++) {
        const answer = this.#client.call<{ tasks?: RawTask[] }>("tasks.get_all", { ...body, page: nextPage, page_size: this.#pageSize });
        // A page past the end (or after a page that failed) is dropped unread: never an unhandled rejection.
        answer.catch(() => undefined);
        queue.push({ pageNo: nextPage, answer });
      }
    };
    try {
      askRound();
      for (;;) {
        const next = queue.shift();
        if (next === undefined) throw this.#listingError(`sent ${received} tasks and had not finished: more than the limit of ${this.#maxTasks} a listing may read`, seen.size);
        const { pageNo, answer } = next;
        const data = await answer;
        const tasks = Array.isArray(data.tasks) ? data.tasks : [];
        if (tasks.length > this.#pageSize) {
          throw this.#listingError(`answered page ${pageNo} with ${tasks.length} tasks where ${this.#pageSize} were asked for, so its pages cannot be trusted`, seen.size);
        }
        received += tasks.length;
        const page: Experiment[] = [];
        const unknownProjects = new Set<string>();
        let fresh = 0;
        for (const t of tasks) {
          // A task that entered the selection meanwhile shifts later ones: a repeat is dropped by id.
          if (typeof t.id !== "string" || seen.has(t.id)) continue;
          seen.add(t.id);
          fresh += 1;
          const e = experimentOfTask(t, projectNames);
          if (filter.project !== undefined && typeof t.project === "string" && !projectNames.has(t.project)) unknownProjects.add(t.project);
          // The in-memory filter is the reference: a server that ignored a filter key cannot widen the selection.
          if (matchesFilter(e, filter)) page.push(e);
        }
        this.#onProgress?.(seen.size);
        if (unknownProjects.size > 0) this.#warn(`the server returned ${unknownProjects.size === 1 ? "a task" : "tasks"} of another project (${[...unknownProjects].join(", ")}); left out`);
        const short = tasks.length < this.#pageSize;
        // The next round goes out before the consumer gets this page, when the listing goes on.
        if (queue.length === 0 && !short && fresh > 0 && received <= this.#maxTasks) askRound();
        if (page.length > 0) yield page;
        if (short) return;
        if (fresh === 0) throw this.#listingError(`answered page ${pageNo} with only tasks it had already sent (it may ignore paging)`, seen.size);
        if (received > this.#maxTasks) throw this.#listingError(`sent ${received} tasks and had not finished: more than the limit of ${this.#maxTasks} a listing may read`, seen.size);
      }
    } finally {
      // However the listing ends (done, failed, or its consumer stopped), the pages still in
      // flight are awaited: no request of a listing is left running after it.
      await Promise.allSettled(queue.map((q) => q.answer));
    }
  }

  #listingError(what: string, listed: number, of = "tasks"): BackendError {
    return new BackendError("E_CLEARML_LISTING", `ClearML at ${this.location} ${what}; the listing stopped after ${listed} distinct ${of}, incomplete`, {
      hint: "check that CLEARML_API_HOST names a ClearML API server (not a proxy or another service); a larger project needs the store's maxTasks option",
    });
  }

  /**
   * {@inheritDoc Store.histories} Read from the scalars the tasks reported: one `tasks.get_all`
   * per 500 ids (only `last_metrics`: which tasks exist, which reported scalars, the titles that
   * name them and their exact last, min, max and count), then one
   * `events.scalar_metrics_iter_histogram {task, samples, key: "iter"}` per task that reported
   * any, at most `pageConcurrency` (4) at once. The server averages each variant's values over
   * buckets of iterations so that it sends at most `samples` points: `samples` is the share of
   * points {@link pointsPerMetric} gives each of the task's metrics (101 for up to 19 metrics), so
   * a step is the first iteration of its bucket and a point's value the mean over the bucket
   * (the values themselves while a variant has fewer than `samples`). See {@link historiesOfTask}
   * for the names and the points kept. Reads are retried by the client as any read.
   *
   * A task not on the server (deleted, or not readable with these credentials), one without
   * scalars and one whose history cannot be read (400 or 5xx for it, an answer too large) is left
   * out of the map; the first and the last are said in one warning each.
   *
   * @throws {BackendError} from the client when the server cannot be reached or answers without
   *   an envelope, refuses the credentials (401) or the call (403), or does not know the
   *   endpoint (404): exit 4, as other reads. No request is left running.
   */
  async histories(ids: readonly string[]): Promise<ReadonlyMap<string, Readonly<Record<string, MetricHistory>>>> {
    const wanted = [...new Set(ids.filter((id) => typeof id === "string" && id !== ""))];
    const result = new Map<string, Record<string, MetricHistory>>();
    if (wanted.length === 0) return result;
    const lastMetrics = new Map<string, unknown>();
    for (let i = 0; i < wanted.length; i += CLEARML_PAGE_LIMIT) {
      const chunk = wanted.slice(i, i + CLEARML_PAGE_LIMIT);
      const data = await this.#client.call<{ tasks?: RawTask[] }>("tasks.get_all", { id: chunk, only_fields: ["id", "last_metrics"] });
      const asked = new Set(chunk);
      for (const t of Array.isArray(data.tasks) ? data.tasks : []) if (typeof t.id === "string" && asked.has(t.id)) lastMetrics.set(t.id, t.last_metrics);
    }
    const gone = wanted.filter((id) => !lastMetrics.has(id));
    if (gone.length > 0) {
      this.#warn(`${gone.length} of the ${wanted.length} tasks whose step history was asked for ${gone.length === 1 ? "is" : "are"} not on ClearML at ${this.location} (deleted, or not readable with these credentials), so ${gone.length === 1 ? "its history is" : "their histories are"} left out: ${someIds(gone)}`);
    }
    // Only tasks that reported scalars have a history to ask for.
    const queue: { id: string; metrics: number }[] = [];
    for (const id of wanted) {
      const lm = lastMetrics.get(id);
      const metrics = isObject(lm) ? Object.values(lm).reduce<number>((n, perTitle) => n + (isObject(perTitle) ? Object.keys(perTitle).length : 0), 0) : 0;
      if (metrics > 0) queue.push({ id, metrics });
    }
    const read = new Map<string, Record<string, MetricHistory>>();
    const failed: string[] = [];
    let fatal: { error: unknown } | undefined;
    // A server whose event store is down fails every task, each after its retries: once the
    // first few tasks all failed and none was read, the rest are not asked for.
    let skipped = 0;
    const hopeless = (): boolean => read.size === 0 && failed.length >= HISTORY_GIVE_UP_AFTER;
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined && fatal === undefined; next = queue.shift()) {
        if (hopeless()) {
          skipped++;
          continue;
        }
        const samples = pointsPerMetric(next.metrics);
        try {
          const data = await this.#client.call<Record<string, unknown>>(SCALAR_HISTOGRAM_ENDPOINT, { task: next.id, samples, key: "iter" });
          const h = historiesOfTask(data, lastMetrics.get(next.id));
          if (h !== undefined) read.set(next.id, h);
        } catch (e) {
          if (!isOneTaskFailure(e)) {
            fatal ??= { error: e };
            return;
          }
          const why = isClearmlFailure(e) ? `${e.clearml.resultCode}/${e.clearml.resultSubcode}${e.clearml.resultMsg ? ` ${e.clearml.resultMsg.slice(0, 80)}` : ""}` : "an answer over the size cap";
          failed.push(`${next.id} (${why})`);
        }
      }
    };
    // Each worker catches its own errors: the first that is not about one task stops them all,
    // once the requests in flight have been answered.
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, queue.length) }, worker));
    if (fatal !== undefined) throw fatal.error;
    if (failed.length > 0) {
      this.#warn(`the step history of ${failed.length} task${failed.length === 1 ? "" : "s"} could not be read from ClearML at ${this.location}, and is left out: ${someIds(failed)}`);
    }
    if (skipped > 0) {
      this.#warn(`the step history of ${skipped} more task${skipped === 1 ? " was" : "s were"} not asked for: the first ${failed.length} all failed, so ClearML's event store looks unavailable`);
    }
    for (const id of wanted) {
      const h = read.get(id);
      if (h !== undefined) result.set(id, h);
    }
    return result;
  }

  /**
   * The task with exactly this id (archived or not), in one request, plus one for its project's
   * name; `undefined` when there is none.
   */
  override async get(id: string): Promise<Experiment | undefined> {
    const data = await this.#client.call<{ tasks?: RawTask[] }>("tasks.get_all", { id: [id], only_fields: [...TASK_FIELDS] });
    const task = (data.tasks ?? []).find((t) => t.id === id);
    if (task === undefined) return undefined;
    const names = new Map<string, string>();
    if (typeof task.project === "string") {
      const p = await this.#client.call<{ projects?: RawProject[] }>("projects.get_all", { id: [task.project], only_fields: ["id", "name"], search_hidden: true });
      for (const x of p.projects ?? []) if (typeof x.id === "string" && typeof x.name === "string") names.set(x.id, x.name);
    }
    return experimentOfTask(task, names);
  }

  /**
   * The task with exactly this id, as {@link get}.
   *
   * @throws {NotFoundError} `E_TASK_NOT_FOUND` (exit 2) when there is none.
   */
  override async require(id: string): Promise<Experiment> {
    return this.requireTask(id);
  }

  /** A task id is never a prefix: the id itself, once it is known to exist ({@link require}). */
  override async resolve(id: string): Promise<string> {
    assertValidId(id, "ClearML task id");
    return (await this.requireTask(id)).id;
  }

  /**
   * {@inheritDoc Store.logMetrics} As {@link reportMetrics} with the store's metric registry
   * (the standard one unless given), then the task as it is now.
   */
  override async logMetrics(id: string, values: Readonly<Record<string, number>>): Promise<Experiment> {
    await this.reportMetrics(id, values, { registry: this.#metrics });
    return this.requireTask(id);
  }

  async requireTask(id: string): Promise<Experiment> {
    const task = await this.get(id);
    if (task === undefined) throw this.#taskNotFound(id);
    return task;
  }

  #taskNotFound(id: string): NotFoundError {
    return new NotFoundError("E_TASK_NOT_FOUND", `no ClearML task '${id}' on ${this.location}`, {
      hint: "check the task id (the ID in the ClearML web app's task info); listing the tasks of its project shows them",
    });
  }

  /**
   * Sends validated metric values to a task as scalars, in one `events.add_batch` call: metric =
   * the registry group (`Score`, `PDE`, ...; `Custom` for a metric without one), variant = the
   * metric name, iteration 0. One request before it checks that the task exists and accepts
   * events, so that each refusal is said plainly and nothing is sent: the server refuses events
   * to a task that is published or being published, and to a public task (one whose company is
   * empty, as the examples shared with every workspace are) or another company's.
   *
   * @returns how many events the server added, and the scalars sent.
   * @throws {NotFoundError} `E_TASK_NOT_FOUND` (exit 2) for an unknown task.
   * @throws {ConflictError} (exit 2) `E_TASK_PUBLIC` for a public task, `E_TASK_FOREIGN` for
   *   another company's, `E_TASK_PUBLISHED` for a published or publishing one.
   * @throws {BackendError} from the client; `E_CLEARML_EVENTS` when the server adds fewer events
   *   than sent (with its reasons).
   */
  async reportMetrics(
    taskId: string,
    values: MetricValues,
    options: { registry?: MetricRegistry; now?: () => number } = {},
  ): Promise<{ added: number; scalars: { metric: string; variant: string; value: number }[] }> {
    const registry = options.registry ?? Registry.standard();
    const scalars = Object.entries(values).map(([name, value]) => {
      if (!Number.isFinite(value)) throw new RangeError(`metric '${name}' is not finite`);
      return { metric: registry.get(name)?.group ?? "Custom", variant: name, value };
    });
    if (scalars.length === 0) return { added: 0, scalars };
    const found = await this.#client.call<{ tasks?: RawTaskOwner[] }>("tasks.get_all", { id: [taskId], only_fields: ["id", "status", "company"] });
    const task = (found.tasks ?? []).find((t) => t.id === taskId);
    if (task === undefined) throw this.#taskNotFound(taskId);
    await this.#assertWritable(taskId, task);
    const timestamp = (options.now ?? Date.now)();
    const events = scalars.map((x) => ({ type: "training_stats_scalar", task: taskId, ...x, iter: 0, timestamp }));
    const data = await this.#client.callJsonLines<{ added?: unknown; errors?: unknown; errors_info?: unknown }>("events.add_batch", events);
    const added = typeof data.added === "number" ? data.added : 0;
    if (added < events.length) {
      throw new BackendError("E_CLEARML_EVENTS", `ClearML at ${this.location} added ${added} of ${events.length} metric events to task ${taskId}${data.errors_info ? `: ${JSON.stringify(data.errors_info).slice(0, 300)}` : ""}`);
    }
    return { added, scalars };
  }

  /**
   * Refuses a task that would refuse events, as the server decides (apiserver's event BLL takes
   * events only for tasks of the caller's company, `Task.company`, that are neither published
   * nor publishing; a public task has the company `""`). The caller's company comes from the
   * session token; a server that sends no company is left to decide itself.
   */
  async #assertWritable(taskId: string, task: RawTaskOwner): Promise<void> {
    if (task.company === "") {
      throw new ConflictError("E_TASK_PUBLIC", `ClearML task ${taskId} is a public task (shared with every workspace, as the examples are), and ClearML takes metrics only for a workspace's own tasks`, {
        hint: "clone the task into your workspace (Clone in the ClearML web app) and report to the clone",
      });
    }
    if (typeof task.company === "string") {
      const { company } = await this.#client.identity();
      if (company !== undefined && company !== task.company) {
        throw new ConflictError("E_TASK_FOREIGN", `ClearML task ${taskId} belongs to another workspace than these credentials' (company ${task.company}), and ClearML takes metrics only for a workspace's own tasks`, {
          hint: "report with the credentials of the task's workspace, or to a clone of the task in yours",
        });
      }
    }
    if (task.status === "published" || task.status === "publishing") {
      const what = task.status === "published" ? "is published, and a published task" : "is being published (publishing), and a task being published";
      throw new ConflictError("E_TASK_PUBLISHED", `ClearML task ${taskId} ${what} accepts no new metrics`, {
        hint: "report to a task that is not published (clone it in ClearML if needed)",
      });
    }
  }

  /**
   * A sink for `reportStandard(values, sink)` that reports to one task.
   */
  task(taskId: string, options: { registry?: MetricRegistry } = {}): { reportMetrics(values: MetricValues): Promise<void> } {
    return {
      reportMetrics: async (values) => {
        await this.reportMetrics(taskId, values, options);
      },
    };
  }
}
