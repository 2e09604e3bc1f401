import { ConflictError, ExpflowError, NotFoundError, UsageError } from "../core/errors.js";
import type { Experiment } from "../core/experiment.js";
import { matchesFilter } from "../core/experiment.js";
import type { RegistryRecord } from "../stores/local/record.js";
import { experimentFromRecord, linkOf, plainObject, statusOf } from "../stores/local/record.js";
import type { ClearmlCloneSpec, ClearmlRunSpec, Dispatched, SyncReport } from "../executors/clearml/clearml-executor.js";
import type { ArchiveEvent } from "../core/lifecycle/lifecycle.js";
import type { CancelOutcome, Executor } from "../executors/executor.js";
import type { AgentOptions, AgentResult } from "../executors/local/agent.js";
import { runAgent } from "../executors/local/agent.js";
import { logPathOf } from "../runner/local-runner.js";
import type { Store } from "../stores/store.js";
import type { LocalBackend } from "./backend.js";
import { didYouMean } from "../core/suggest.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
import { checkStatuses } from "./rank.js";
import type { DiffRow } from "../core/experiment-diff.js";
import { diffExperiments } from "../core/experiment-diff.js";

/**
 * Cancels a run by id or unique prefix: resolved first (an unknown or ambiguous id is exit 2
 * before any PIN is asked), then the executor's guarded `cancel`.
 */
export async function cancelRun(backend: { store: Store; executor: Executor }, idOrPrefix: string): Promise<CancelOutcome> {
  const id = await backend.store.resolve(idOrPrefix);
  return backend.executor.cancel(id);
}

/** Archives, restores or deletes a run by id or unique prefix, through the store's guarded `archive`. */
export async function archiveRun(backend: { store: Store }, event: ArchiveEvent, idOrPrefix: string): Promise<Experiment> {
  const id = await backend.store.resolve(idOrPrefix);
  return backend.store.archive(id, event);
}

export type { RegistryRecord } from "../stores/local/record.js";
export { experimentFromRecord, linkOf, plainObject } from "../stores/local/record.js";
export type { RegistryHealth, CompactResult } from "../stores/local/maintenance.js";
export type { RunResult } from "../runner/local-runner.js";
export type { AgentOptions, AgentResult } from "../executors/local/agent.js";
export type { Dispatched, SyncReport, SyncChange } from "../executors/clearml/clearml-executor.js";

/** Serves a queue of the local backend with its agent loop until drained (`once`) or stopped. */
export async function serveQueue(backend: LocalBackend, options: AgentOptions): Promise<AgentResult> {
  return runAgent(backend.executor.local, options);
}

/** The log file of a local run (`<home>/logs/<id>.log`). */
export function runLogPath(backend: LocalBackend, id: string): string {
  return logPathOf(backend.home, id);
}

/** One row of a run listing: the raw latest record and its normalised form. */
export interface RunRow {
  readonly record: RegistryRecord;
  readonly experiment: Experiment;
}

/** What {@link listRuns} found. */
export interface RunListing {
  /** The registry file. */
  readonly location: string;
  /** The live runs matching the filter, in order of first appearance (or as `order` asks), at most `order.limit`. */
  readonly rows: RunRow[];
  /** How many runs matched the filter, before `order.limit`. */
  readonly matched: number;
  /** Live runs in the registry, whatever the filter (0: an empty registry). */
  readonly total: number;
  /** Archived runs that matched but were left out (without `includeArchived`). */
  readonly hiddenArchived: number;
  /** With `keepText`: each record's line as written (of the records the refresh left as they were). */
  readonly texts: ReadonlyMap<string, string>;
  /** With `refresh`, when runs linked to ClearML were refreshed. */
  readonly refresh?: SyncReport;
  /** With `order.sortBy`: the field sorted by (a metric by its registered name) and the direction used. */
  readonly sortedBy?: { readonly field: string; readonly ascending: boolean };
}

/** Which runs {@link listRuns} selects. */
export interface RunFilter {
  /** Only runs of this project (exact name). */
  readonly project?: string;
  /** Only runs carrying all of these tags. */
  readonly tags?: readonly string[];
  /** Archived runs too (default: left out, and counted in `hiddenArchived`). */
  readonly includeArchived?: boolean;
  /** Only runs in one of these states (lifecycle states, or a state some selected run has). */
  readonly statuses?: readonly string[];
  /** Only runs created at this time or later (a run without a readable creation time is left out). */
  readonly since?: Date;
}

