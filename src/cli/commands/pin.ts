import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { PinPolicyJson, PinStatusJson } from "../../contracts/security.js";
import { ExpflowError, UsageError, ValidationError } from "../../core/errors.js";
import type { AuditOutcome } from "../../security/audit-log.js";
import { appendAudit } from "../../security/audit-log.js";
import type { GuardContext } from "../../security/guard.js";
import { forcePolicy, guard } from "../../security/guard.js";
import { PIN_FILE, readPinFile } from "../../security/pin-file.js";
import { activePin, clearPin, initPin, pinStatus, updatePinMeta } from "../../security/pin.js";
import { assertValidPin, offlineGuessMs } from "../../security/pin-hash.js";
import { bindRegistry, readProtection, realHome, realRegistryPath, unbindRegistry } from "../../security/protection.js";
import type { CommandContext } from "../context.js";
import type { PinCheckOptions, PinClearOptions, PinInitOptions, PinPolicyOptions, PinStatusOptions } from "../define/pin.js";
import { guardContext, LineReader } from "../security.js";

/** Records how an operation on the protection itself ended; never hides the error it reports. */
function recorder(g: GuardContext, action: string, target: string): (outcome: AuditOutcome, detail: string) => Promise<void> {
  return async (outcome, detail) => {
    await appendAudit(g.home, { action, target, outcome, detail }, g);
  };
}

/** Runs `op`; a failure is recorded (with its reason) before it is rethrown. */
async function recorded<T>(record: (outcome: AuditOutcome, detail: string) => Promise<void>, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    const reason = e instanceof ExpflowError ? `${e.code}: ${e.message}` : (e as Error).message;
    await record("failed", reason).catch(() => {});
    throw e;
  }
}

/**
 * The offline-guessing note `pin init` prints once: how long trying every PIN of this length
 * takes against a copied `pin.hash` (no lockout applies there), measured by this very hash.
 */
export function offlineNote(digits: number, hashMs: number): string {
  const all = roughDuration(offlineGuessMs(digits, hashMs));
  const base = `Trying every ${digits}-digit PIN against a copy of ${PIN_FILE} takes about ${all} on one core of this machine (${Math.round(hashMs)} ms a guess; the lockout does not apply offline).`;
  return digits < 6 ? `${base} Use 6 or more digits: 6 take about ${roughDuration(offlineGuessMs(6, hashMs))}, 8 about ${roughDuration(offlineGuessMs(8, hashMs))}.` : base;
}

