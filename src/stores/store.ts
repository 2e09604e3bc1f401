import type { Experiment, ExperimentFilter } from "../core/experiment.js";

/**
 * Where experiments live. Every backend (the local JSONL registry, a ClearML server) implements
 * this one interface, and commands call it without knowing which backend they hold.
 *
 * Contract, for every implementation:
 * - `list` returns each experiment once, in its latest state, filtered by every criterion given
 *   (`project` exact, all `tags`, any of `statuses`); the order is unspecified (ranking orders).
 * - `get` returns the experiment with exactly that id, or `undefined`.
 * - Reading never modifies the store.
 * - Problems the caller can act on but that do not stop the read (a damaged line skipped) are
 *   passed to the `onWarning` callback given to the store, never printed by it.
 * - Failures throw the error hierarchy of `core/errors.ts`: `NotFoundError` when the store
 *   itself does not exist, `BackendError` when a backend cannot be reached or fails.
 */
export interface Store {
  /** Where the store is, for messages: a file path or a server URL. */
  readonly location: string;
  /**
   * Statuses this backend knows besides the lifecycle states (ClearML's `published`,
   * `in_progress`, ...), accepted by `--status` even when no selected experiment has them.
   */
  readonly statuses?: readonly string[];
  /**
   * Throws `UsageError` `E_UNKNOWN_STATUS` (exit 2) for a status no experiment of this store can
   * have, before anything is read, so a typo costs no listing. Left out by a store whose records
   * may carry any status (the local registry: records of the earlier tool), where a status is
   * known only once some experiment is seen with it.
   */
  assertStatuses?(statuses: readonly string[]): void;
  /** The experiments matching `filter` (all of them when omitted). */
  list(filter?: ExperimentFilter): Promise<Experiment[]>;
  /** The experiment with this id, or `undefined`. */
  get(id: string): Promise<Experiment | undefined>;
}

/** Receives non-fatal problems met while reading a store. */
export type WarningSink = (message: string) => void;