/** How {@link listRuns} orders and cuts what it selected. */
export interface RunOrder {
  /**
   * A field of the listing ({@link RUN_FIELDS}: `id`, `name`, `status`, `queue`, `project`,
   * `tags`, `created`, `updated_at`, `archived`) or a metric (a registered name or alias, or a
   * name some run reports). Missing values go last, either way. Default: order of first appearance.
   */
  readonly sortBy?: string;
  /**
   * Lowest (earliest, first in code-point order) first. Default: a metric in its registered
   * direction, best first (an unregistered metric highest first, as a ranking does), a field
   * lowest first. Without `sortBy`, `false` reverses the order of first appearance.
   */
  readonly ascending?: boolean;
  /** At most this many runs, after ordering (a positive whole number). */
  readonly limit?: number;
}

/** Every latest raw record, or none for a registry that does not exist yet when `missingIsEmpty`. */
function rawOrNothing(backend: LocalBackend, options: { keepText?: boolean; missingIsEmpty?: boolean }): { records: ReadonlyMap<string, RegistryRecord>; texts: ReadonlyMap<string, string> } {
  try {
    return backend.store.rawAll(options);
  } catch (e) {
    if (options.missingIsEmpty === true && e instanceof NotFoundError && e.code === "E_REGISTRY_NOT_FOUND") return { records: new Map(), texts: new Map() };
    throw e;
  }
}

/** A value to order by: a number, text, or `null` (missing, ordered last). */
type SortKey = number | string | null;

function textOf(v: unknown): string | null {
  if (typeof v === "string") return v === "" ? null : v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return null;
}

function timeOf(v: unknown): number | null {
  const t = typeof v === "string" && v !== "" ? Date.parse(v) : Number.NaN;
  return Number.isNaN(t) ? null : t;
}

/** The fields of a run listing {@link RunOrder.sortBy} names, as the `run list` columns are keyed. */
export const RUN_FIELDS: Readonly<Record<string, (row: RunRow) => SortKey>> = Object.freeze({
  id: (r: RunRow) => r.experiment.id,
  name: (r: RunRow) => textOf(r.experiment.name),
  status: (r: RunRow) => textOf(r.experiment.status),
  queue: (r: RunRow) => textOf(r.record.queue),
  project: (r: RunRow) => textOf(r.experiment.project),
  tags: (r: RunRow) => (r.experiment.tags.length > 0 ? r.experiment.tags.join(",") : null),
  created: (r: RunRow) => timeOf(r.experiment.created),
  updated_at: (r: RunRow) => timeOf(r.record.updated_at),
  archived: (r: RunRow) => (r.experiment.archived === true ? 1 : 0),
});

/** What `order.sortBy` names: a field, or a metric (by its registered name when it has one) with its default direction. */
function sortFieldOf(sortBy: string, metrics: MetricRegistry, rows: readonly RunRow[]): { field: string; key: (row: RunRow) => SortKey; ascending: boolean } {
  const get = Object.hasOwn(RUN_FIELDS, sortBy) ? RUN_FIELDS[sortBy] : undefined;
  if (get !== undefined) return { field: sortBy, key: get, ascending: true };
  const def = metrics.get(sortBy);
  const name = def?.name ?? sortBy;
  if (def === undefined && !rows.some((r) => Object.hasOwn(r.experiment.metrics, name))) {
    const candidates = [...Object.keys(RUN_FIELDS), ...metrics.allNames()];
    throw new UsageError("E_UNKNOWN_METRIC", `unknown field '${sortBy}' in sortBy: not a field of the listing, nor a metric that is registered or that a run reports.${didYouMean(sortBy, candidates)}`, {
      hint: `fields: ${Object.keys(RUN_FIELDS).join(", ")}; or a metric (\`expflow metrics list\` shows the registered ones)`,
      field: "sortBy",
      value: sortBy,
    });
  }
  const key = (r: RunRow): SortKey => {
    const v = r.experiment.metrics[name];
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  };
  return { field: name, key, ascending: def === undefined ? false : def.direction === "lower" };
}