/** "40 s", "21 min", "3.5 h", "1.4 days", "5 months", "40 years": the order of magnitude that matters. */
export function roughDuration(ms: number): string {
  const s = ms / 1000;
  const round = (x: number): string => (x < 10 ? x.toFixed(1).replace(/\.0$/, "") : String(Math.round(x)));
  if (s < 90) return `${round(s)} s`;
  if (s < 90 * 60) return `${round(s / 60)} min`;
  if (s < 36 * 3600) return `${round(s / 3600)} h`;
  if (s < 60 * 86400) return `${round(s / 86400)} days`;
  if (s < 2 * 365 * 86400) return `${round(s / (30.4 * 86400))} months`;
  return `${round(s / (365 * 86400))} years`;
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

/** `expflow pin init [PIN]`: set the PIN; changing an existing one needs the current PIN. */
export async function pinInitCommand(newPin: string | undefined, flags: PinInitOptions, ctx: CommandContext): Promise<number> {
  const lines = new LineReader(ctx.io.stdin);
  const config = await ctx.config({ registry: flags.registry });
  const g = await guardContext(ctx, lines);
  const existing = await activePin(g);
  const action = existing === undefined ? "pin.init" : "pin.change";
  const record = recorder(g, action, "pin");
  if (newPin !== undefined) {
    await recorded(record, async () => assertValidPin(newPin));
    ctx.warn("a PIN given as an argument is visible in the process list and shell history; prefer --new-pin-stdin or the prompt");
  }
  // Changing the PIN is destructive for whoever relies on the old one: it goes through the guard.
  // Setting a first PIN weakens nothing, so it needs none.
  if (existing !== undefined) await guard("pin.change", "pin", flags, g);
  const { pin, hashMs } = await recorded(record, async () => {
    let pin = newPin;
    if (pin === undefined && flags.newPinStdin) {
      // With --pin-stdin too, the current PIN is the first line and the new one the second.
      pin = await lines.next();
      assertValidPin(pin);
    }
    if (pin === undefined) {
      if (g.prompt === undefined) {
        throw new UsageError("E_PIN_NEW_REQUIRED", "no new PIN given", {
          hint: "give it as an argument (`expflow pin init 123456`), on standard input with --new-pin-stdin, or run on a terminal to be asked",
        });
      }
      pin = await g.prompt("New PIN (4 to 12 digits; 6 or more recommended):");
      assertValidPin(pin);
      const again = await g.prompt("Repeat the new PIN:");
      if (again !== pin) throw new UsageError("E_PIN_MISMATCH", "the two PINs differ; nothing was changed");
    }
    const { hashMs } = await initPin(pin, g);
    return { pin, hashMs };
  });
  let note: string | undefined;
  try {
    note = await bindConfigured(config.registry.value, g);
  } catch (e) {
    note = `could not bind ${config.registry.value} to this PIN (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it is bound at its first protected action`;
  }
  await record("done", `${existing === undefined ? "PIN set" : "PIN changed"} (${pin.length} digits); protects ${config.registry.value}`);
  ctx.io.stdout.write(`${existing === undefined ? "PIN set" : "PIN changed"}: it protects ${realRegistryPath(config.registry.value)} from any EXPFLOW_HOME.\n${offlineNote(pin.length, hashMs)}\n`);
  if (note !== undefined) ctx.warn(note);
  if (existing !== undefined && existing.source !== "file") {
    ctx.warn(`the new PIN in ${g.home}/pin.hash now takes precedence over the hash from ${existing.origin}; remove that one`);
  }
  return 0;
}

/** `expflow pin check`: exit 0 when the PIN is right (or none is set), 3 otherwise. */
export async function pinCheckCommand(flags: PinCheckOptions, ctx: CommandContext): Promise<number> {
  const g = await guardContext(ctx);
  const outcome = await guard("pin.check", "pin", { pin: flags.pin, pinStdin: flags.pinStdin }, g);
  ctx.io.stdout.write(outcome === "no-pin" ? "No PIN is set: protected actions proceed without one.\n" : "PIN correct.\n");
  return 0;
}

/** `expflow pin clear [--force]`: remove the PIN and the protection of its registries, through the guard. */
export async function pinClearCommand(flags: PinClearOptions, ctx: CommandContext): Promise<number> {
  const g = await guardContext(ctx);
  const active = await activePin(g);
  if (active === undefined) {
    ctx.io.stdout.write("No PIN is set: nothing to clear.\n");
    return 0;
  }
  if (active.source !== "file") {
    throw new UsageError("E_PIN_NOT_CLEARABLE", `the active PIN hash comes from ${active.origin}, which expflow does not edit`, {
      hint: active.source === "env" ? "unset EXPFLOW_PIN_HASH (or remove it from .env)" : `remove pin.hash from ${active.origin}`,
    });
  }
  await guard("pin.clear", "pin", flags, g);
  const record = recorder(g, "pin.clear", "pin");
  const { stillActive, unbound } = await recorded(record, async () => {
    const { registries, stillActive } = await clearPin(g);
    const unbound = registries.filter((r) => unbindRegistry(r, g.home));
    return { stillActive, unbound };
  });
  await record("done", `PIN cleared; protection removed from ${unbound.length} ${unbound.length === 1 ? "registry" : "registries"}${unbound.length ? `: ${unbound.join(", ")}` : ""}`);
  ctx.io.stdout.write(`PIN cleared.${unbound.length ? ` No longer protected: ${unbound.join(", ")}.` : ""}\n`);
  if (stillActive !== undefined) ctx.warn(`a PIN hash stays active from ${stillActive.origin}: protected actions still need that PIN`);
  return 0;
}

/** `expflow pin status [--json]`. */
export async function pinStatusCommand(flags: PinStatusOptions, ctx: CommandContext): Promise<number> {
  const g = await guardContext(ctx);
  const status: PinStatusJson = await pinStatus(g);
  if (flags.json) {
    ctx.io.stdout.write(`${JSON.stringify(status)}\n`);
    return 0;
  }
  const c = ctx.colors;
  const lines = [
    `${c.bold("active")}        ${status.active ? "yes" : "no"}`,
    `${c.bold("source")}        ${status.source}`,
    `${c.bold("format")}        ${status.format ?? "-"}${status.format === "sha256-legacy" ? " (unsalted; upgraded at the next successful check)" : ""}`,
    `${c.bold("locked until")}  ${status.locked_until ?? "-"}`,
  ];
  ctx.io.stdout.write(`${lines.join("\n")}\n`);
  return 0;
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
    meta = undefined; // unreadable: fails closed, so no --force
  }
  const p = forcePolicy(meta, pinFile, forbiddenBy);
  return { allow_force: p.value, source: p.source, owner_allows_force: meta?.allow_force === true, forbidden_by: forbiddenBy ?? null };
}

/**
 * `expflow pin policy [--allow-force | --no-allow-force] [--json]`: show the force policy, or
 * change it. Allowing `--force` weakens the protection: it needs the PIN (never `--force`
 * itself). Forbidding it needs none. Both are recorded.
 */
export async function pinPolicyCommand(flags: PinPolicyOptions, ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const g = await guardContext(ctx);
  if (flags.allowForce !== undefined) {
    const active = await activePin(g);
    if (active === undefined || active.source !== "file") {
      throw new ValidationError("E_NO_PIN", active === undefined ? "no PIN is set: every protected action proceeds without one, so there is no policy to change" : `the PIN hash comes from ${active.origin}; the force policy lives in a PIN file`, {
        hint: "set a PIN with `expflow pin init` first",
      });
    }
    const target = `allow_force=${flags.allowForce}`;
    if (flags.allowForce) await guard("pin.policy", target, { pin: flags.pin, pinStdin: flags.pinStdin }, g);
    const record = recorder(g, "pin.policy", target);
    await recorded(record, () => updatePinMeta(g.home, (m) => ({ ...m, allow_force: flags.allowForce!, policy_changed: { time: g.now().toISOString(), by: `${g.user}@${g.host}` } })));
    await record("done", flags.allowForce ? "--force may now stand in for the PIN" : "--force no longer stands in for the PIN");
    if (!flags.json) ctx.io.stdout.write(flags.allowForce ? "--force is now allowed in place of the PIN (each use is logged).\n" : "--force is no longer allowed in place of the PIN.\n");
    if (flags.allowForce && config.forceForbiddenBy !== undefined) ctx.warn(`pin.allow_force: false in ${config.forceForbiddenBy} still forbids --force here`);
  }
  const view = policyOf(g.home, config.forceForbiddenBy);
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify(view)}\n`);
  else if (flags.allowForce === undefined) ctx.io.stdout.write(`--force ${view.allow_force ? "allowed" : "not allowed"} in place of the PIN  (from ${view.source})\n`);
  return 0;
}
