import { APPROVAL_READ_TOOLS, APPROVAL_TOOLS } from "./approval-tools.js";
import type { ToolDefinition } from "./tools.js";
import { READ_WRITE_TOOLS } from "./tools.js";

/**
 * Every tool of the server, in the order of the tool list: the reads (those following approval
 * requests last), the non-destructive writes, then the destructive tools, which only request a
 * human's approval.
 */
export const ALL_TOOLS: readonly ToolDefinition[] = [
  ...READ_WRITE_TOOLS.filter((t) => t.kind === "read"),
  ...APPROVAL_READ_TOOLS,
  ...READ_WRITE_TOOLS.filter((t) => t.kind !== "read"),
  ...APPROVAL_TOOLS,
];
