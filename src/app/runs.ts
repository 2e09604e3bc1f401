import type { Experiment } from "../core/experiment.js";
import type { ArchiveEvent } from "../core/lifecycle/lifecycle.js";
import type { CancelOutcome, Executor } from "../executors/executor.js";
import type { Store } from "../stores/store.js";

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
