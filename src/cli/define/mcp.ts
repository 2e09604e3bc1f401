/** The definition of `expflow mcp`; the implementation is `commands/mcp.ts` (the SDK is loaded only there). */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { commaList, registryOption } from "./options.js";

/**
 * The longest `--approval-ttl`, in minutes: 24 hours, `MAX_APPROVAL_TTL_MS` of `app/approvals.ts`
 * (not imported: the definitions load without the approvals module; a test keeps them equal).
 */
export const MAX_APPROVAL_TTL_MINUTES = 1440;

/**
 * `--approval-ttl`: minutes, a number above 0 (at least a millisecond; `0.5` is 30 s) and at most
 * {@link MAX_APPROVAL_TTL_MINUTES}.
 *
 * @throws {InvalidArgumentError} anything else (exit 2).
 */
export function positiveMinutes(value: string): number {
  const n = Number(value.trim());
  if (value.trim() === "" || !Number.isFinite(n) || Math.round(n * 60_000) < 1 || n > MAX_APPROVAL_TTL_MINUTES) {
    throw new InvalidArgumentError(`expected minutes, a number above 0 and at most ${MAX_APPROVAL_TTL_MINUTES} (24 hours), got '${value}'.`);
  }
  return n;
}

function declareMcp(program: Command) {
  const cmd = program
    .command("mcp")
    .description("serve expflow's tools to AI agents over MCP (stdio); it never performs a destructive action")
    .option("--tools <a,b>", "expose only these tools (names as the tool list has them)", commaList)
    .option("--read-only", "expose only the read tools (approval_status included; no writes, no approval requests)")
    .option("--approval-ttl <minutes>", "how long an approval request stays pending, up to 1440", positiveMinutes, 15);
  return registryOption(cmd).addHelpText(
    "after",
    `
Configure a client (e.g. a "mcpServers" block) with {"command": "npx", "args": ["expflow", "mcp"]}.
Standard output carries only the protocol; warnings go to standard error.

The server never cancels, archives, restores, deletes, compacts the registry or changes the
PIN or its policy. Those tools (cancel_run, archive_run, restore_run, delete_run,
compact_registry, pin_clear, pin_policy, pin_change) check the request as the command would,
then return a pending approval request: a human runs \`expflow approvals\` to see it,
\`expflow approve ID\` to perform it (the PIN typed there) or \`expflow deny ID\`; the agent
follows it with approval_status. A request expires after --approval-ttl minutes.
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