/** `rows` ordered by `key` (missing last, ties in their order), lowest first unless `!ascending`. */
function sortRows(rows: readonly RunRow[], key: (row: RunRow) => SortKey, ascending: boolean): RunRow[] {
  const keyed = rows.map((row, at) => ({ row, at, k: key(row) }));
  const sign = ascending ? 1 : -1;
  keyed.sort((a, b) => {
    if (a.k === null || b.k === null) return a.k === b.k ? a.at - b.at : a.k === null ? 1 : -1;
    if (a.k === b.k) return a.at - b.at;
    // Numbers among text (a field that holds both) order before it.
    if (typeof a.k !== typeof b.k) return typeof a.k === "number" ? -1 : 1;
    return (a.k < b.k ? -1 : 1) * sign;
  });
  return keyed.map((x) => x.row);
}

/** Whether any of these records is linked to a ClearML task. */
function anyLinked(records: Iterable<RegistryRecord>): boolean {
  for (const r of records) if (r.deleted !== true && linkOf(r) !== undefined) return true;
  return false;
}

/**
 * Refreshes the linked runs among `records` from ClearML, when there are any: one request per
 * 500. When ClearML cannot be reached (not configured, unreachable, refusing), says so through
 * the backend's warning sink and leaves the records as last synced: a listing never fails for it.
 */
async function refreshLinked(backend: LocalBackend, records: readonly RegistryRecord[], warn: (message: string) => void): Promise<SyncReport | undefined> {
  if (!anyLinked(records)) return undefined;
  try {
    return await (await backend.clearml()).executor.sync(records);
  } catch (e) {
    if (!(e instanceof ExpflowError) || e.exitCode !== 4) throw e;
    const linked = records.filter((r) => r.deleted !== true && linkOf(r) !== undefined).length;
    warn(`${e.message}; ${linked === 1 ? "the run linked to ClearML is" : `the ${linked} runs linked to ClearML are`} shown as last synced`);
    return undefined;
  }
}

/**
 * The live runs of the local registry (deleted ones never), filtered by project, tags, creation
 * time and status, archived ones only with `includeArchived`; the registry read once, its damage
 * passed to the warning sink. With `refresh`, runs linked to ClearML tasks are refreshed from
 * ClearML first (one request per 500; see {@link refreshLinked}), so the status filter and the
 * order see their current state. Then ordered and cut as `order` asks.
 *
 * @param options.missingIsEmpty a registry file that does not exist yet lists as an empty one
 *   (the CLI's default registry on a fresh home), instead of throwing.
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when the registry file does not exist (without `missingIsEmpty`).
 * @throws {UsageError} `E_UNKNOWN_STATUS` for a status that is neither a lifecycle state nor the
 *   status of a selected run; `E_UNKNOWN_METRIC` (field `sortBy`) for a `sortBy` that is neither
 *   a field nor a metric registered or reported.
 */
export async function listRuns(
  backend: LocalBackend,
  filter: RunFilter,
  options: { keepText?: boolean; refresh?: boolean; warn?: (message: string) => void; order?: RunOrder; missingIsEmpty?: boolean } = {},
): Promise<RunListing> {
  const raw = rawOrNothing(backend, options);
  let rows: RunRow[] = [];
  // Linked runs that matched, shown or hidden: what a refresh asks ClearML about.
  const linked: RegistryRecord[] = [];
  let hiddenArchived = 0;
  let total = 0;
  const since = filter.since?.getTime();
  for (const [id, record] of raw.records) {
    if (record.deleted === true) continue;
    total++;
    const experiment = experimentFromRecord(record, id);
    if (!matchesFilter(experiment, { project: filter.project, tags: filter.tags, includeArchived: true })) continue;
    if (since !== undefined && !((timeOf(experiment.created) ?? Number.NEGATIVE_INFINITY) >= since)) continue;
    if (options.refresh === true && linkOf(record) !== undefined) linked.push(record);
    if (experiment.archived === true && filter.includeArchived !== true) {
      hiddenArchived++;
      continue;
    }
    rows.push({ record, experiment });
  }
  const order = options.order ?? {};
  // A typo in the field costs no request to ClearML.
  const sort = order.sortBy === undefined ? undefined : sortFieldOf(order.sortBy, backend.metrics, rows);
  let refresh: SyncReport | undefined;
  let texts = raw.texts;
  if (linked.length > 0) {
    refresh = await refreshLinked(backend, linked, options.warn ?? (() => undefined));
    if (refresh !== undefined && (refresh.moved.length > 0 || refresh.updated > 0 || refresh.missing.length > 0)) {
      const changed = new Map<string, RegistryRecord>();
      for (const r of linked) {
        const now = backend.store.raw(String(r.experiment_id));
        if (now !== undefined && now.rev !== r.rev) changed.set(String(r.experiment_id), now);
      }
      const kept = new Map(texts);
      for (const [i, row] of rows.entries()) {
        const now = changed.get(row.experiment.id);
        if (now === undefined) continue;
        rows[i] = { record: now, experiment: experimentFromRecord(now, row.experiment.id) };
        kept.delete(row.experiment.id);
      }
      texts = kept;
    }
  }
  const statuses = filter.statuses ?? [];
  if (statuses.length > 0) {
    checkStatuses(
      statuses,
      rows.map((r) => r.experiment),
    );
    rows = rows.filter((r) => statuses.includes(r.experiment.status));
  }
  const ascending = order.ascending ?? sort?.ascending ?? true;
  if (sort !== undefined) rows = sortRows(rows, sort.key, ascending);
  else if (!ascending) rows.reverse();
  const matched = rows.length;
  if (order.limit !== undefined && rows.length > order.limit) rows = rows.slice(0, order.limit);
  return {
    location: backend.path,
    rows,
    matched,
    total,
    hiddenArchived,
    texts,
    ...(refresh === undefined ? {} : { refresh }),
    ...(sort === undefined ? {} : { sortedBy: { field: sort.field, ascending } }),
  };
}

