import { dirname, join } from "node:path";
import { DeniedError, ExpflowError, UsageError } from "../core/errors.js";
import type { AuditOutcome } from "./audit-log.js";
import { appendAudit, AUDIT_FILE, auditLogState } from "./audit-log.js";
import type { PinFileMeta } from "./pin-file.js";
import { PIN_FILE, readPinFile } from "./pin-file.js";
import type { ActivePin, PinContext } from "./pin.js";
import { activePin, damagedHashError, humanDuration, LOCKOUT_BASE_MS, lockedUntil, updatePinMeta, verifyPin } from "./pin.js";
import { isValidPin, PIN_RULE } from "./pin-hash.js";
import type { Protection } from "./protection.js";
import { bindRegistry, readProtection, realHome, realRegistryPath, sidecarOf } from "./protection.js";

/** How the caller offers the PIN, as the command line gives it. */
export interface GuardOptions {
  /** `--pin PIN`: works, with a warning that the PIN is visible in the process list. */
  pin?: string;
  /** `--pin-stdin`: read one line from standard input. */
  pinStdin?: boolean;
  /** `--force`: skip the PIN where the PIN owner's policy allows it. */
  force?: boolean;
}

/** What the guard needs beyond PIN handling; injected so tests control every channel. */
export interface GuardContext extends PinContext {
  /**
   * The configuration file that forbids `--force` (`pin.allow_force: false`), if any. Files can
   * only tighten the policy; turning `--force` on is the PIN owner's (`expflow pin policy`).
   */
  readonly forceForbiddenBy?: string | undefined;
  /** Reads one line from standard input (for `--pin-stdin`). */
  readonly readStdinLine: () => Promise<string>;
  /**
   * A hidden-input prompt, present only when standard input and output are both terminals.
   * Without it the guard never reads standard input unasked.
   */
  readonly prompt?: ((message: string) => Promise<string>) | undefined;
  /**
   * The registry file the action changes, when it changes one. Its protection sidecar decides
   * whose PIN, lockout, policy and audit log apply, whatever `home` says.
   */
  readonly registry?: string | undefined;
}

/** How a guarded action was let through. */
export type GuardOutcome = Extract<AuditOutcome, "allowed" | "forced" | "no-pin">;

/** How the PIN can be supplied, in the options' names (a surface names its own channels). */
const CHANNELS = "EXPFLOW_PIN in the environment, the pinStdin option (one line on standard input), the pin option, or a prompt on a terminal";
/** How many times the terminal prompt asks again after a wrong PIN, in one command. */
const PROMPT_ATTEMPTS = 3;

/** What each guarded action does, for the prompt and messages. */
export function describeAction(action: string, target: string): string {
  switch (action) {
    case "run.cancel":
      return `cancel run ${target}`;
    case "run.archive":
      return `archive run ${target}`;
    case "run.delete":
      return `delete run ${target} permanently`;
    case "registry.compact":
      return `compact the registry ${target}`;
    case "pin.change":
      return "change the PIN";
    case "pin.clear":
      return "clear the PIN (and remove the protection of its registries)";
    case "pin.check":
      return "check the PIN";
    case "pin.policy":
      return "let force stand in for the PIN";
    default:
      return `${action} ${target}`;
  }
}

/** The effective force policy: the PIN owner's choice, narrowed by configuration files. */
export interface ForcePolicy {
  /** Whether `--force` may stand in for the PIN. */
  readonly value: boolean;
  /** Where that comes from: `default`, the PIN file (with who set it and when), or a config file. */
  readonly source: string;
}

/**
 * The force policy that applies: `false` by default; `true` only when the PIN owner chose it
 * (`expflow pin policy --allow-force`, recorded in the PIN file) and no configuration file
 * forbids it. Pure.
 */
export function forcePolicy(meta: PinFileMeta | undefined, pinFile: string, forbiddenBy: string | undefined): ForcePolicy {
  if (forbiddenBy !== undefined) return { value: false, source: forbiddenBy };
  if (meta?.allow_force === true) {
    const set = meta.policy_changed;
    return { value: true, source: `${pinFile}${set ? ` (pin policy --allow-force, ${set.time} by ${set.by})` : ""}` };
  }
  return { value: false, source: meta?.policy_changed ? `${pinFile} (pin policy --no-allow-force, ${meta.policy_changed.time} by ${meta.policy_changed.by})` : "default" };
}

