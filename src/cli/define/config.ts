/** The definition of `expflow config show`; the implementation is `commands/config.ts`. */
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { jsonOption } from "./options.js";

function declareConfig(program: Command) {
  return program.command("config").description("the layered configuration");
}

function declareShow(config: ReturnType<typeof declareConfig>) {
  return jsonOption(config.command("show").description("show the effective configuration and where each setting comes from"));
}

/** The options of `expflow config show`. */
export type ConfigShowOptions = OptionsOf<ReturnType<typeof declareShow>>;

/** Adds `expflow config` (show) to `program`. */
export function defineConfig(program: Command, ctx: CommandContext, setExit: SetExit): void {
  declareShow(declareConfig(program)).action(async (opts) => {
    const { configShowCommand } = await import("../commands/config.js");
    setExit(await configShowCommand(opts, ctx));
  });
}