/**
 * The latest raw record of a run by id or unique prefix; with `refresh`, a run linked to a
 * ClearML task is refreshed from it first (one request; when ClearML cannot be reached, the
 * record as last synced, with a warning).
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND`, `E_EXPERIMENT_NOT_FOUND` (also for deleted runs).
 * @throws {UsageError} `E_AMBIGUOUS_ID` listing the candidates; `E_BAD_ID`.
 */
export async function runRecord(backend: LocalBackend, idOrPrefix: string, options: { refresh?: boolean; warn?: (message: string) => void } = {}): Promise<RegistryRecord> {
  const id = await backend.store.resolve(idOrPrefix);
  const record = backend.store.latestRaw(id);
  if (record === undefined) throw new NotFoundError("E_EXPERIMENT_NOT_FOUND", `no experiment '${id}' in ${backend.path}`, { hint: "`expflow run list` shows the ids" });
  if (options.refresh !== true || linkOf(record) === undefined) return record;
  await refreshLinked(backend, [record], options.warn ?? (() => undefined));
  return backend.store.latestRaw(id) ?? record;
}

/** One run of a {@link RunDiff}: who the columns are. */
export interface RunDiffRun {
  readonly id: string;
  readonly name: string | null;
  readonly status: string;
  /** Creation time as recorded (ISO 8601), or `null`. */
  readonly created: string | null;
}

/** What {@link diffRuns} found: `runDiff` of `src/contracts/runs.ts`, as `run diff` prints it with `--json`. */
export interface RunDiff {
  /** The runs compared, in the order given: the first is the one the others are marked against. */
  readonly runs: readonly RunDiffRun[];
  /** Whether every row is kept, not only those that differ. */
  readonly all: boolean;
  /** See {@link diffExperiments}. */
  readonly rows: readonly DiffRow[];
  /** How many rows differ. */
  readonly differing: number;
  /** How many rows were compared (shown or not). */
  readonly compared: number;
}

/**
 * The fields, params and metrics of two or more runs of the local registry side by side, by id
 * or unique prefix (see {@link diffExperiments}: the first run is the reference the metrics of
 * the others are marked against). Every id is resolved before anything else happens; then, with
 * `refresh`, the runs linked to ClearML are refreshed from it in one request (or, when ClearML
 * cannot be reached, compared as last synced, with a warning), as {@link runRecord} does.
 *
 * @param options.all keep the rows that do not differ too (default: only those that differ).
 * @throws {UsageError} `E_USAGE` for fewer than two ids; `E_SAME_RUN` when two ids name the same
 *   run; `E_AMBIGUOUS_ID` listing the candidates; `E_BAD_ID`.
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND`, `E_EXPERIMENT_NOT_FOUND` (also for deleted runs).
 */
