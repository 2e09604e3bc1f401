import type { z } from "zod";
import type { ApprovalTarget, RunApprovalAction } from "../app/approval-targets.js";
import { compactApprovalTarget, pinApprovalTarget, runApprovalTarget } from "../app/approval-targets.js";
import type { ApprovalJson, Approvals } from "../app/approvals.js";
import { openApprovals } from "../app/approvals.js";
import { ApprovalSchema } from "../contracts/approvals.js";
import type { ApprovalRequestedJson } from "../contracts/mcp.js";
import { ApprovalOnlyInput, ApprovalRequestedSchema, ApprovalsListInput, ApprovalStatusInput, McpApprovalListSchema, PinPolicyInput, RunActionInput } from "../contracts/mcp.js";
import { NotFoundError } from "../core/errors.js";
import type { PinContext } from "../security/pin.js";
import type { ToolContext } from "./context.js";
import type { ToolDefinition } from "./tools.js";

/**
 * The destructive tools and the tools that follow their requests. A destructive tool never acts:
 * it checks its input as the command would before asking the PIN (`app/approval-targets.ts`),
 * then records a pending request (`app/approvals.ts`) that only a human decides, with
 * `expflow approve ID` (the PIN typed there) or `expflow deny ID`. Nothing else is written: the
 * registry and the PIN file are untouched; the audit log gains the request's own record.
 */

function tool<I extends z.ZodObject, O extends z.ZodType>(t: ToolDefinition<I, O>): ToolDefinition {
  return t as unknown as ToolDefinition;
}

/** The approval requests of the server's home. */
async function approvalsOf(ctx: ToolContext): Promise<Approvals> {
  return openApprovals({ home: (await ctx.config()).home, now: ctx.options.now, warn: ctx.warn, user: ctx.actor.user, host: ctx.actor.host });
}

/** What the PIN checks read: the server's home, environment and configuration. */
async function pinContextOf(ctx: ToolContext): Promise<PinContext> {
  const config = await ctx.config();
  return { home: config.home, env: ctx.options.env, cwd: ctx.options.cwd, configHash: config.pinHash, warn: ctx.warn, ...ctx.actor };
}

/** What a human does next, and how the agent follows it. */
export function nextSteps(a: ApprovalJson): ApprovalRequestedJson["next"] {
  const newPin = a.action === "pin.change" ? " The new PIN is typed there too, by the human." : "";
  return {
    approve: a.approve_command,
    deny: a.deny_command,
    list: "expflow approvals",
    follow: { tool: "approval_status", arguments: { id: a.id } },
    expires_at: a.expires_at,
    message:
      `Nothing was done: this is a pending request (${a.id}). A human approves it on their terminal with \`${a.approve_command}\`, which shows the request, asks the PIN and performs it,` +
      ` or refuses it with \`${a.deny_command}\`; \`expflow approvals\` lists what is pending.${newPin} Never ask for the PIN or pass it to a tool.` +
      ` Follow the outcome with approval_status {"id": "${a.id}"}: pending until decided, then approved, denied or failed; expired if nobody decides by ${a.expires_at}.`,
  };
}

/** Records the request of `target` on behalf of this tool's caller. */
async function requestApproval(ctx: ToolContext, toolName: string, target: ApprovalTarget, reason: string | undefined): Promise<ApprovalRequestedJson> {
  const approvals = await approvalsOf(ctx);
  const request = await approvals.request({
    ...target,
    requester: { client: ctx.client(), tool: toolName, ...(reason === undefined ? {} : { note: reason }) },
    ttlMs: ctx.options.approvalTtlMs,
  });
  return { request, next: nextSteps(request) };
}

const REQUEST_NOTE = "Never acts: it returns a pending approval request (checked first as the command checks it; nothing changes) for a human to approve with `expflow approve ID` and the PIN; follow it with approval_status.";

function runActionTool(name: string, title: string, action: RunApprovalAction, what: string): ToolDefinition {
  return tool({
    name,
    title,
    description: `Ask a human to ${what} (as \`expflow ${action.replace(".", " ")} ID\`). ${REQUEST_NOTE}`,
    kind: "approval",
    input: RunActionInput,
    output: ApprovalRequestedSchema,
    run: async (a, ctx) => requestApproval(ctx, name, await runApprovalTarget(await ctx.local(), action, a.id), a.reason),
  });
}

const cancelRun = runActionTool("cancel_run", "Cancel a run (needs approval)", "run.cancel", "cancel a created, dispatched, queued or running run (a finished one is refused)");
const archiveRun = runActionTool("archive_run", "Archive a run (needs approval)", "run.archive", "archive a finished run (completed, failed or cancelled; not one already archived)");
const restoreRun = runActionTool("restore_run", "Restore a run (needs approval)", "run.restore", "take an archived run out of the archive");
const deleteRun = runActionTool("delete_run", "Delete a run (needs approval)", "run.delete", "delete an archived run permanently (a tombstone in the registry)");

