import type { Experiment } from "../core/experiment.js";

/** What to run: a command for an executor's queue. */
export interface RunSpec {
  /** The command's argv (its first word the program), parameters included. */
  readonly argv: readonly string[];
  /** How the command is shown (and, with `shell`, the line `/bin/sh -c` runs). */
  readonly display: string;
  /** Run through `/bin/sh -c display` instead of spawning `argv`. */
  readonly shell: boolean;
  /** The working directory the run starts in. */
  readonly cwd: string;
  /** The queue; absent: the executor's default (`default` locally, the server's default queue on ClearML). */
  readonly queue?: string;
  readonly name?: string | null;
  readonly project?: string | null;
  readonly tags?: readonly string[];
  /** Parameters as recorded (`Args/k`). */
  readonly params?: Readonly<Record<string, string>>;
  /** The run this one retries (recorded as `retry_of`), and why, for the history. */
  readonly retry?: { readonly of: string; readonly reason: string };
}

/**
 * What a cancel did:
 * - `dequeued`: the run had not started (created, dispatched, queued); it never will.
 * - `stop-requested`: it runs where this process cannot stop it (another host, or its process
 *   not recorded yet); its agent stops it as it notices the cancel.
 * - `stopped`: its process group was stopped here (`how` says SIGTERM or SIGKILL, or that it had ended).
 * - `not-running`: it was recorded as running but its process is gone.
 * - `clearml`: a run dispatched to ClearML; `action` says what the server did with its task
 *   (`dequeued`; `stop-requested`: a live agent stops it within seconds; `stopped`; `none`: it
 *   was never queued; `missing`: the task no longer exists), `clearml` what it answered after.
 */
export type CancelOutcome =
  | { readonly kind: "dequeued"; readonly id: string; readonly from: string }
  | { readonly kind: "stop-requested"; readonly id: string; readonly from: "running"; readonly host?: string; readonly pgid?: number }
  | { readonly kind: "stopped"; readonly id: string; readonly from: "running"; readonly pgid: number; readonly how: "gone" | "terminated" | "killed"; readonly graceMs: number }
  | { readonly kind: "not-running"; readonly id: string; readonly from: "running"; readonly pgid?: number; readonly problem?: string }
  | {
      readonly kind: "clearml";
      readonly id: string;
      readonly from: string;
      /** The record's state afterwards (`cancelled`). */
      readonly to: string;
      readonly taskId: string;
      readonly action: "dequeued" | "stop-requested" | "stopped" | "none" | "missing";
      /** ClearML's status, reason and message after the cancel; `null` when the task is gone. */
      readonly clearml: { readonly status: string; readonly statusReason: string | null; readonly statusMessage: string | null } | null;
    };

/**
 * Where experiments run, beside the {@link Store} where they live: the local runner and its
 * agent, or ClearML queues and their agents (with dispatch). The application layer calls it
 * without knowing which it holds; `cancel` is guarded when the executor is opened through
 * `security/guarded.ts`.
 */
export interface Executor {
  readonly kind: string;
  /** Records a new run for the queue and returns it (queued). */
  submit(spec: RunSpec): Promise<Experiment>;
  /**
   * Cancels a run: the lifecycle event `cancel`, then stopping what runs where this process can.
   *
   * @throws {ConflictError} `E_ILLEGAL_TRANSITION` (exit 2) for a finished run.
   */
  cancel(id: string): Promise<CancelOutcome>;
  /** The run as it is now. */
  status(id: string): Promise<Experiment>;
  /** The run each time its state changes, until it is finished (or the iteration is ended). */
  watch(id: string, options?: { intervalMs?: number; signal?: AbortSignal }): AsyncIterable<Experiment>;
}
