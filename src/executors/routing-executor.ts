import type { Experiment } from "../core/experiment.js";
import type { LocalStore } from "../stores/local/local-store.js";
import { nextState } from "../core/lifecycle/lifecycle.js";
import { linkOf } from "../stores/local/record.js";
import type { ClearmlExecutor } from "./clearml/clearml-executor.js";
import type { CancelOutcome, Executor, RunSpec } from "./executor.js";
import type { LocalExecutor } from "./local/local-executor.js";

/**
 * The executor of the local registry's runs, wherever they run: a run linked to a ClearML task
 * is cancelled, read and watched through the ClearML executor (opened only then), every other
 * run through the local one. `submit` makes a local run; ClearML runs are made with the ClearML
 * executor's `dispatch`. Guarded as one executor (`security/guarded.ts`), so every cancel asks
 * the same guard whichever way it goes.
 */
export class RoutingExecutor implements Executor {
  readonly kind = "local";

  constructor(
    /** The local runner and agent. */
    readonly local: LocalExecutor,
    private readonly clearml: () => Promise<ClearmlExecutor>,
    private readonly store: LocalStore,
  ) {}

  async #for(id: string): Promise<Executor> {
    const record = this.store.raw(id);
    return record !== undefined && linkOf(record) !== undefined ? this.clearml() : this.local;
  }

  /** {@inheritDoc Executor.submit} A local run. */
  submit(spec: RunSpec): Promise<Experiment> {
    return this.local.submit(spec);
  }

  /**
   * Throws what a cancel of `id` would throw from the record's state (`E_ILLEGAL_TRANSITION` for
   * a finished run; `E_EXPERIMENT_NOT_FOUND`), reading nothing remote: the guard asks it before
   * the PIN.
   */
  async assertCancellable(id: string): Promise<void> {
    nextState((await this.store.require(id)).status, "cancel", id);
  }

  /** {@inheritDoc Executor.cancel} */
  async cancel(id: string): Promise<CancelOutcome> {
    return (await this.#for(id)).cancel(id);
  }

  /** {@inheritDoc Executor.status} A linked run is refreshed from its task first. */
  async status(id: string): Promise<Experiment> {
    return (await this.#for(id)).status(id);
  }

  /** {@inheritDoc Executor.watch} */
  async *watch(id: string, options?: { intervalMs?: number; signal?: AbortSignal }): AsyncIterable<Experiment> {
    yield* (await this.#for(id)).watch(id, options);
  }
}
