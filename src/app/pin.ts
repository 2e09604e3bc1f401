import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { PinPolicyJson } from "../contracts/security.js";
import { ExpflowError, UsageError, ValidationError } from "../core/errors.js";
import type { AuditOutcome } from "../security/audit-log.js";
import { appendAudit } from "../security/audit-log.js";
import type { GuardContext, GuardOptions } from "../security/guard.js";
import { forcePolicy, guard } from "../security/guard.js";
import { PIN_FILE, readPinFile } from "../security/pin-file.js";
import type { ActivePin } from "../security/pin.js";
import { activePin, clearPin, initPin, updatePinMeta } from "../security/pin.js";
import { assertValidPin } from "../security/pin-hash.js";
import { bindRegistry, readProtection, realHome, realRegistryPath, unbindRegistry } from "../security/protection.js";

/**
 * The operations on the PIN itself, shared by `expflow pin ...` and `expflow approve` (an
 * agent's request to change, clear or loosen the protection): each goes through the guard as
 * its command does, and its end is recorded in the audit log (`done`, or `failed` with the
 * reason). Nothing here prints: the caller words the result.
 */

/** Records how an operation on the protection itself ended. */
type Recorder = (outcome: AuditOutcome, detail: string) => Promise<void>;

function recorder(g: GuardContext, action: string, target: string): Recorder {
  return async (outcome, detail) => {
    await appendAudit(g.home, { action, target, outcome, detail }, g);
  };
}

/** Runs `op`; a failure is recorded (with its reason) before it is rethrown. */
async function recorded<T>(record: Recorder, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    const reason = e instanceof ExpflowError ? `${e.code}: ${e.message}` : (e as Error).message;
    await record("failed", reason).catch(() => {});
    throw e;
  }
}

/**
 * Binds `registry` to the PIN of `g.home`, unless another PIN already protects it. Returns what
 * to tell the user, or `undefined` when there is nothing to say.
 */
async function bindConfigured(registry: string, g: GuardContext): Promise<string | undefined> {
  const real = realRegistryPath(registry);
  if (!existsSync(dirname(real))) return undefined; // nothing there yet: bound at its first guarded action
  const current = readProtection(real);
  if (current !== undefined && current.home !== realHome(g.home)) return `${real} stays protected by the PIN in ${join(current.home, PIN_FILE)}`;
  if (current === undefined) bindRegistry(real, g.home, g);
  await updatePinMeta(g.home, (m) => (m.registries.includes(real) ? m : { ...m, registries: [...m.registries, real] }));
  return undefined;
}

/** How {@link changePin} gets the new PIN. */
export interface ChangePinOptions {
  /** The current PIN's channels, for the guard (changing an existing PIN is protected: `pin.change`). */
  readonly guard: GuardOptions;
  /** The registry the PIN protects: bound to it afterwards (unless another PIN protects it). */
  readonly registry: string;
  /** A new PIN given up front: checked against the PIN rule before the guard asks anything (a failure is recorded). */
  readonly given?: string | undefined;
  /** Called once `given` passed the rule, before the guard asks (the CLI warns that it was visible). */
  readonly onGiven?: () => void;
  /**
   * Asks for the new PIN when none was given, after the guard let the change through: a line
   * of standard input, or a prompt asked twice. Its errors are recorded as the change's failure.
   */
  readonly obtain: () => Promise<string>;
}

/** What {@link changePin} did. */
export interface PinChanged {
  /** `pin.init` for a first PIN, `pin.change` for a new one. */
  readonly action: "pin.init" | "pin.change";
  /** The new PIN's length. */
  readonly digits: number;
  /** How long one check of the new hash takes (ms): what offline guessing costs. */
  readonly hashMs: number;
  /** Something to tell about the registry's binding (another PIN protects it; it could not be bound), if anything. */
  readonly note: string | undefined;
  /** The hash that was active before, when it came from elsewhere than the PIN file (it still takes effect unless removed). */
  readonly replaced: ActivePin | undefined;
}

/**
 * Sets the PIN of `g.home` (`pin.init`), or changes it (`pin.change`, through the guard: the
 * current PIN, or force where the owner allowed it), then binds `options.registry` to it.
 * Setting a first PIN weakens nothing, so it needs none. Recorded: `done`, or `failed` with the reason.
 *
 * @throws {UsageError} `E_PIN_FORMAT` for a new PIN that is not 4 to 12 digits; whatever `obtain` throws.
 * @throws {DeniedError} (exit 3) from the guard.
 */
