import { UsageError } from "../../core/errors.js";
import { serveQueue } from "../../app/runs.js";
import { openLocal } from "../backend.js";
import type { CommandContext } from "../context.js";
import type { AgentOptions } from "../define/agent.js";
import { onStopSignals, refusePinInEnvironment, signalExitCode } from "../runner.js";

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
  const say = (message: string): void => {
    ctx.io.stdout.write(`[${new Date().toISOString()}] ${message}\n`);
  };
  const backend = await openLocal(ctx, { registry: flags.registry }, say);
  say(`agent serving queue '${queue}' of ${backend.path}${flags.once ? " (once)" : ""}, up to ${concurrency} at once`);
  const result = await serveQueue(backend, { queue, concurrency, once: flags.once === true, say, onStop: onStopSignals });
  if (result.stoppedBy !== undefined) {
    const { interrupted, stoppedBy } = result;
    say(`agent stopped by ${stoppedBy}${interrupted > 0 ? `; ${interrupted} run${interrupted === 1 ? "" : "s"} interrupted and failed` : ""}`);
    return interrupted > 0 ? signalExitCode(stoppedBy) : 0;
  }
  const { failed } = result;
  say(`queue '${queue}' drained${failed > 0 ? `; ${failed} run${failed === 1 ? "" : "s"} failed` : ""}`);
  return failed > 0 ? 1 : 0;
}
