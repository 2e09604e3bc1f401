import type { ToolDefinition } from "./tools.js";
import { READ_WRITE_TOOLS } from "./tools.js";

/** Every tool of the server, in the order of the tool list: reads, writes, then the approval requests. */
export const ALL_TOOLS: readonly ToolDefinition[] = [...READ_WRITE_TOOLS];
