/** The definition of `expflow mcp`; the implementation is `commands/mcp.ts` (the SDK is loaded only there). */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { commaList, registryOption } from "./options.js";

/** `--approval-ttl`: minutes, a positive number (`0.5` is 30 s). @throws {InvalidArgumentError} anything else. */
export function positiveMinutes(value: string): number {
  const n = Number(value.trim());
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || n > 10_080) throw new InvalidArgumentError(`expected minutes, a number above 0 and at most 10080 (a week), got '${value}'.`);
  return n;
}

function declareMcp(program: Command) {
  const cmd = program
    .command("mcp")
    .description("serve expflow's tools to AI agents over MCP (stdio); it never performs a destructive action")
    .option("--tools <a,b>", "expose only these tools (names as the tool list has them)", commaList)
    .option("--read-only", "expose only the read tools")
    .option("--approval-ttl <minutes>", "how long an approval request stays pending", positiveMinutes, 15);
  return registryOption(cmd).addHelpText(
    "after",
    `
Configure a client (e.g. a "mcpServers" block) with {"command": "npx", "args": ["expflow", "mcp"]}.
Standard output carries only the protocol; warnings go to standard error. Cancel, archive,
restore, delete, registry compact and PIN changes are never performed by the server.
A PIN passed in any tool argument is refused and logged.`,
  );
}

/** The options of `expflow mcp`. */
export type McpCommandOptions = OptionsOf<ReturnType<typeof declareMcp>>;

/** Adds `expflow mcp` to `program`. */
export function defineMcp(program: Command, ctx: CommandContext, setExit: SetExit): void {
  declareMcp(program).action(async (opts) => {
    const { mcpCommand } = await import("../commands/mcp.js");
    setExit(await mcpCommand(opts, ctx));
  });
}