export async function diffRuns(
  backend: LocalBackend,
  idsOrPrefixes: readonly string[],
  options: { all?: boolean; refresh?: boolean; warn?: (message: string) => void } = {},
): Promise<RunDiff> {
  if (idsOrPrefixes.length < 2) throw new UsageError("E_USAGE", `a diff compares two runs or more; ${idsOrPrefixes.length === 0 ? "none was" : "one was"} given`, { hint: "name the runs to compare by id or unique prefix" });
  const ids: string[] = [];
  const given = new Map<string, string>();
  for (const p of idsOrPrefixes) {
    const id = await backend.store.resolve(p);
    const earlier = given.get(id);
    if (earlier !== undefined) {
      const same = earlier === p ? `'${p}' is given twice${p === id ? "" : ` (run ${id})`}` : `'${earlier}' and '${p}' are the same run, ${id}`;
      throw new UsageError("E_SAME_RUN", `${same}: a diff compares different runs`, { hint: "name each run once", value: p });
    }
    given.set(id, p);
    ids.push(id);
  }
  let records: RegistryRecord[] = [];
  for (const id of ids) {
    const record = backend.store.latestRaw(id);
    // Deleted between its resolution and now.
    if (record === undefined) throw new NotFoundError("E_EXPERIMENT_NOT_FOUND", `no experiment '${id}' in ${backend.path}`, { hint: "`expflow run list` shows the ids" });
    records.push(record);
  }
  const linked = records.filter((r) => linkOf(r) !== undefined);
  if (options.refresh === true && linked.length > 0) {
    await refreshLinked(backend, linked, options.warn ?? (() => undefined));
    records = records.map((r, i) => (linkOf(r) === undefined ? r : (backend.store.latestRaw(ids[i]!) ?? r)));
  }
  const experiments = records.map((r, i) => experimentFromRecord(r, ids[i]!));
  const diff = diffExperiments(experiments, backend.metrics, { all: options.all === true });
  return {
    runs: experiments.map((e) => ({ id: e.id, name: e.name, status: e.status, created: e.created })),
    all: options.all === true,
    rows: diff.rows,
    differing: diff.differing,
    compared: diff.compared,
  };
}

/**
 * Refreshes every run linked to a ClearML task (of `project`, when given) and imports the tasks'
 * metrics through the metric registry; see {@link ClearmlExecutor.sync}. ClearML is not asked
 * anything when no run is linked.
 */
export async function syncRuns(backend: LocalBackend, options: { project?: string; metrics?: boolean } = {}): Promise<SyncReport & { readonly server: string | null }> {
  const records = [...backend.store.rawAll().records.values()].filter((r) => r.deleted !== true && (options.project === undefined || r.project === options.project));
  if (!anyLinked(records)) return { ...EMPTY_SYNC, server: null };
  const side = await backend.clearml();
  const report = await side.executor.sync(records, { metrics: options.metrics !== false });
  return { ...report, server: side.server };
}

const EMPTY_SYNC: SyncReport = Object.freeze({ checked: 0, moved: [], updated: 0, missing: [], blocked: [], otherServer: [], metricsImported: 0, metricsLeftOut: [] });

/** A run for ClearML, as `run submit --clearml` gives it. */
export type ClearmlSubmission = ({ readonly kind: "command" } & ClearmlRunSpec) | ({ readonly kind: "clone" } & ClearmlCloneSpec);

/**
 * Dispatches a run to a ClearML queue (a new task from the command, or a clone of a task), records
 * it in the registry linked to its task, and returns what was sent; see {@link ClearmlExecutor.dispatch}.
 */
export async function dispatchRun(backend: LocalBackend, submission: ClearmlSubmission): Promise<Dispatched & { readonly server: string }> {
  const side = await backend.clearml();
  const { kind: _kind, ...spec } = submission;
  const done = submission.kind === "clone" ? await side.executor.dispatchClone(spec as ClearmlCloneSpec) : await side.executor.dispatch(spec as ClearmlRunSpec);
  return { ...done, server: side.server };
}

/** The reasons a run is failed with when its agent (or `run submit --wait`) was interrupted. */
const INTERRUPTED = /^(agent )?interrupted \(SIG[A-Z]+\)$/;

/** Whether a record is a run failed by an interrupted agent or `run submit --wait`. */
export function wasInterrupted(record: Readonly<RegistryRecord>): boolean {
  return statusOf(record) === "failed" && typeof record["reason"] === "string" && INTERRUPTED.test(record["reason"]);
}

