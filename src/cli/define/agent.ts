/** The definition of `expflow agent`; the implementation is `commands/agent.ts`. */
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { positiveInt, registryOption } from "./options.js";

function declareAgent(program: Command) {
  const cmd = program
    .command("agent")
    .description("the local runner: take queued runs first-in first-out and run them")
    .option("--queue <queue>", "the queue to serve", "default")
    .option("--once", "drain what is queued, then exit")
    .option("--concurrency <n>", "runs at once", positiveInt, 1)
    .option("--allow-pin-env", "start even while EXPFLOW_PIN is set (its runs can read it from /proc)");
  return registryOption(cmd);
}

/** The options of `expflow agent`. */
export type AgentOptions = OptionsOf<ReturnType<typeof declareAgent>>;

/** Adds `expflow agent` to `program`. */
export function defineAgent(program: Command, ctx: CommandContext, setExit: SetExit): void {
  declareAgent(program).action(async (opts) => {
    const { agentCommand } = await import("../commands/agent.js");
    setExit(await agentCommand(opts, ctx));
  });
}
