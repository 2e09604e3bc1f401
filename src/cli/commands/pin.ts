import type { PinStatusJson } from "../../contracts/security.js";
import type { PinChanged, PinRemoved } from "../../app/pin.js";
import { changeForcePolicy, changePin, policyOf, removePin } from "../../app/pin.js";
import { UsageError } from "../../core/errors.js";
import type { GuardContext } from "../../security/guard.js";
import { guard } from "../../security/guard.js";
import { pinStatus } from "../../security/pin.js";
import { assertValidPin, offlineGuessMs } from "../../security/pin-hash.js";
import { PIN_FILE } from "../../security/pin-file.js";
import { realRegistryPath } from "../../security/protection.js";
import type { CommandContext } from "../context.js";
import type { PinCheckOptions, PinClearOptions, PinInitOptions, PinPolicyOptions, PinStatusOptions } from "../define/pin.js";
import { guardContext, LineReader } from "../security.js";

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

/** How `pin init` says where the new PIN can come from. */
const NEW_PIN_HINT = "give it as an argument (`expflow pin init 123456`), on standard input with --new-pin-stdin, or run on a terminal to be asked";

/**
 * The new PIN of `pin init` (and of an approved `pin.change`) when none was given as an
 * argument: with `--new-pin-stdin` the next line of standard input (after the current PIN, with
 * `--pin-stdin`), else a prompt on a terminal, asked twice.
 *
 * @throws {UsageError} `E_PIN_NEW_REQUIRED` without either (with `hint`); `E_PIN_MISMATCH`; `E_PIN_FORMAT`.
 */
export function newPinSource(g: GuardContext, lines: LineReader, fromStdin: boolean | undefined, hint = NEW_PIN_HINT): () => Promise<string> {
  return async () => {
    if (fromStdin) return lines.next();
    if (g.prompt === undefined) throw new UsageError("E_PIN_NEW_REQUIRED", "no new PIN given", { hint });
    const pin = await g.prompt("New PIN (4 to 12 digits; 6 or more recommended):");
    assertValidPin(pin);
    const again = await g.prompt("Repeat the new PIN:");
    if (again !== pin) throw new UsageError("E_PIN_MISMATCH", "the two PINs differ; nothing was changed");
    return pin;
  };
}

/** What the terminal is told: the message (standard output), then the warnings. */
export interface Report {
  readonly message: string;
  readonly warnings: readonly string[];
}

/** What `pin init` (and an approved `pin.change`) says once the PIN is set. */
export function pinChangedReport(changed: PinChanged, registry: string, home: string): Report {
  const warnings: string[] = [];
  if (changed.note !== undefined) warnings.push(changed.note);
  if (changed.replaced !== undefined) warnings.push(`the new PIN in ${home}/pin.hash now takes precedence over the hash from ${changed.replaced.origin}; remove that one`);
  const what = changed.action === "pin.init" ? "PIN set" : "PIN changed";
  return { message: `${what}: it protects ${realRegistryPath(registry)} from any EXPFLOW_HOME.\n${offlineNote(changed.digits, changed.hashMs)}`, warnings };
}

/** `expflow pin init [PIN]`: set the PIN; changing an existing one needs the current PIN. */
export async function pinInitCommand(newPin: string | undefined, flags: PinInitOptions, ctx: CommandContext): Promise<number> {
  const lines = new LineReader(ctx.io.stdin);
  const config = await ctx.config({ registry: flags.registry });
  const g = await guardContext(ctx, lines);
  const changed = await changePin(g, {
    guard: flags,
    registry: config.registry.value,
    given: newPin,
    onGiven: () => ctx.warn("a PIN given as an argument is visible in the process list and shell history; prefer --new-pin-stdin or the prompt"),
    obtain: newPinSource(g, lines, flags.newPinStdin),
  });
  tell(pinChangedReport(changed, config.registry.value, g.home), ctx);
  return 0;
}

/** Writes a report: its message on standard output, then its warnings. */
export function tell(report: Report, ctx: CommandContext): void {
  ctx.io.stdout.write(`${report.message}\n`);
  for (const w of report.warnings) ctx.warn(w);
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
  tell(pinClearedReport(await removePin(g, flags)), ctx);
  return 0;
}

/** What `pin clear` (and an approved `pin.clear`) says. */
export function pinClearedReport(done: PinRemoved): Report {
  if (!done.cleared) return { message: "No PIN is set: nothing to clear.", warnings: [] };
  return {
    message: `PIN cleared.${done.unbound.length ? ` No longer protected: ${done.unbound.join(", ")}.` : ""}`,
    warnings: done.stillActive === undefined ? [] : [`a PIN hash stays active from ${done.stillActive.origin}: protected actions still need that PIN`],
  };
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

/**
 * `expflow pin policy [--allow-force | --no-allow-force] [--json]`: show the force policy, or
 * change it. Allowing `--force` weakens the protection: it needs the PIN (never `--force`
 * itself). Forbidding it needs none. Both are recorded.
 */
export async function pinPolicyCommand(flags: PinPolicyOptions, ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const g = await guardContext(ctx);
  if (flags.allowForce !== undefined) {
    await changeForcePolicy(g, flags.allowForce, { pin: flags.pin, pinStdin: flags.pinStdin });
    if (!flags.json) ctx.io.stdout.write(`${policyChangedMessage(flags.allowForce)}\n`);
    if (flags.allowForce && config.forceForbiddenBy !== undefined) ctx.warn(`pin.allow_force: false in ${config.forceForbiddenBy} still forbids --force here`);
  }
  const view = policyOf(g.home, config.forceForbiddenBy);
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify(view)}\n`);
  else if (flags.allowForce === undefined) ctx.io.stdout.write(`--force ${view.allow_force ? "allowed" : "not allowed"} in place of the PIN  (from ${view.source})\n`);
  return 0;
}

/** What `pin policy --allow-force|--no-allow-force` (and an approved `pin.policy`) says. */
export function policyChangedMessage(allow: boolean): string {
  return allow ? "--force is now allowed in place of the PIN (each use is logged)." : "--force is no longer allowed in place of the PIN.";
}