const compactRegistry = tool({
  name: "compact_registry",
  title: "Compact the registry (needs approval)",
  description: `Ask a human to rewrite the registry with the latest record of each run, removing deleted runs' lines (as \`expflow registry compact\`). ${REQUEST_NOTE}`,
  kind: "approval",
  input: ApprovalOnlyInput,
  output: ApprovalRequestedSchema,
  run: async (a, ctx) => requestApproval(ctx, "compact_registry", compactApprovalTarget(await ctx.local()), a.reason),
});

const pinClear = tool({
  name: "pin_clear",
  title: "Clear the PIN (needs approval)",
  description: `Ask a human to remove the PIN and the protection of its registries (as \`expflow pin clear\`); refused when no PIN is set. ${REQUEST_NOTE}`,
  kind: "approval",
  input: ApprovalOnlyInput,
  output: ApprovalRequestedSchema,
  run: async (a, ctx) => requestApproval(ctx, "pin_clear", await pinApprovalTarget(await pinContextOf(ctx), { action: "pin.clear" }), a.reason),
});

const pinPolicy = tool({
  name: "pin_policy",
  title: "Change the force policy (needs approval)",
  description: `Ask a human to allow or forbid --force in place of the PIN (as \`expflow pin policy --allow-force | --no-allow-force\`); refused when no PIN is set. ${REQUEST_NOTE}`,
  kind: "approval",
  input: PinPolicyInput,
  output: ApprovalRequestedSchema,
  run: async (a, ctx) => {
    const target = await pinApprovalTarget(await pinContextOf(ctx), { action: "pin.policy", allowForce: a.allow_force });
    const config = await ctx.config();
    if (a.allow_force && config.forceForbiddenBy !== undefined) ctx.warn(`pin.allow_force: false in ${config.forceForbiddenBy} forbids --force here whatever the policy says`);
    return requestApproval(ctx, "pin_policy", target, a.reason);
  },
});

const pinChange = tool({
  name: "pin_change",
  title: "Set or change the PIN (needs approval)",
  description: `Ask a human to set a first PIN or change the current one (as \`expflow pin init\`); the new PIN is typed by the human at \`expflow approve\`, never given to a tool. ${REQUEST_NOTE}`,
  kind: "approval",
  input: ApprovalOnlyInput,
  output: ApprovalRequestedSchema,
  run: async (a, ctx) => requestApproval(ctx, "pin_change", await pinApprovalTarget(await pinContextOf(ctx), { action: "pin.change" }), a.reason),
});

const approvalStatus = tool({
  name: "approval_status",
  title: "Follow an approval request",
  description: "One approval request by id or unique prefix (as `expflow approvals --all --json` shows it): pending until a human approves or denies it; approved (outcome: what was done), denied, failed, or expired.",
  kind: "read",
  input: ApprovalStatusInput,
  output: ApprovalSchema,
  run: async (a, ctx) => {
    const approvals = await approvalsOf(ctx);
    let id: string;
    try {
      id = await approvals.resolve(a.id);
    } catch (e) {
      if (e instanceof NotFoundError) throw new NotFoundError(e.code, e.message, { hint: "approvals_list with all true lists every request; a destructive tool's result names its id" });
      throw e;
    }
    const found = await approvals.get(id);
    if (found === undefined) throw new NotFoundError("E_APPROVAL_NOT_FOUND", `no approval request '${id}'`, { hint: "approvals_list with all true lists every request" });
    return found;
  },
});

const approvalsList = tool({
  name: "approvals_list",
  title: "List approval requests",
  description: "The approval requests, newest first (as `expflow approvals --json`, under approvals): the pending ones, or every one with all.",
  kind: "read",
  input: ApprovalsListInput,
  output: McpApprovalListSchema,
  run: async (a, ctx) => ({ approvals: await (await approvalsOf(ctx)).list({ all: a.all === true, ...(a.limit === undefined ? {} : { limit: a.limit }) }) }),
});

/** The tools that follow approval requests (reads). */
export const APPROVAL_READ_TOOLS: readonly ToolDefinition[] = [approvalStatus, approvalsList];

/** The destructive tools, each a request for a human's approval, in the order of the tool list. */
export const APPROVAL_TOOLS: readonly ToolDefinition[] = [cancelRun, archiveRun, restoreRun, deleteRun, compactRegistry, pinClear, pinPolicy, pinChange];
