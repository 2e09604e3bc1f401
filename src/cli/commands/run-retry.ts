import { UsageError } from "../../core/errors.js";
import { retryRuns } from "../../app/runs.js";
import { openLocal } from "../backend.js";
import type { CommandContext } from "../context.js";
import type { RunRetryOptions } from "../define/run.js";
import { printable } from "../output/sanitize.js";

/**
 * `expflow run retry ID` / `run retry --interrupted`: requeues failed or cancelled runs as new
 * runs linked to the originals (`retry_of`), the originals left as they are. Prints one line per
 * new run (`--json`: `RunRetrySchema`). Exit 0, also when `--interrupted` finds nothing to retry.
 *
 * @throws {UsageError} `E_USAGE` (exit 2) for neither or both of an id and `--interrupted`.
 * @throws {ConflictError} `E_ILLEGAL_TRANSITION` (exit 2) for a run that is not failed or cancelled.
 */
export async function runRetryCommand(id: string | undefined, flags: RunRetryOptions, ctx: CommandContext): Promise<number> {
  if (id === undefined && flags.interrupted !== true) throw new UsageError("E_USAGE", "name the run to retry, or pass --interrupted", { hint: "expflow run retry exp-... | expflow run retry --interrupted" });
  if (id !== undefined && flags.interrupted === true) throw new UsageError("E_USAGE", "--interrupted retries every interrupted run: give no id with it");
  if (flags.queue !== undefined && flags.queue.trim() === "") throw new UsageError("E_USAGE", "--queue must not be empty");
  const backend = await openLocal(ctx, { registry: flags.registry, verbose: flags.verbose });
  const report = await retryRuns(backend, id === undefined ? { interrupted: true } : { id }, flags.queue === undefined ? {} : { queue: flags.queue });
  if (flags.json) {
    ctx.io.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const lines = report.retried.map((r) => `Retried ${r.of} as ${r.id} (${r.status} on '${printable(r.queue)}').`);
  if (report.alreadyRetried.length > 0) lines.push(`Left out ${report.alreadyRetried.length} interrupted run${report.alreadyRetried.length === 1 ? "" : "s"} retried already: ${report.alreadyRetried.slice(0, 10).join(", ")}${report.alreadyRetried.length > 10 ? ", ..." : ""}.`);
  if (report.retried.length === 0 && flags.interrupted === true) lines.unshift("No interrupted run to retry.");
  ctx.io.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