/** What {@link retryRuns} made. */
export interface RetryReport {
  readonly retried: readonly { readonly of: string; readonly id: string; readonly queue: string; readonly status: string }[];
  /** With `interrupted`: runs left out because a retry of them exists already. */
  readonly alreadyRetried: readonly string[];
}

/**
 * Requeues failed or cancelled runs as new experiments linked to the originals (`retry_of`; the
 * new run's `create` history entry says of which run and why it ended): the same command, working
 * directory, parameters, project and tags, on the same queue unless `queue` is given. A run
 * dispatched to ClearML is retried on ClearML, as a clone of its task. The original is left as it
 * is. With `interrupted`, every run failed by an interrupted agent (or `run submit --wait`) that
 * has no retry yet.
 *
 * @throws {ConflictError} `E_ILLEGAL_TRANSITION` (exit 2) for a run that is not failed or cancelled.
 * @throws {NotFoundError} / {UsageError} for an unknown or ambiguous id.
 */
export async function retryRuns(backend: LocalBackend, which: { readonly id: string } | { readonly interrupted: true }, options: { readonly queue?: string } = {}): Promise<RetryReport> {
  let originals: RegistryRecord[];
  const alreadyRetried: string[] = [];
  if ("id" in which) {
    const record = await runRecord(backend, which.id);
    const state = statusOf(record);
    if (state !== "failed" && state !== "cancelled") {
      throw new ConflictError("E_ILLEGAL_TRANSITION", `cannot retry ${record.experiment_id}: it is ${state}; only failed or cancelled runs can be retried`, {
        hint: state === "running" || state === "queued" ? "it has not ended: `expflow run cancel` it first, or wait" : undefined,
      });
    }
    originals = [record];
  } else {
    const all = [...backend.store.rawAll().records.values()].filter((r) => r.deleted !== true);
    const retried = new Set(all.map((r) => r["retry_of"]).filter((v): v is string => typeof v === "string"));
    originals = [];
    for (const r of all) {
      if (!wasInterrupted(r)) continue;
      if (retried.has(String(r.experiment_id))) alreadyRetried.push(String(r.experiment_id));
      else originals.push(r);
    }
  }
  const retried: { of: string; id: string; queue: string; status: string }[] = [];
  for (const r of originals) {
    const of = String(r.experiment_id);
    const ended = typeof r["reason"] === "string" ? `${statusOf(r)}: ${r["reason"]}` : statusOf(r);
    const retry = { of, reason: `retry of ${of} (${ended})` };
    const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
    const link = linkOf(r);
    if (link !== undefined) {
      const side = await backend.clearml();
      const clearmlQueue = options.queue ?? str(r.queue);
      const done = await side.executor.dispatchClone({
        sourceTaskId: link.taskId,
        ...(clearmlQueue === null ? {} : { queue: clearmlQueue }),
        name: str(r.name),
        project: str(r.project),
        tags: Array.isArray(r.tags) ? r.tags.filter((t): t is string => typeof t === "string") : [],
        args: {},
        cwd: str(r["cwd"]) ?? backend.home,
        retry,
      });
      retried.push({ of, id: done.experiment.id, queue: done.queue.name, status: done.experiment.status });
      continue;
    }
    const argv = Array.isArray(r["argv"]) && r["argv"].every((a) => typeof a === "string") ? (r["argv"] as string[]) : undefined;
    const command = Array.isArray(r.command) ? r.command.join(" ") : str(r.command);
    if (argv === undefined && command === null) {
      throw new ConflictError("E_NOTHING_TO_RUN", `cannot retry ${of}: its record holds no command`, { hint: "submit the command again with `expflow run submit`" });
    }
    const params = plainObject(r.params) ?? {};
    const queue = options.queue ?? str(r.queue) ?? "default";
    const made = await backend.executor.submit({
      // A record of the earlier tool holds only a command line: it runs through the shell, as the runner runs it.
      argv: argv ?? [command!],
      display: command ?? argv!.join(" "),
      shell: argv === undefined ? true : r["shell"] === true,
      cwd: str(r["cwd"]) ?? backend.home,
      queue,
      name: str(r.name),
      project: str(r.project),
      tags: Array.isArray(r.tags) ? r.tags.filter((t): t is string => typeof t === "string") : [],
      params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
      retry,
    });
    retried.push({ of, id: made.id, queue, status: made.status });
  }
  return { retried, alreadyRetried };
}