export async function changePin(g: GuardContext, options: ChangePinOptions): Promise<PinChanged> {
  const existing = await activePin(g);
  const action = existing === undefined ? "pin.init" : "pin.change";
  const record = recorder(g, action, "pin");
  const given = options.given;
  if (given !== undefined) {
    await recorded(record, async () => assertValidPin(given));
    options.onGiven?.();
  }
  if (existing !== undefined) await guard("pin.change", "pin", options.guard, g);
  const { pin, hashMs } = await recorded(record, async () => {
    const pin = given ?? (await options.obtain());
    assertValidPin(pin);
    const { hashMs } = await initPin(pin, g);
    return { pin, hashMs };
  });
  let note: string | undefined;
  try {
    note = await bindConfigured(options.registry, g);
  } catch (e) {
    note = `could not bind ${options.registry} to this PIN (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it is bound at its first protected action`;
  }
  await record("done", `${existing === undefined ? "PIN set" : "PIN changed"} (${pin.length} digits); protects ${options.registry}`);
  return { action, digits: pin.length, hashMs, note, replaced: existing !== undefined && existing.source !== "file" ? existing : undefined };
}

/** What {@link removePin} did. */
export type PinRemoved =
  | { readonly cleared: false }
  | {
      readonly cleared: true;
      /** The registries whose protection was removed. */
      readonly unbound: readonly string[];
      /** A hash still active from the environment or configuration, if any. */
      readonly stillActive: ActivePin | undefined;
    };

/**
 * Removes the PIN of `g.home` and the protection of its registries, through the guard
 * (`pin.clear`). Nothing to do without a PIN. Recorded: `done`, or `failed` with the reason.
 *
 * @throws {UsageError} `E_PIN_NOT_CLEARABLE` when the active hash comes from the environment or a
 *   configuration file, which expflow does not edit.
 * @throws {DeniedError} (exit 3) from the guard.
 */
export async function removePin(g: GuardContext, channels: GuardOptions): Promise<PinRemoved> {
  const active = await activePin(g);
  if (active === undefined) return { cleared: false };
  if (active.source !== "file") {
    throw new UsageError("E_PIN_NOT_CLEARABLE", `the active PIN hash comes from ${active.origin}, which expflow does not edit`, {
      hint: active.source === "env" ? "unset EXPFLOW_PIN_HASH (or remove it from .env)" : `remove pin.hash from ${active.origin}`,
    });
  }
  await guard("pin.clear", "pin", channels, g);
  const record = recorder(g, "pin.clear", "pin");
  const { stillActive, unbound } = await recorded(record, async () => {
    const { registries, stillActive } = await clearPin(g);
    const unbound = registries.filter((r) => unbindRegistry(r, g.home));
    return { stillActive, unbound };
  });
  await record("done", `PIN cleared; protection removed from ${unbound.length} ${unbound.length === 1 ? "registry" : "registries"}${unbound.length ? `: ${unbound.join(", ")}` : ""}`);
  return { cleared: true, unbound, stillActive };
}

/**
 * Lets force stand in for the PIN (`allow`), or forbids it again. Allowing it weakens the
 * protection: it needs the PIN, through the guard (`pin.policy`), and never force itself.
 * Forbidding it needs none. Recorded: `done`, or `failed` with the reason.
 *
 * @throws {ValidationError} `E_NO_PIN` without a PIN file (no policy to change).
 * @throws {DeniedError} (exit 3) from the guard.
 */
export async function changeForcePolicy(g: GuardContext, allow: boolean, channels: GuardOptions): Promise<void> {
  const active = await activePin(g);
  if (active === undefined || active.source !== "file") {
    throw new ValidationError("E_NO_PIN", active === undefined ? "no PIN is set: every protected action proceeds without one, so there is no policy to change" : `the PIN hash comes from ${active.origin}; the force policy lives in a PIN file`, {
      hint: "set a PIN with `expflow pin init` first",
    });
  }
  const target = `allow_force=${allow}`;
  if (allow) await guard("pin.policy", target, { pin: channels.pin, pinStdin: channels.pinStdin }, g);
  const record = recorder(g, "pin.policy", target);
  await recorded(record, () => updatePinMeta(g.home, (m) => ({ ...m, allow_force: allow, policy_changed: { time: g.now().toISOString(), by: `${g.user}@${g.host}` } })));
  // The audit record keeps the words it has always had: the log's details are data people grep.
  await record("done", allow ? "--force may now stand in for the PIN" : "--force no longer stands in for the PIN");
}

/** The force policy as `pin policy` and `config show` print it: `PinPolicySchema` in `src/contracts`. */
export type PolicyView = PinPolicyJson;

/** The effective force policy of a home (its PIN file's choice narrowed by config files). */
export function policyOf(home: string, forbiddenBy: string | undefined): PolicyView {
  const pinFile = join(home, PIN_FILE);
  let meta;
  try {
    meta = readPinFile(home)?.meta;
  } catch {
    meta = undefined; // unreadable: fails closed, so no force
  }
  const p = forcePolicy(meta, pinFile, forbiddenBy);
  return { allow_force: p.value, source: p.source, owner_allows_force: meta?.allow_force === true, forbidden_by: forbiddenBy ?? null };
}
