import type { Experiment } from "../core/experiment.js";
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
