import { hostname } from "node:os";
import { guard } from "../../security/guard.js";
import { DEFAULT_GRACE_MS, processIsRun, stopProcessGroup } from "../../runner/process-group.js";
import type { CommandContext } from "../context.js";
import type { RunCancelOptions } from "../define/run.js";
import { openRegistry } from "../registry.js";
import { guardContext } from "../security.js";

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
  // The registry first: it fixes the configuration (with --registry) that the guard reads too.
  const reg = await openRegistry(ctx, flags.registry);
  const full = reg.resolve(id);
  await guard("run.cancel", full, { pin: flags.pin, pinStdin: flags.pinStdin, force: flags.force }, await guardContext(ctx, undefined, reg.path));
  let from = "created";
  const updated = await reg.writer.transition(full, "cancel", (r) => {
    from = String(r.status ?? "created");
    return {};
  });
  const out = (line: string): void => {
    ctx.io.stdout.write(`${line}\n`);
  };
  if (from !== "running") {
    out(`Cancelled ${full} (it was ${from}).`);
    return 0;
  }
  const runner = updated["runner"] !== null && typeof updated["runner"] === "object" ? (updated["runner"] as Record<string, unknown>) : {};
  const pgid = typeof runner["pgid"] === "number" && Number.isInteger(runner["pgid"]) && runner["pgid"] > 1 ? runner["pgid"] : undefined;
  const host = typeof runner["host"] === "string" ? runner["host"] : undefined;
  if (pgid === undefined || host === undefined) {
    out(`Cancelled ${full} (it was running; its process is not recorded yet, so its agent stops it as it notices).`);
    return 0;
  }
  if (host !== hostname()) {
    out(`Cancelled ${full} (it was running on ${host}); the agent there stops its process group ${pgid} within a second or so.`);
    return 0;
  }
  // A recorded process id can be reused once the run is gone: stop the group only if it is still this run's.
  if (processIsRun(pgid, full) === false) {
    out(`Cancelled ${full} (it was running; its process ${pgid} is already gone).`);
    return 0;
  }
  try {
    const outcome = await stopProcessGroup(pgid, DEFAULT_GRACE_MS);
    const how =
      outcome === "gone" ? "its process group had already ended" : outcome === "terminated" ? `stopped its process group ${pgid} (SIGTERM)` : `killed its process group ${pgid} (SIGKILL after ${DEFAULT_GRACE_MS / 1000} s)`;
    out(`Cancelled ${full} (it was running); ${how}.`);
  } catch (e) {
    ctx.warn(`could not stop process group ${pgid}: ${(e as Error).message}; its agent stops it as it notices the cancel`);
    out(`Cancelled ${full} (it was running).`);
  }
  return 0;
}
