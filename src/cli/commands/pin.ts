import { UsageError } from "../../core/errors.js";
import type { GuardOptions } from "../../security/guard.js";
import { guard } from "../../security/guard.js";
import { activePin, clearPin, initPin, pinStatus } from "../../security/pin.js";
import { assertValidPin } from "../../security/pin-hash.js";
import type { CommandContext } from "../context.js";
import { guardContext, LineReader } from "../security.js";

/** `expflow pin init [PIN]`: set the PIN; changing an existing one needs the current PIN. */
export async function pinInitCommand(newPin: string | undefined, flags: GuardOptions & { newPinStdin?: boolean }, ctx: CommandContext): Promise<number> {
  const lines = new LineReader(ctx.io.stdin);
  const g = await guardContext(ctx, lines);
  if (newPin !== undefined) {
    assertValidPin(newPin);
    ctx.warn("a PIN given as an argument is visible in the process list and shell history; prefer --new-pin-stdin or the prompt");
  }
  const existing = await activePin(g);
  // Changing the PIN is destructive for whoever relies on the old one: it goes through the guard.
  await guard(existing === undefined ? "pin.init" : "pin.change", "pin", flags, g);
  let pin = newPin;
  if (pin === undefined && flags.newPinStdin) {
    // With --pin-stdin too, the current PIN is the first line and the new one the second.
    pin = await lines.next();
    assertValidPin(pin);
  }
  if (pin === undefined) {
    if (g.prompt === undefined) {
      throw new UsageError("E_PIN_NEW_REQUIRED", "no new PIN given", {
        hint: "give it as an argument (`expflow pin init 1234`), on standard input with --new-pin-stdin, or run on a terminal to be asked",
      });
    }
    pin = await g.prompt("New PIN (4 digits):");
    assertValidPin(pin);
    const again = await g.prompt("Repeat the new PIN:");
    if (again !== pin) throw new UsageError("E_PIN_MISMATCH", "the two PINs differ; nothing was changed");
  }
  await initPin(pin, g);
  ctx.io.stdout.write(existing === undefined ? "PIN set.\n" : "PIN changed.\n");
  if (existing !== undefined && existing.source !== "file") {
    ctx.warn(`the new PIN in ${g.home}/pin.hash now takes precedence over the hash from ${existing.origin}; remove that one`);
  }
  return 0;
}

/** `expflow pin check`: exit 0 when the PIN is right (or none is set), 3 otherwise. */
export async function pinCheckCommand(flags: GuardOptions, ctx: CommandContext): Promise<number> {
  const g = await guardContext(ctx);
  const outcome = await guard("pin.check", "pin", { pin: flags.pin, pinStdin: flags.pinStdin }, g);
  ctx.io.stdout.write(outcome === "no-pin" ? "No PIN is set: protected actions proceed without one.\n" : "PIN correct.\n");
  return 0;
}

/** `expflow pin clear [--force]`: remove the PIN, through the guard. */
export async function pinClearCommand(flags: GuardOptions, ctx: CommandContext): Promise<number> {
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
  const { stillActive } = await clearPin(g);
  ctx.io.stdout.write("PIN cleared.\n");
  if (stillActive !== undefined) ctx.warn(`a PIN hash stays active from ${stillActive.origin}: protected actions still need that PIN`);
  return 0;
}

/** `expflow pin status [--json]`. */
export async function pinStatusCommand(flags: { json?: boolean }, ctx: CommandContext): Promise<number> {
  const g = await guardContext(ctx);
  const status = await pinStatus(g);
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
