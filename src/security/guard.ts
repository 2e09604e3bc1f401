import { DeniedError, UsageError } from "../core/errors.js";
import type { AuditOutcome } from "./audit-log.js";
import { appendAudit } from "./audit-log.js";
import type { PinContext } from "./pin.js";
import { activePin, damagedHashError, humanDuration, lockedUntil, verifyPin } from "./pin.js";
import { isValidPin } from "./pin-hash.js";

/** How the caller offers the PIN, as the command line gives it. */
export interface GuardOptions {
  /** `--pin PIN`: works, with a warning that the PIN is visible in the process list. */
  pin?: string;
  /** `--pin-stdin`: read one line from standard input. */
  pinStdin?: boolean;
  /** `--force`: skip the PIN where policy (`pin.allow_force`) allows. */
  force?: boolean;
}

/** What the guard needs beyond PIN handling; injected so tests control every channel. */
export interface GuardContext extends PinContext {
  /** `pin.allow_force` from configuration (default true). */
  readonly allowForce: boolean;
  /** Reads one line from standard input (for `--pin-stdin`). */
  readonly readStdinLine: () => Promise<string>;
  /**
   * A hidden-input prompt, present only when standard input and output are both terminals.
   * Without it the guard never reads standard input unasked.
   */
  readonly prompt?: ((message: string) => Promise<string>) | undefined;
}

/** How a guarded action was let through. */
export type GuardOutcome = Extract<AuditOutcome, "allowed" | "forced" | "no-pin">;

const CHANNELS = "--pin-stdin (one line on standard input), EXPFLOW_PIN in the environment, --pin PIN, or run it on a terminal to be asked";

async function obtainPin(options: GuardOptions, ctx: GuardContext): Promise<string | undefined> {
  if (options.pin !== undefined) {
    ctx.warn("--pin makes the PIN visible in the process list and shell history; prefer --pin-stdin or EXPFLOW_PIN");
    return options.pin;
  }
  if (options.pinStdin) return (await ctx.readStdinLine()).replace(/\r?\n$/, "");
  const env = ctx.env["EXPFLOW_PIN"];
  if (env !== undefined && env !== "") return env;
  if (ctx.prompt !== undefined) return ctx.prompt("PIN:");
  return undefined;
}

/**
 * The one gate every destructive action passes: cancel, delete, archive, registry compaction,
 * changing or clearing the PIN. Every call leaves one audit record (two when a failure starts a
 * lockout).
 *
 * - No PIN configured: the action proceeds (`no-pin`).
 * - `force`: proceeds without a PIN (`forced`) only where `pin.allow_force` is true.
 * - Otherwise the PIN comes from, in order: `--pin`, `--pin-stdin`, `EXPFLOW_PIN`, a hidden prompt
 *   on a terminal. With none of them it fails closed at once.
 *
 * @param action what is attempted (`run.cancel`, `pin.clear`, ...).
 * @param target what it is attempted on (an experiment id, `pin`).
 * @returns how the action was let through.
 * @throws {DeniedError} (exit 3) `E_PIN_REQUIRED` when no PIN was supplied, `E_PIN_WRONG`,
 *   `E_PIN_LOCKED` during a lockout (saying how long), `E_FORCE_DISALLOWED`, `E_PIN_DAMAGED`.
 * @throws {UsageError} (exit 2) `E_PIN_FORMAT` when the PIN supplied is not 4 ASCII digits.
 */
export async function guard(action: string, target: string, options: GuardOptions, ctx: GuardContext): Promise<GuardOutcome> {
  const audit = (outcome: AuditOutcome, detail: string | null): Promise<unknown> => appendAudit(ctx.home, { action, target, outcome, detail }, ctx);
  const active = await activePin(ctx);
  if (active === undefined) {
    await audit("no-pin", "no PIN is set");
    return "no-pin";
  }
  if (options.force) {
    if (!ctx.allowForce) {
      await audit("denied", "--force refused: pin.allow_force is false");
      throw new DeniedError("E_FORCE_DISALLOWED", `--force is not allowed here: pin.allow_force is false, so ${action} needs the PIN`, {
        hint: `supply the PIN with ${CHANNELS}`,
      });
    }
    await audit("forced", "--force, allowed by pin.allow_force");
    return "forced";
  }
  if (active.parsed === undefined) {
    await audit("denied", `unreadable PIN hash in ${active.origin}`);
    throw damagedHashError(active);
  }
  const until = lockedUntil(ctx);
  if (until !== null) {
    await audit("locked", `refused during lockout until ${until.toISOString()}`);
    throw lockedError(until, ctx);
  }
  const pin = await obtainPin(options, ctx);
  if (pin === undefined) {
    await audit("denied", "no PIN supplied");
    throw new DeniedError("E_PIN_REQUIRED", `a PIN is required for ${action}, and none was supplied`, { hint: `supply it with ${CHANNELS}` });
  }
  if (!isValidPin(pin)) {
    await audit("denied", "malformed PIN supplied");
    throw new UsageError("E_PIN_FORMAT", "invalid PIN: a PIN is exactly 4 ASCII digits (0-9)");
  }
  const result = await verifyPin(pin, ctx);
  if (result.ok) {
    await audit("allowed", result.upgraded ? "PIN verified; legacy hash upgraded" : "PIN verified");
    return "allowed";
  }
  if (result.reason === "locked") {
    await audit("locked", `refused during lockout until ${result.lockedUntil!.toISOString()}`);
    throw lockedError(result.lockedUntil!, ctx);
  }
  await audit("denied", "wrong PIN");
  if (result.lockedUntil !== null) {
    await audit("locked", `too many wrong PINs: locked out until ${result.lockedUntil.toISOString()}`);
    throw new DeniedError("E_PIN_WRONG", `wrong PIN; too many wrong PINs in a row, so the PIN is refused for ${humanDuration(result.lockedUntil.getTime() - ctx.now().getTime())}`);
  }
  throw new DeniedError("E_PIN_WRONG", "wrong PIN");
}

function lockedError(until: Date, ctx: GuardContext): DeniedError {
  return new DeniedError(
    "E_PIN_LOCKED",
    `the PIN is locked after too many wrong attempts: try again in ${humanDuration(until.getTime() - ctx.now().getTime())} (at ${until.toISOString()})`,
  );
}
