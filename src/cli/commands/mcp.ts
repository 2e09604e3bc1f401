import type { CommandContext } from "../context.js";
import type { McpCommandOptions } from "../define/mcp.js";

/**
 * `expflow mcp`: serves the MCP server over stdio until the client closes the connection
 * (`src/mcp/server.ts`), with the tools `--tools` names (all by default; `--read-only`: the read
 * tools only). Returns 0 once the connection is closed.
 *
 * @throws {UsageError} `E_UNKNOWN_TOOL` (exit 2) for a `--tools` name that is not a tool, before
 *   anything is served.
 */
export async function mcpCommand(flags: McpCommandOptions, ctx: CommandContext): Promise<number> {
  const { selectTools, serveStdio } = await import("../../mcp/server.js");
  const selection = { tools: flags.tools, readOnly: flags.readOnly === true };
  selectTools(selection);
  await serveStdio(
    {
      env: ctx.io.env,
      cwd: ctx.io.cwd,
      registry: flags.registry,
      approvalTtlMs: Math.round(flags.approvalTtl * 60_000),
      now: () => new Date(),
      warn: ctx.warn,
    },
    selection,
  );
  return 0;
}
