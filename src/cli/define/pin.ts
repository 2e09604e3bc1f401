/** The definitions of `expflow pin ...`; the implementations are in `commands/pin.ts`. */
import { Option } from "@commander-js/extra-typings";
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { forceOption, jsonOption, pinChannelOptions, registryOption } from "./options.js";

function declarePin(program: Command) {
  return program.command("pin").description("the PIN that protects destructive actions");
}

type Pin = ReturnType<typeof declarePin>;

function declareInit(pin: Pin) {
  const cmd = pin
    .command("init")
    .description("set the PIN (changing an existing one needs the current PIN)")
    .argument("[PIN]", "the new PIN, 4 to 12 digits (visible in the process list: prefer --new-pin-stdin or the prompt)")
    .option("--new-pin-stdin", "read the new PIN from standard input (after the current one, with --pin-stdin)");
  const withForce = forceOption(pinChannelOptions(cmd, "the current PIN", "the first line"), "change without the current PIN, only where the PIN owner allowed it");
  return registryOption(withForce, "the registry the PIN protects (default: $EXPFLOW_HOME/experiments.jsonl, or as configured)");
}

function declareCheck(pin: Pin) {
  return pinChannelOptions(pin.command("check").description("check a PIN: exit 0 right (or no PIN set), 3 wrong, locked or not supplied"));
}

function declareClear(pin: Pin) {
  const cmd = pinChannelOptions(pin.command("clear").description("remove the PIN and the protection of its registries (needs the current PIN)"), "the current PIN");
  return forceOption(cmd, "clear without the PIN, only where the PIN owner allowed it");
}

function declarePolicy(pin: Pin) {
  const cmd = pin
    .command("policy")
    .description("show or change whether --force may stand in for the PIN (allowing it needs the PIN)")
    .addOption(new Option("--allow-force", "let --force stand in for the PIN (asks the PIN; logged)"))
    .addOption(new Option("--no-allow-force", "forbid --force again (logged)"));
  return jsonOption(pinChannelOptions(cmd));
}

function declareStatus(pin: Pin) {
  return jsonOption(pin.command("status").description("whether a PIN is active, where its hash comes from, its format and any lockout"));
}

/** The options of `expflow pin init`. */
export type PinInitOptions = OptionsOf<ReturnType<typeof declareInit>>;
/** The options of `expflow pin check`. */
export type PinCheckOptions = OptionsOf<ReturnType<typeof declareCheck>>;
/** The options of `expflow pin clear`. */
export type PinClearOptions = OptionsOf<ReturnType<typeof declareClear>>;
/** The options of `expflow pin policy` (`allowForce` is absent when neither flag is given). */
export type PinPolicyOptions = OptionsOf<ReturnType<typeof declarePolicy>>;
/** The options of `expflow pin status`. */
export type PinStatusOptions = OptionsOf<ReturnType<typeof declareStatus>>;

/** Adds `expflow pin` (init, check, clear, policy, status) to `program`. */
export function definePin(program: Command, ctx: CommandContext, setExit: SetExit): void {
  const pin = declarePin(program);
  declareInit(pin).action(async (newPin, opts) => {
    const { pinInitCommand } = await import("../commands/pin.js");
    setExit(await pinInitCommand(newPin, opts, ctx));
  });
  declareCheck(pin).action(async (opts) => {
    const { pinCheckCommand } = await import("../commands/pin.js");
    setExit(await pinCheckCommand(opts, ctx));
  });
  declareClear(pin).action(async (opts) => {
    const { pinClearCommand } = await import("../commands/pin.js");
    setExit(await pinClearCommand(opts, ctx));
  });
  declarePolicy(pin).action(async (opts) => {
    const { pinPolicyCommand } = await import("../commands/pin.js");
    setExit(await pinPolicyCommand(opts, ctx));
  });
  declareStatus(pin).action(async (opts) => {
    const { pinStatusCommand } = await import("../commands/pin.js");
    setExit(await pinStatusCommand(opts, ctx));
  });
}
