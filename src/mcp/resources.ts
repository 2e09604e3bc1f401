import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import { runRecord } from "../app/runs.js";
import { ExpflowError } from "../core/errors.js";
import type { McpOptions } from "./context.js";
import { toolContext } from "./context.js";
import { rankFor } from "./tools.js";

function json(uri: URL, value: unknown): ReadResourceResult {
  return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(value) }] };
}

function one(v: string | string[] | undefined): string {
  return decodeURIComponent(Array.isArray(v) ? (v[0] ?? "") : (v ?? ""));
}

/** An error of a resource read, as the protocol carries it: the code first, then the message and hint. */
function readError(e: unknown): Error {
  if (e instanceof ExpflowError) return new Error(`${e.code}: ${e.message}${e.hint ? ` (hint: ${e.hint})` : ""}`);
  return new Error(`E_INTERNAL: ${e instanceof Error ? e.message : String(e)}`);
}

/**
 * The resources: `expflow://experiment/{id}`, a run's latest record (`run status --json`), and
 * `expflow://ranking/{metric}`, the completed experiments of the local registry ranked by that
 * metric and gated by the registry's thresholds (`compare-scores --sort-by M --use-thresholds --json`).
 */
export function registerResources(server: McpServer, options: McpOptions, client: () => string): void {
  server.registerResource(
    "experiment",
    new ResourceTemplate("expflow://experiment/{id}", { list: undefined }),
    { title: "An experiment", description: "A run's latest record, as `expflow run status ID --json` prints it", mimeType: "application/json" },
    async (uri, vars) => {
      try {
        const ctx = toolContext(options, client, []);
        return json(uri, await runRecord(await ctx.local(), one(vars["id"]), { refresh: true, warn: ctx.warn }));
      } catch (e) {
        throw readError(e);
      }
    },
  );
  server.registerResource(
    "ranking",
    new ResourceTemplate("expflow://ranking/{metric}", { list: undefined }),
    { title: "A ranking", description: "The completed experiments ranked by the metric, gated by the registry's thresholds (RankingSchema)", mimeType: "application/json" },
    async (uri, vars) => {
      try {
        return json(uri, await rankFor({ sort_by: one(vars["metric"]), use_thresholds: true }, toolContext(options, client, [])));
      } catch (e) {
        throw readError(e);
      }
    },
  );
}
