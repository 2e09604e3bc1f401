import { UsageError } from "../../core/errors.js";
import type { RunHandle } from "../../runner/local-runner.js";
import type { CommandContext } from "../context.js";
import type { AgentOptions } from "../define/agent.js";
import { openRegistry } from "../registry.js";
import { onStopSignals, openRunner, refusePinInEnvironment, signalExitCode } from "../runner.js";

/** How often an idle agent looks for queued runs, in ms. */
const IDLE_POLL_MS = 500;

/**
 * `expflow agent`: the local runner. Takes the queued runs of its queue first-in first-out, up to
 * `concurrency` at once, runs each (see `src/runner/README.md`) and records the outcome. A run
 * cancelled from another process is stopped (its process group gets SIGTERM, then SIGKILL after
 * 5 s).
 *
 * - `--once`: drains the queue (runs queued meanwhile included) and returns 0 when no run it ran
 *   failed, 1 when any did (a cancelled run is not a failure).
 * - Otherwise it polls every 500 ms until SIGINT or SIGTERM.
 * - On SIGINT/SIGTERM it stops its runs the same way and fails each with the reason
 *   `agent interrupted (SIGTERM)`, so none is left running; it returns 130 (SIGINT) or 143
 *   (SIGTERM) when it had runs to interrupt, 0 when it was idle. A second signal kills the runs'
 *   process groups at once.
 *
 * @throws {UsageError} (exit 2) `E_PIN_IN_ENV`, before anything is claimed, while `EXPFLOW_PIN`
 *   is set and `--allow-pin-env` is not given (see {@link refusePinInEnvironment}).
 */
export async function agentCommand(flags: AgentOptions, ctx: CommandContext): Promise<number> {
  const queue = flags.queue ?? "default";
  const concurrency = flags.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError("E_USAGE", `--concurrency must be a positive whole number, got ${concurrency}`);
  refusePinInEnvironment(ctx, "the agent", flags.allowPinEnv);
  const reg = await openRegistry(ctx, flags.registry);
  const say = (message: string): void => {
    ctx.io.stdout.write(`[${new Date().toISOString()}] ${message}\n`);
  };
  const runner = openRunner(reg, ctx, say);
  const active = new Map<string, RunHandle>();
  let failed = 0;
  let stoppedBy: NodeJS.Signals | undefined;
  let interrupted = 0;
  let wake: (() => void) | undefined;
  const wakeUp = (): void => wake?.();

  const removeHandlers = onStopSignals((signal, count) => {
    stoppedBy ??= signal;
    if (count === 1) {
      say(`${signal}: stopping${active.size > 0 ? ` ${active.size} run${active.size === 1 ? "" : "s"} (again to kill at once)` : ""}`);
      for (const handle of active.values()) handle.interrupt(`agent interrupted (${signal})`);
    } else {
      for (const handle of active.values()) handle.kill();
    }
    wakeUp();
  });

  say(`agent serving queue '${queue}' of ${reg.path}${flags.once ? " (once)" : ""}, up to ${concurrency} at once`);
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
      if (flags.once && stoppedBy === undefined && active.size === 0 && !claimedAny) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wake = undefined;
          resolve();
        }, IDLE_POLL_MS);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
    }
  } finally {
    removeHandlers();
  }
  if (stoppedBy !== undefined) {
    say(`agent stopped by ${stoppedBy}${interrupted > 0 ? `; ${interrupted} run${interrupted === 1 ? "" : "s"} interrupted and failed` : ""}`);
    return interrupted > 0 ? signalExitCode(stoppedBy) : 0;
  }
  say(`queue '${queue}' drained${failed > 0 ? `; ${failed} run${failed === 1 ? "" : "s"} failed` : ""}`);
  return failed > 0 ? 1 : 0;
}
