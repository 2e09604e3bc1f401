import { z } from "zod";
import { isoTime, list, textOrNull } from "./primitives.js";

/** The destructive actions an agent may ask a human to approve (`app/approvals.ts`'s `ApprovalAction`). */
export const APPROVAL_ACTIONS = ["run.cancel", "run.archive", "run.restore", "run.delete", "registry.compact", "pin.change", "pin.clear", "pin.policy"] as const;

/** The states of an approval request: pending until approved (performed), denied, expired, or failed (performing threw). */
export const APPROVAL_STATES = ["pending", "approved", "denied", "expired", "failed"] as const;

/** An approval request's id: `apr-` and 12 lower-case hex digits. */
export const approvalId = z.string().regex(/^apr-[0-9a-f]{12}$/);

/**
 * One approval request (`expflow approvals --json` lists them; `approve --json` and `deny --json`
 * print the one decided): a destructive action an agent asked for, which only a human with the
 * PIN performs. `requester` is what the agent said of itself: data, shown, never trusted.
 */
export const ApprovalSchema = z
  .strictObject({
    id: approvalId,
    action: z.enum(APPROVAL_ACTIONS),
    /** A run id (full), a registry path, or `pin`. */
    target: z.string().min(1),
    /** What else the action needs: `registry` (absolute path) for run actions, `allow_force` for `pin.policy`. */
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    requester: z.strictObject({
      /** The MCP client's name and version, as it gave them. */
      client: z.string(),
      /** The tool that asked. */
      tool: z.string(),
      /** The agent's stated reason, if it gave one. */
      note: textOrNull,
    }),
    created_at: isoTime,
    expires_at: isoTime,
    state: z.enum(APPROVAL_STATES),
    /** When it was decided (for `expired`: when it expired); `null` while pending. */
    decided_at: isoTime.nullable(),
    /** Who approved or denied it (`user@host`); `null` while pending and for `expired`. */
    decided_by: textOrNull,
    /** What was done, or why it failed, was denied or expired; `null` while pending. */
    outcome: textOrNull,
    /** `expflow approve <id>`. */
    approve_command: z.string().min(1),
    /** `expflow deny <id>`. */
    deny_command: z.string().min(1),
  })
  .refine((a) => (a.state === "pending") === (a.decided_at === null) && (a.state === "pending") === (a.outcome === null), {
    message: "decided_at and outcome are set exactly when the request is decided",
  })
  .refine((a) => a.state === "pending" || a.state === "expired" || a.decided_by !== null, { message: "an approved, denied or failed request names who decided it" })
  .refine((a) => a.approve_command === `expflow approve ${a.id}` && a.deny_command === `expflow deny ${a.id}`, { message: "the commands name the request" });
export type ApprovalJson = z.infer<typeof ApprovalSchema>;

/** `expflow approvals --json`: the requests, newest first (pending ones only, unless `--all`). */
export const ApprovalListSchema = list(ApprovalSchema);
export type ApprovalListJson = z.infer<typeof ApprovalListSchema>;
