import { NotFoundError } from "../core/errors.js";
import type { Experiment } from "../core/experiment.js";
import { matchesFilter } from "../core/experiment.js";
import type { RegistryRecord } from "../stores/local/record.js";
import { experimentFromRecord } from "../stores/local/record.js";
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
export { experimentFromRecord, plainObject } from "../stores/local/record.js";
export type { RegistryHealth, CompactResult } from "../stores/local/maintenance.js";
export type { RunResult } from "../runner/local-runner.js";
export type { AgentOptions, AgentResult } from "../executors/local/agent.js";

/** Serves a queue of the local backend with its agent loop until drained (`once`) or stopped. */
export async function serveQueue(backend: LocalBackend, options: AgentOptions): Promise<AgentResult> {
  return runAgent(backend.executor, options);
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
  /** With `keepText`: each record's line as written. */
  readonly texts: ReadonlyMap<string, string>;
}

/**
 * The live runs of the local registry (deleted ones never), filtered by project and tags, archived
 * ones only with `includeArchived`; the registry read once, its damage passed to the warning sink.
 */
export function listRuns(backend: LocalBackend, filter: { project?: string; tags?: readonly string[]; includeArchived?: boolean }, options: { keepText?: boolean } = {}): RunListing {
  const raw = backend.store.rawAll(options);
  const rows: RunRow[] = [];
  let hiddenArchived = 0;
  for (const [id, record] of raw.records) {
    if (record.deleted === true) continue;
    const experiment = experimentFromRecord(record, id);
    if (!matchesFilter(experiment, { project: filter.project, tags: filter.tags, includeArchived: true })) continue;
    if (experiment.archived === true && filter.includeArchived !== true) {
      hiddenArchived++;
      continue;
    }
    rows.push({ record, experiment });
  }
  return { location: backend.path, rows, hiddenArchived, texts: raw.texts };
}

/**
 * The latest raw record of a run by id or unique prefix.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND`, `E_EXPERIMENT_NOT_FOUND` (also for deleted runs).
 * @throws {UsageError} `E_AMBIGUOUS_ID` listing the candidates; `E_BAD_ID`.
 */
export async function runRecord(backend: LocalBackend, idOrPrefix: string): Promise<RegistryRecord> {
  const id = await backend.store.resolve(idOrPrefix);
  const record = backend.store.latestRaw(id);
  if (record === undefined) throw new NotFoundError("E_EXPERIMENT_NOT_FOUND", `no experiment '${id}' in ${backend.path}`, { hint: "`expflow run list` shows the ids" });
  return record;
}
