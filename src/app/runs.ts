import { ConflictError, ExpflowError, NotFoundError } from "../core/errors.js";
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
  /** The live runs matching the filter, in order of first appearance. */
  readonly rows: RunRow[];
  /** Archived runs that matched but were left out (without `includeArchived`). */
  readonly hiddenArchived: number;
  /** With `keepText`: each record's line as written (of the records the refresh left as they were). */
  readonly texts: ReadonlyMap<string, string>;
  /** With `refresh`, when runs linked to ClearML were refreshed. */
  readonly refresh?: SyncReport;
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
 * The live runs of the local registry (deleted ones never), filtered by project and tags, archived
 * ones only with `includeArchived`; the registry read once, its damage passed to the warning sink.
 * With `refresh`, runs linked to ClearML tasks are refreshed from ClearML first (one request per
 * 500; see {@link refreshLinked}).
 */
export async function listRuns(
  backend: LocalBackend,
  filter: { project?: string; tags?: readonly string[]; includeArchived?: boolean },
  options: { keepText?: boolean; refresh?: boolean; warn?: (message: string) => void } = {},
): Promise<RunListing> {
  const raw = backend.store.rawAll(options);
  const rows: RunRow[] = [];
  // Linked runs that matched, shown or hidden: what a refresh asks ClearML about.
  const linked: RegistryRecord[] = [];
  let hiddenArchived = 0;
  for (const [id, record] of raw.records) {
    if (record.deleted === true) continue;
    const experiment = experimentFromRecord(record, id);
    if (!matchesFilter(experiment, { project: filter.project, tags: filter.tags, includeArchived: true })) continue;
    if (options.refresh === true && linkOf(record) !== undefined) linked.push(record);
    if (experiment.archived === true && filter.includeArchived !== true) {
      hiddenArchived++;
      continue;
    }
    rows.push({ record, experiment });
  }
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
  return { location: backend.path, rows, hiddenArchived, texts, ...(refresh === undefined ? {} : { refresh }) };
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