function brokenProtection(message: string, hint: string): DeniedError {
  return new DeniedError("E_PROTECTION_BROKEN", message, { hint });
}

/** Whose PIN applies to this action, and what to do before deciding. */
interface Scope {
  /** The home whose PIN, lockout, policy and log apply. */
  readonly home: string;
  /** The PIN context for that home (no environment or config hash for a bound registry). */
  readonly pinCtx: PinContext;
  readonly active: ActivePin | undefined;
  /** The registry's binding, when it has one. */
  readonly protection: Protection | undefined;
  /** Set when the action cannot proceed whatever PIN is given: recorded, then thrown. */
  readonly broken: DeniedError | undefined;
  /** Whether recording `broken` is part of the point (the log is missing), not best effort. */
  readonly mustRecord?: boolean;
}

/**
 * A registry without a sidecar that lives in an expflow home with a PIN file (the default layout,
 * `~/.expflow/experiments.jsonl`, bound by no sidecar when its PIN was set by an earlier version):
 * that home's PIN protects it. Returns the binding it is given from now on.
 */
function impliedProtection(ctx: GuardContext): Protection | undefined {
  const dir = dirname(realRegistryPath(ctx.registry!));
  if (dir === realHome(ctx.home)) return undefined;
  let pin;
  try {
    pin = readPinFile(dir);
  } catch {
    pin = { path: join(dir, PIN_FILE), hash: "", meta: undefined };
  }
  if (pin === undefined) return undefined;
  try {
    return bindRegistry(ctx.registry!, dir, ctx);
  } catch {
    return { version: 1, home: realHome(dir), bound_at: ctx.now().toISOString(), bound_by: `${ctx.user}@${ctx.host}` };
  }
}

async function scopeOf(ctx: GuardContext): Promise<Scope> {
  const protection = ctx.registry !== undefined ? (readProtection(ctx.registry) ?? impliedProtection(ctx)) : undefined;
  if (protection === undefined) {
    const active = await activePin(ctx);
    const broken = logMissing(ctx.home, active);
    return { home: ctx.home, pinCtx: ctx, active, protection, broken, mustRecord: broken !== undefined };
  }
  // A bound registry takes its own PIN file only: not EXPFLOW_PIN_HASH, .env or config values
  // of whoever is calling, which could name any hash.
  const home = protection.home;
  const pinCtx: PinContext = { ...ctx, home, env: {}, cwd: home, configHash: undefined };
  const pinFile = join(home, PIN_FILE);
  const active = await activePin(pinCtx);
  if (active === undefined) {
    return {
      home,
      pinCtx,
      active,
      protection,
      broken: brokenProtection(`${realRegistryPath(ctx.registry!)} is protected by the PIN in ${pinFile}, which is missing: protected actions on it are refused`, `restore ${pinFile}, or set a PIN there (EXPFLOW_HOME=${home} expflow pin init); the binding is ${sidecarOf(ctx.registry!)}`),
    };
  }
  const broken = logMissing(home, active);
  return { home, pinCtx, active, protection, broken, mustRecord: broken !== undefined };
}

/**
 * A PIN whose file anchors an audit log that is no longer there: the action is refused (after the
 * append that records the damage), so that a vanished log is noticed, not papered over.
 */
function logMissing(home: string, active: ActivePin | undefined): DeniedError | undefined {
  if (active?.source !== "file" || !active.meta?.audit) return undefined;
  const log = join(home, AUDIT_FILE);
  if (auditLogState(home) === "present") return undefined;
  return brokenProtection(`the audit log of the PIN in ${active.origin} was expected at ${log}, and it is missing or empty: protected actions are refused`, "the damage is now recorded there; verifyAudit shows it. Restore the log from a backup, or run the command again to go on with the log as it is");
}

