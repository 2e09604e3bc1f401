import { checkArchiveEvent } from "../core/lifecycle/lifecycle.js";
import { ValidationError, UsageError } from "../core/errors.js";
import type { PinContext } from "../security/pin.js";
import { activePin } from "../security/pin.js";
import type { LocalBackend } from "./backend.js";
import type { ApprovalAction } from "./approvals.js";

/**
 * What an agent's request for a destructive action names, checked first as the command itself
 * checks before it asks the PIN: a request is made only for what could be done, so a human is
 * never asked to approve what the command would refuse anyway. Nothing here writes anything.
 * The MCP server's destructive tools (`src/mcp/approval-tools.ts`) call these, then
 * `openApprovals(...).request(...)`.
 */

/** The action, target and parameters of a request (`NewApproval` without its requester and TTL). */
export interface ApprovalTarget {
  readonly action: ApprovalAction;
  /** A run's full id, the registry's path, or `pin`. */
  readonly target: string;
  readonly params: Readonly<Record<string, string | number | boolean | null>>;
}

/** The run actions an agent may ask for. */
export type RunApprovalAction = "run.cancel" | "run.archive" | "run.restore" | "run.delete";

/**
 * A request to cancel, archive, restore or delete a run: the id or unique prefix resolved
 * through the store, and the action checked against the run's state as `run cancel|archive|
 * restore|delete` check it before the PIN (a finished run cannot be cancelled, an archived one
 * archived, one not archived restored or deleted; a deleted run is not found). `params.registry`
 * names the registry (absolute), so the approver acts on the same one.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND`, `E_EXPERIMENT_NOT_FOUND`; {UsageError} an
 *   ambiguous or invalid id; {ConflictError} `E_ILLEGAL_TRANSITION` naming the run's state.
 */
export async function runApprovalTarget(backend: Pick<LocalBackend, "store" | "executor">, action: RunApprovalAction, idOrPrefix: string): Promise<ApprovalTarget> {
  const id = await backend.store.resolve(idOrPrefix);
  if (action === "run.cancel") {
    // The very check the guarded cancel makes before its PIN (the record's state; nothing remote).
    await backend.executor.assertCancellable(id);
  } else {
    const run = await backend.store.require(id);
    checkArchiveEvent(run.status, run.archived === true, action === "run.archive" ? "archive" : action === "run.restore" ? "restore" : "delete", id);
  }
  return { action, target: id, params: { registry: backend.store.location } };
}

/**
 * A request to compact the registry: it exists and can be rewritten (what `registry compact`
 * checks before the PIN).
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND`; {BackendError} a registry that cannot be rewritten.
 */
export function compactApprovalTarget(backend: Pick<LocalBackend, "store">): ApprovalTarget {
  backend.store.assertCompactable();
  return { action: "registry.compact", target: backend.store.location, params: {} };
}

/**
 * A request to clear the PIN, change the force policy, or set or change the PIN. Clearing and
 * the policy need a PIN in the home's PIN file (as `pin clear` and `pin policy` refuse without
 * one, or with a hash from the environment or configuration, which expflow does not edit);
 * a PIN change is possible either way: `params.first` says whether a first PIN is set (no
 * current PIN to type) or the current one changed. The new PIN is typed by the human at
 * `expflow approve`, never given here; it binds the approver's configured registry, as
 * `pin init` does.
 *
 * @throws {ValidationError} `E_NO_PIN` (exit 2) for clear or policy without a PIN file's PIN.
 * @throws {UsageError} `E_PIN_NOT_CLEARABLE` (exit 2) for clear when the hash comes from elsewhere.
 * @throws {BackendError} an unreadable PIN file.
 */
export async function pinApprovalTarget(
  pin: PinContext,
  request: { readonly action: "pin.clear" } | { readonly action: "pin.policy"; readonly allowForce: boolean } | { readonly action: "pin.change" },
): Promise<ApprovalTarget> {
  const active = await activePin(pin);
  if (request.action === "pin.change") return { action: "pin.change", target: "pin", params: { first: active === undefined } };
  if (active === undefined) {
    throw new ValidationError("E_NO_PIN", request.action === "pin.clear" ? "no PIN is set: there is nothing to clear" : "no PIN is set: every protected action proceeds without one, so there is no policy to change", {
      hint: "set a PIN with `expflow pin init` first",
    });
  }
  if (active.source !== "file") {
    if (request.action === "pin.clear") {
      throw new UsageError("E_PIN_NOT_CLEARABLE", `the active PIN hash comes from ${active.origin}, which expflow does not edit`, {
        hint: active.source === "env" ? "unset EXPFLOW_PIN_HASH (or remove it from .env)" : `remove pin.hash from ${active.origin}`,
      });
    }
    throw new ValidationError("E_NO_PIN", `the PIN hash comes from ${active.origin}; the force policy lives in a PIN file`, { hint: "set a PIN with `expflow pin init` first" });
  }
  return request.action === "pin.clear" ? { action: "pin.clear", target: "pin", params: {} } : { action: "pin.policy", target: "pin", params: { allow_force: request.allowForce } };
}
