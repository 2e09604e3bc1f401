/** The definitions of `expflow registry ...`; the implementations are in `commands/registry.ts`. */
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { guardedOptions, jsonOption, registryOption } from "./options.js";

function declareRegistry(program: Command) {
  return program.command("registry").description("the local registry file");
}

type Registry = ReturnType<typeof declareRegistry>;

function declareCheck(registry: Registry) {
  return registryOption(jsonOption(registry.command("check").description("count records, list damaged lines: exit 0 healthy, 1 damaged")));
}

function declareCompact(registry: Registry) {
  return guardedOptions(registryOption(registry.command("compact").description("rewrite with only the latest snapshot of each run (protected)")));
}

/** The options of `expflow registry check`. */
export type RegistryCheckOptions = OptionsOf<ReturnType<typeof declareCheck>>;
/** The options of `expflow registry compact`. */
export type RegistryCompactOptions = OptionsOf<ReturnType<typeof declareCompact>>;

/** Adds `expflow registry` (check, compact) to `program`. */
export function defineRegistry(program: Command, ctx: CommandContext, setExit: SetExit): void {
  const registry = declareRegistry(program);
  declareCheck(registry).action(async (opts) => {
    const { registryCheckCommand } = await import("../commands/registry.js");
    setExit(await registryCheckCommand(opts, ctx));
  });
  declareCompact(registry).action(async (opts) => {
    const { registryCompactCommand } = await import("../commands/registry.js");
    setExit(await registryCompactCommand(opts, ctx));
  });
}
