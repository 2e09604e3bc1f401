import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { ErrorJson } from "../contracts/error.js";
import { ExpflowError, UsageError } from "../core/errors.js";
import { appendAudit } from "../security/audit-log.js";
import type { McpOptions } from "./context.js";
import { toolContext } from "./context.js";
import type { GateDecision } from "./gate.js";
import { GatedTransport, pinKeys } from "./gate.js";
import { registerPrompts } from "./prompts.js";
import { registerResources } from "./resources.js";
import type { ToolDefinition } from "./tools.js";
import { ALL_TOOLS } from "./catalog.js";

/** The server's name in the initialize handshake. */
export const SERVER_NAME = "expflow";

/** Which tools a server exposes. */
export interface ToolSelection {
  /** Only these tools (names as listed by {@link ALL_TOOLS}); default: all. */
  readonly tools?: readonly string[];
  /** Only the read tools. */
  readonly readOnly?: boolean;
}

/**
 * The tools a selection exposes, in the order of {@link ALL_TOOLS}.
 *
 * @throws {UsageError} `E_UNKNOWN_TOOL` (exit 2) for a name that is not a tool, listing them.
 */
export function selectTools(selection: ToolSelection): ToolDefinition[] {
  const names = ALL_TOOLS.map((t) => t.name);
  for (const name of selection.tools ?? []) {
    if (!names.includes(name)) throw new UsageError("E_UNKNOWN_TOOL", `unknown tool '${name}' in tools`, { hint: `tools: ${names.join(", ")}`, field: "tools", value: name });
  }
  return ALL_TOOLS.filter((t) => (selection.tools === undefined || selection.tools.includes(t.name)) && (selection.readOnly !== true || t.kind === "read"));
}

/** The contract's error of anything a tool threw: an expflow error as it is, anything else a bug, said without its stack. */
export function errorJson(e: unknown): ErrorJson {
  if (e instanceof ExpflowError) return { code: e.code, message: e.message, hint: e.hint ?? null };
  return { code: "E_INTERNAL", message: e instanceof Error && e.message !== "" ? e.message : String(e), hint: "a bug in expflow; please report it with this message" };
}

/** A tool error (`isError`) carrying `{"error": {code, message, hint}}` (`ErrorOutputSchema`) as its text. */
export function toolError(error: ErrorJson): CallToolResult {
  return { isError: true, content: [{ type: "text", text: JSON.stringify({ error }) }] };
}

function textOf(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * Builds the MCP server of expflow: the selected tools (each calling the application layer and
 * returning its command's `--json` contract as structured content), the resources and the
 * prompts; and the gate that refuses a PIN in any tool's arguments and checks the arguments
 * against the tool's strict schema before anything runs.
 */
export function createServer(options: McpOptions, selection: ToolSelection = {}): { server: McpServer; gate: (name: string, args: unknown) => Promise<GateDecision> } {
  const tools = selectTools(selection);
  const server = new McpServer(
    { name: SERVER_NAME, version: __EXPFLOW_VERSION__ },
    {
      capabilities: { tools: {}, resources: {}, prompts: {} },
      instructions:
        "expflow: governance for ML experiment workflows. Read tools list, rank, diff and audit experiments; write tools submit runs, report metrics and retry. Destructive tools (cancel, archive, restore, delete, compact, PIN changes) never act: they return a pending approval request that a human approves with `expflow approve ID` and the PIN; follow it with approval_status. Never pass a PIN to any tool.",
    },
  );
  const client = (): string => {
    const info = server.server.getClientVersion();
    // The client names itself: data of any length, cut before it reaches a request or the audit log.
    return info === undefined ? "unknown client" : `${String(info.name).slice(0, 100)}/${String(info.version).slice(0, 40)}`;
  };
  for (const t of tools) {
    const handler = async (args: Record<string, unknown>): Promise<CallToolResult> => {
      const warnings: string[] = [];
      try {
        const out = (await t.run(args as never, toolContext(options, client, warnings))) as Record<string, unknown>;
        return { structuredContent: out, content: [{ type: "text", text: textOf(out) }, ...warnings.map((w) => ({ type: "text" as const, text: `warning: ${w}` }))] };
      } catch (e) {
        if (!(e instanceof ExpflowError)) options.warn(`internal error in ${t.name}: ${e instanceof Error ? e.message : String(e)}`);
        return toolError(errorJson(e));
      }
    };
    server.registerTool(
      t.name,
      {
        title: t.title,
        description: t.description,
        inputSchema: t.input,
        outputSchema: t.output as never,
        annotations: { title: t.title, readOnlyHint: t.kind === "read", destructiveHint: false, idempotentHint: t.kind === "read", openWorldHint: false },
      },
      handler as never,
    );
  }
  registerResources(server, options, client);
  registerPrompts(server);

  const byName = new Map(tools.map((t) => [t.name, t]));
  const gate = async (name: string, args: unknown): Promise<GateDecision> => {
    const keys = pinKeys(args);
    if (keys.length > 0) {
      const ctx = toolContext(options, client, []);
      const target = args !== null && typeof args === "object" && typeof (args as Record<string, unknown>)["id"] === "string" ? String((args as Record<string, unknown>)["id"]).slice(0, 200) : name.slice(0, 200);
      const detail = `refused: a PIN-like argument (${keys.join(", ").slice(0, 300)}) was passed to the MCP tool by ${client()}; its value was not read`;
      try {
        await appendAudit((await ctx.config()).home, { action: `mcp.${name.slice(0, 100)}`, target, outcome: "denied", detail }, ctx.actor);
      } catch (e) {
        return { pass: false, result: toolError(errorJson(e)) };
      }
      return {
        pass: false,
        result: toolError({
          code: "E_PIN_IN_ARGUMENTS",
          message: `a PIN must never be passed to a tool (argument ${keys.join(", ")}); the attempt is recorded in the audit log and nothing was done`,
          hint: "destructive tools return an approval request: a human approves it with `expflow approve ID`, typing the PIN there",
        }),
      };
    }
    const t = byName.get(name);
    if (t === undefined) return { pass: true };
    const parsed = t.input.safeParse(args ?? {});
    if (parsed.success) return { pass: true };
    const issues = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "arguments"}: ${i.message}`).join("; ");
    const keysOf = Object.keys(t.input.shape);
    return {
      pass: false,
      result: toolError({ code: "E_USAGE", message: `invalid arguments for ${name}: ${issues}`, hint: keysOf.length === 0 ? `${name} takes no arguments` : `${name} takes: ${keysOf.join(", ")}` }),
    };
  };
  return { server, gate };
}

/** Serves expflow over stdio until the client closes the connection: nothing but the protocol on standard output. */
export async function serveStdio(options: McpOptions, selection: ToolSelection = {}): Promise<void> {
  const { server, gate } = createServer(options, selection);
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = () => resolve();
  });
  await server.connect(new GatedTransport(new StdioServerTransport(), gate));
  await closed;
}