/**
 * The one gate every destructive action passes: cancel, delete, archive, registry compaction,
 * changing or clearing the PIN, changing the force policy. Every call leaves an audit record in
 * the log that belongs to the PIN that applies (two when a failure starts a lockout).
 *
 * Which PIN applies: for an action on a registry (`ctx.registry`), the PIN its protection sidecar
 * names, from whatever `EXPFLOW_HOME` or path it was reached; a registry without a sidecar is
 * bound to the caller's PIN file at its first guarded action. Otherwise the caller's PIN.
 *
 * - No PIN: the action proceeds (`no-pin`).
 * - A registry whose PIN file or log cannot be found: refused (fail closed).
 * - `force`: proceeds without a PIN (`forced`) only where the PIN owner allowed it and no config
 *   file forbids it.
 * - Otherwise the PIN comes from, in order: `--pin`, `--pin-stdin`, `EXPFLOW_PIN`, a hidden prompt
 *   on a terminal (asked again after a wrong PIN, saying how many tries are left). With none of
 *   them it fails closed at once.
 *
 * @param action what is attempted (`run.cancel`, `pin.clear`, ...).
 * @param target what it is attempted on (an experiment id, `pin`).
 * @returns how the action was let through.
 * @throws {DeniedError} (exit 3) `E_PIN_REQUIRED` when no PIN was supplied, `E_PIN_WRONG`,
 *   `E_PIN_LOCKED` during a lockout (saying how long), `E_FORCE_DISALLOWED`, `E_PIN_DAMAGED`,
 *   `E_LOCKOUT_UNREADABLE`, `E_PROTECTION_BROKEN`, `E_PROTECTION_UNREADABLE`.
 * @throws {UsageError} (exit 2) `E_PIN_FORMAT` when the PIN supplied is not 4 to 12 ASCII digits.
 * @throws {BackendError} (exit 4) `E_AUDIT_WRITE` / `E_AUDIT_UNREADABLE` when the decision cannot
 *   be recorded: nothing is let through unrecorded.
 */
