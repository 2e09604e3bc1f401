import { cancelRun } from "../../app/runs.js";
import type { CancelOutcome } from "../../executors/executor.js";
import { openLocal } from "../backend.js";
import type { CommandContext } from "../context.js";
import type { RunCancelOptions } from "../define/run.js";
import { printable } from "../output/sanitize.js";

/**
 * `expflow run cancel <id>`: protected by the guard (asked before anything changes), then the
 * lifecycle event `cancel` (from created, dispatched, queued or running). A run that was running
 * on this host has its process group stopped here at once (SIGTERM, SIGKILL after 5 s); its agent
 * notices the cancel too, and is the one that stops it when it runs on another host.
 *
 * @throws {DeniedError} (exit 3) from the guard; nothing changes then.
 * @throws {ConflictError} `E_ILLEGAL_TRANSITION` (exit 2) when the run is already finished,
 *   naming its state and the events allowed from it.
 * @throws {NotFoundError} / {UsageError} for an unknown or ambiguous id.
 */
export async function runCancelCommand(id: string, flags: RunCancelOptions, ctx: CommandContext): Promise<number> {
  const backend = await openLocal(ctx, flags);
  const outcome = await cancelRun(backend, id);
  ctx.io.stdout.write(`${cancelMessage(outcome, ctx)}\n`);
  return 0;
}

/** What `run cancel` (and an approved agent's `run.cancel`) says about what the cancel did. */
export function cancelMessage(o: CancelOutcome, ctx: CommandContext): string {
  switch (o.kind) {
    case "dequeued":
      return `Cancelled ${o.id} (it was ${o.from}).`;
    case "stop-requested":
      return o.host === undefined
        ? `Cancelled ${o.id} (it was running; its process is not recorded yet, so its agent stops it as it notices).`
        : `Cancelled ${o.id} (it was running on ${o.host}); the agent there stops its process group ${o.pgid} within a second or so.`;
    case "not-running":
      if (o.problem === undefined) return `Cancelled ${o.id} (it was running; its process ${o.pgid} is already gone).`;
      ctx.warn(`could not stop process group ${o.pgid}: ${o.problem}; its agent stops it as it notices the cancel`);
      return `Cancelled ${o.id} (it was running).`;
    case "clearml":
      return clearmlCancelMessage(o);
    case "stopped": {
      const how = o.how === "gone" ? "its process group had already ended" : o.how === "terminated" ? `stopped its process group ${o.pgid} (SIGTERM)` : `killed its process group ${o.pgid} (SIGKILL after ${o.graceMs / 1000} s)`;
      return `Cancelled ${o.id} (it was running); ${how}.`;
    }
  }
}

/** What `run cancel` says of a ClearML run: what the server did, and what it answered. */
function clearmlCancelMessage(o: Extract<CancelOutcome, { kind: "clearml" }>): string {
  const answered =
    o.clearml === null
      ? ""
      : // The server's words are data: made printable.
        ` ClearML: ${printable(o.clearml.status)}${o.clearml.statusMessage !== null ? ` (${printable(o.clearml.statusMessage)})` : ""}${o.clearml.statusReason !== null ? `, reason: ${printable(o.clearml.statusReason)}` : ""}.`;
  switch (o.action) {
    case "dequeued":
      return `Cancelled ${o.id} (it was ${o.from}): its ClearML task ${o.taskId} was taken out of its queue and stopped.${answered}`;
    case "stop-requested":
      return `Cancelled ${o.id} (it was ${o.from}): ClearML asked the agent running task ${o.taskId} to stop it; a live agent stops it within seconds, and \`expflow run sync\` shows when it has.${answered}`;
    case "stopped":
      return `Cancelled ${o.id} (it was ${o.from}): its ClearML task ${o.taskId} is stopped.${answered}`;
    case "none":
      return `Cancelled ${o.id} (it was ${o.from}): its ClearML task ${o.taskId} was never queued, so nothing runs it.${answered}`;
    case "missing":
      return `Cancelled ${o.id} (it was ${o.from}): its ClearML task ${o.taskId} no longer exists.`;
  }
}
