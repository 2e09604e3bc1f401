import type { AuditLogJson, AuditVerificationJson } from "../../contracts/audit.js";
import type { AuditRecord } from "../../security/audit-log.js";
import { auditLog, verifyAuditLog } from "../../app/audit.js";
import type { CommandContext } from "../context.js";
import type { AuditLogOptions } from "../define/audit.js";
import type { Column } from "../output/render.js";
import { renderTable } from "../output/render.js";
import { tableWidth } from "../output/table-fit.js";

const COLUMNS: Column<AuditRecord>[] = [
  { header: "SEQ", get: (r) => r.seq, align: "right" },
  { header: "TIME", get: (r) => r.time },
  { header: "USER", get: (r) => r.user },
  { header: "HOST", get: (r) => r.host, maxWidth: 24, shrink: { min: 8, order: 1 }, drop: 1 },
  { header: "ACTION", get: (r) => r.action },
  { header: "TARGET", get: (r) => r.target, maxWidth: 24, shrink: { min: 12, order: 2 } },
  {
    header: "OUTCOME",
    get: (r) => r.outcome,
    paint: (r, t, c) =>
      r.outcome === "allowed" || r.outcome === "no-pin" || r.outcome === "done" || r.outcome === "confirmed" ? c.green(t) : r.outcome === "forced" || r.outcome === "requested" ? c.yellow(t) : c.red(t),
  },
  // The detail is cut first to fit the terminal, then the host and the target.
  { header: "DETAIL", get: (r) => r.detail, shrink: { min: 12, order: 0 }, drop: 0 },
];

/** `expflow audit log [--json] [--verify]`: list the audit log, or verify its hash chain (exit 1 when broken). */
export async function auditLogCommand(flags: AuditLogOptions, ctx: CommandContext): Promise<number> {
  const { home } = await ctx.config();
  if (flags.verify) {
    const v: AuditVerificationJson = verifyAuditLog(home);
    const records = `${v.records} record${v.records === 1 ? "" : "s"}`;
    if (flags.json) ctx.io.stdout.write(`${JSON.stringify(v)}\n`);
    else if (v.ok) ctx.io.stdout.write(`Audit log intact: ${records}, hash chain and anchors verified.\n${v.notes.map((n) => `note: ${n}\n`).join("")}`);
    else {
      const list = v.problems.map((p) => `  - ${p.reason}\n`).join("");
      ctx.io.stdout.write(`Audit log TAMPERED or damaged: ${v.problem!.reason}.\n${v.problems.length > 1 ? `All ${v.problems.length} problems found (${records} read):\n${list}` : `(${records} read.)\n`}${v.notes.map((n) => `note: ${n}\n`).join("")}`);
    }
    return v.ok ? 0 : 1;
  }
  const records: AuditLogJson = auditLog(home);
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify(records)}\n`);
  else if (records.length === 0) ctx.io.stdout.write("The audit log is empty.\n");
  else ctx.io.stdout.write(renderTable(records, COLUMNS, ctx.colors, { width: tableWidth(ctx.io.stdout, ctx.io.env) }));
  return 0;
}