export async function guard(action: string, target: string, options: GuardOptions, ctx: GuardContext): Promise<GuardOutcome> {
  let scope: Scope;
  try {
    scope = await scopeOf(ctx);
  } catch (e) {
    // An unreadable sidecar or PIN file: refused; recorded where the caller's log is, if it can be.
    if (e instanceof DeniedError) await appendAudit(ctx.home, { action, target, outcome: "denied", detail: e.message }, ctx).catch(() => {});
    throw e;
  }
  const { home, pinCtx, active } = scope;
  const elsewhere = realHome(home) !== realHome(ctx.home) ? ` (registry bound to this PIN; EXPFLOW_HOME was ${ctx.home})` : "";
  const audit = (outcome: AuditOutcome, detail: string): Promise<unknown> => appendAudit(home, { action, target, outcome, detail: `${detail}${elsewhere}` }, ctx);
  if (scope.broken !== undefined) {
    // A vanished log: the record of it must land (else its error is the answer). A missing PIN
    // file: recorded where its log is, if it can be.
    if (scope.mustRecord) await audit("denied", scope.broken.message);
    else await audit("denied", scope.broken.message).catch(() => {});
    throw scope.broken;
  }
  if (active === undefined) {
    await audit("no-pin", "no PIN is set");
    return "no-pin";
  }
  if (ctx.registry !== undefined && scope.protection === undefined && active.source === "file" && active.meta !== undefined) {
    const wasBound = active.meta.registries.includes(realRegistryPath(ctx.registry));
    await bind(ctx, home);
    if (wasBound) {
      // This PIN protected the registry, and its sidecar is gone: someone removed the protection
      // by hand. Restored now; refused once, so that it is noticed.
      const e = brokenProtection(
        `the protection record ${sidecarOf(ctx.registry)} of this registry was removed (${active.origin} lists the registry as protected); it is restored, and this action is refused`,
        "check who removed it (while it was missing, other EXPFLOW_HOMEs were not asked this PIN), then run the command again",
      );
      await audit("denied", e.message);
      throw e;
    }
  }
  if (options.force) {
    const policy = forcePolicy(active.parsed === undefined ? undefined : active.meta, active.origin, ctx.forceForbiddenBy);
    if (!policy.value) {
      const forbidden = ctx.forceForbiddenBy !== undefined ? `pin.allow_force is false in ${ctx.forceForbiddenBy}` : undefined;
      // The audit record keeps the words it has always had: the log's details are data people grep.
      await audit("denied", `--force refused: ${forbidden ?? "the PIN owner has not allowed it (expflow pin policy --allow-force)"}`);
      const why = forbidden ?? "the PIN owner has not allowed it (allow_force in the PIN file's policy)";
      throw new DeniedError("E_FORCE_DISALLOWED", `force is not allowed: ${why}, so ${describeAction(action, target)} needs the PIN`, {
        hint: `supply the PIN instead: ${CHANNELS}`,
        field: "force",
      });
    }
    await audit("forced", `--force, allowed by ${policy.source}`);
    return "forced";
  }
  if (active.parsed === undefined) {
    await audit("denied", `unreadable PIN hash in ${active.origin}`);
    throw damagedHashError(active);
  }
  let until: Date | null;
  try {
    until = lockedUntil(pinCtx);
  } catch (e) {
    if (e instanceof DeniedError) await audit("denied", e.message);
    throw e;
  }
  if (until !== null) {
    await audit("locked", `refused during lockout until ${until.toISOString()}`);
    throw lockedError(until, ctx);
  }
  const what = describeAction(action, target);
  const ask = async (message: string): Promise<string> => {
    try {
      return await ctx.prompt!(message);
    } catch (e) {
      if (e instanceof ExpflowError) await audit("denied", `PIN entry ended: ${e.message}`);
      throw e;
    }
  };
  let fromPrompt = false;
  let pin = obtainPin(options, ctx) ?? (await pinStdinOrEnv(options, ctx));
  if (pin === undefined && ctx.prompt !== undefined) {
    fromPrompt = true;
    pin = await ask(`PIN to ${what}:`);
  }
  if (pin === undefined) {
    await audit("denied", "no PIN supplied");
    throw new DeniedError("E_PIN_REQUIRED", `a PIN is required to ${what} (${action}), and none was supplied`, { hint: `supply it with ${CHANNELS}` });
  }
  for (let asked = 1; ; asked++) {
    if (!isValidPin(pin)) {
      await audit("denied", "malformed PIN supplied");
      throw new UsageError("E_PIN_FORMAT", `invalid PIN: ${PIN_RULE}`);
    }
    const result = await verifyPin(pin, pinCtx);
    if (result.ok) {
      await audit("allowed", result.upgraded ? "PIN verified; weaker hash upgraded" : "PIN verified");
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
    const left = `${result.triesLeft} ${result.triesLeft === 1 ? "try" : "tries"} left before the PIN is locked for ${humanDuration(LOCKOUT_BASE_MS)}`;
    if (!fromPrompt || asked >= PROMPT_ATTEMPTS) throw new DeniedError("E_PIN_WRONG", `wrong PIN (${left})`);
    pin = await ask(`Wrong PIN (${left}). PIN to ${what}:`);
  }
}

/** `--pin`, with its warning. */
function obtainPin(options: GuardOptions, ctx: GuardContext): string | undefined {
  if (options.pin === undefined) return undefined;
  ctx.warn("--pin makes the PIN visible in the process list and shell history; prefer --pin-stdin or EXPFLOW_PIN");
  return options.pin;
}

/** `--pin-stdin` (one line), else `EXPFLOW_PIN`. */
async function pinStdinOrEnv(options: GuardOptions, ctx: GuardContext): Promise<string | undefined> {
  if (options.pinStdin) return (await ctx.readStdinLine()).replace(/\r?\n$/, "");
  const env = ctx.env["EXPFLOW_PIN"];
  return env !== undefined && env !== "" ? env : undefined;
}

/** Binds a registry to the PIN file of `home` (its sidecar, and the PIN file's list). */
async function bind(ctx: GuardContext, home: string): Promise<void> {
  const registry = ctx.registry!;
  try {
    bindRegistry(registry, home, ctx);
    const real = realRegistryPath(registry);
    await updatePinMeta(home, (m) => (m.registries.includes(real) ? m : { ...m, registries: [...m.registries, real] }));
  } catch (e) {
    ctx.warn(`could not record that ${registry} is protected by ${join(home, PIN_FILE)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it stays protected only for this EXPFLOW_HOME`);
  }
}

function lockedError(until: Date, ctx: GuardContext): DeniedError {
  return new DeniedError(
    "E_PIN_LOCKED",
    `the PIN is locked after too many wrong attempts: try again in ${humanDuration(until.getTime() - ctx.now().getTime())} (at ${until.toISOString()})`,
  );
}
