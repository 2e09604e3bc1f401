import type { RunHandle } from "../../runner/local-runner.js";
import type { LocalExecutor } from "./local-executor.js";

/** How often an idle agent looks for queued runs, in ms. */
export const IDLE_POLL_MS = 500;

/** Options of {@link runAgent}. */
export interface AgentOptions {
  /** The queue to serve. */
  readonly queue: string;
  /** Runs at once (a positive whole number). */
  readonly concurrency: number;
  /** Drain what is queued (runs queued meanwhile included), then return. */
  readonly once: boolean;
  /** Receives one line for each thing the agent does. */
  readonly say: (message: string) => void;
  /**
   * Subscribes to stop requests (SIGINT, SIGTERM): the callback gets the signal and how many
   * came so far; returns the unsubscribe function.
   */
  readonly onStop: (handler: (signal: NodeJS.Signals, count: number) => void) => () => void;
  /** How often an idle agent looks (ms; default {@link IDLE_POLL_MS}). */
  readonly idlePollMs?: number;
}

/** How an agent run ended. */
export interface AgentResult {
  /** Runs that failed (a cancelled run is not a failure). */
  readonly failed: number;
  /** The stop signal that ended it, if one did. */
  readonly stoppedBy?: NodeJS.Signals;
  /** Runs interrupted by the stop (and failed with `agent interrupted (SIGNAL)`). */
  readonly interrupted: number;
}

/**
 * The local agent loop: takes the queued runs of its queue first-in first-out, up to
 * `concurrency` at once, runs each through the executor's runner and records the outcome. A run
 * cancelled from another process is stopped (its process group gets SIGTERM, then SIGKILL after
 * the grace period). On the first stop request it interrupts its runs (each failed with the
 * reason `agent interrupted (SIGNAL)`), on the second it kills them; it returns once none runs.
 */
export async function runAgent(executor: LocalExecutor, options: AgentOptions): Promise<AgentResult> {
  const { runner } = executor;
  const { queue, concurrency, say } = options;
  const active = new Map<string, RunHandle>();
  let failed = 0;
  let stoppedBy: NodeJS.Signals | undefined;
  let interrupted = 0;
  let wake: (() => void) | undefined;
  const wakeUp = (): void => wake?.();

  const unsubscribe = options.onStop((signal, count) => {
    stoppedBy ??= signal;
    if (count === 1) {
      say(`${signal}: stopping${active.size > 0 ? ` ${active.size} run${active.size === 1 ? "" : "s"} (again to kill at once)` : ""}`);
      for (const handle of active.values()) handle.interrupt(`agent interrupted (${signal})`);
    } else {
      for (const handle of active.values()) handle.kill();
    }
    wakeUp();
  });

  try {
    for (;;) {
      let claimedAny = false;
      while (stoppedBy === undefined && active.size < concurrency) {
        const record = await runner.claimNext(queue);
        if (record === undefined) break;
        claimedAny = true;
        const handle = runner.start(record);
        active.set(record.experiment_id, handle);
        // A stop signal that came while this run was being claimed stops it too.
        if (stoppedBy !== undefined) handle.interrupt(`agent interrupted (${stoppedBy})`);
        void handle.done.then((result) => {
          active.delete(result.id);
          if (result.status === "failed" || result.runnerError !== undefined) failed++;
          if (result.status === "failed" && result.reason?.startsWith("agent interrupted") === true) interrupted++;
          wakeUp();
        });
      }
      if (stoppedBy !== undefined && active.size === 0) break;
      if (options.once && stoppedBy === undefined && active.size === 0 && !claimedAny) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wake = undefined;
          resolve();
        }, options.idlePollMs ?? IDLE_POLL_MS);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
    }
  } finally {
    unsubscribe();
  }
  return stoppedBy === undefined ? { failed, interrupted } : { failed, interrupted, stoppedBy };
}
