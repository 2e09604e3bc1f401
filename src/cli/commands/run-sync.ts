import { syncRuns } from "../../app/runs.js";
import type { CommandContext } from "../context.js";
import { openLocal } from "../backend.js";
import type { RunSyncOptions } from "../define/run.js";
import { printable } from "../output/sanitize.js";

/**
 * `expflow run sync [--project P]`: refreshes every run linked to a ClearML task (one request
 * per 500) through the state machine and imports the tasks' metrics through the metric registry
 * (`--no-metrics`: states only). Prints what moved; `--json` the whole report. Exit 0, also when
 * nothing is linked (nothing to do is not a failure); 4 when ClearML cannot be reached.
 */
export async function runSyncCommand(flags: RunSyncOptions, ctx: CommandContext): Promise<number> {
  const backend = await openLocal(ctx, { registry: flags.registry, verbose: flags.verbose });
  const report = await syncRuns(backend, { project: flags.project, metrics: flags.metrics !== false });
  if (flags.json) {
    ctx.io.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const out: string[] = [];
  if (report.server === null) {
    out.push(`No run${flags.project === undefined ? "" : ` of project '${printable(flags.project)}'`} in ${backend.path} is linked to ClearML: nothing to sync.`);
  } else {
    for (const m of report.moved) out.push(`${m.id}  ${m.from} -> ${m.to}  (ClearML: ${printable(m.clearml.status)}${m.clearml.statusReason === null ? "" : `, ${printable(m.clearml.statusReason)}`})`);
    for (const b of report.blocked) out.push(`${b.id}  stays ${b.from}: ClearML says ${printable(b.clearml.status)}, which the lifecycle does not allow from ${b.from}`);
    for (const id of report.missing) out.push(`${id}  its ClearML task no longer exists (marked; nothing deleted)`);
    const parts = [`${report.checked} linked run${report.checked === 1 ? "" : "s"} checked on ${report.server}`, `${report.moved.length} moved`];
    if (report.updated > 0) parts.push(`${report.updated} updated`);
    if (flags.metrics !== false) parts.push(`${report.metricsImported} metric value${report.metricsImported === 1 ? "" : "s"} imported`);
    out.push(`${parts.join(", ")}.`);
    if (report.metricsLeftOut.length > 0) {
      const shown = report.metricsLeftOut.slice(0, 10).map((n) => printable(n)).join(", ");
      out.push(`Not imported: ${shown}${report.metricsLeftOut.length > 10 ? ", ..." : ""} (metrics.strict keeps only registered metrics, and a name with white space or control characters is no metric's; \`expflow metrics add NAME --direction lower|higher\` declares one).`);
    }
  }
  if (report.otherServer.length > 0) {
    const servers = [...new Set(report.otherServer.map((o) => o.server))];
    ctx.warn(`${report.otherServer.length} linked run${report.otherServer.length === 1 ? " is" : "s are"} on another ClearML server (${servers.map((n) => printable(n)).join(", ")}), not synced`);
  }
  ctx.io.stdout.write(`${out.join("\n")}\n`);
  return 0;
}
