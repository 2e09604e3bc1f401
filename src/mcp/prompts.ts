import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";

/** The prompts: ready-made workflows an agent's user can pick. */
export function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    "rank_and_audit_sweep",
    {
      title: "Rank and audit the latest sweep",
      description: "Rank a sweep's experiments by a metric with the registry's thresholds, then audit the best ones against the rule pack",
      argsSchema: {
        metric: z.string().describe("the metric to rank by, e.g. pde_mean"),
        tag: z.string().optional().describe("the sweep's tag"),
        project: z.string().optional().describe("the project (with clearml: the ClearML project)"),
        clearml: z.enum(["yes", "no"]).optional().describe("rank the tasks of a ClearML project"),
      },
    },
    ({ metric, tag, project, clearml }) => {
      const selection = [tag === undefined ? null : `tags ["${tag}"]`, project === undefined ? null : `project "${project}"`, clearml === "yes" ? "clearml true" : null].filter((s) => s !== null).join(", ");
      return {
        messages: [
          {
            role: "user",
            content: {
              type: "text",
              text: [
                `Rank and audit the latest sweep${selection === "" ? "" : ` (${selection})`}.`,
                `1. Call compare_scores with sort_by "${metric}", use_thresholds true${selection === "" ? "" : `, ${selection}`}. Say how many experiments pass and what the selection left out.`,
                "2. For the top three passing experiments, call audit_validate with each id and report every failed check.",
                "3. Summarise: the best experiment that passes both the gates and the audit, and what keeps the others out.",
                "Do not cancel, archive or delete anything; if something should be, say so and let a human decide.",
              ].join("\n"),
            },
          },
        ],
      };
    },
  );
  server.registerPrompt(
    "triage_failed_runs",
    {
      title: "Triage failed runs",
      description: "List the failed runs of a project, compare them with a completed one, and propose which to retry",
      argsSchema: { project: z.string().optional().describe("only runs of this project") },
    },
    ({ project }) => ({
      messages: [
        {
          role: "user",
          content: {
            type: "text",
            text: [
              `1. Call list_experiments with statuses ["failed"]${project === undefined ? "" : `, project "${project}"`}, and experiment_status for each to read its reason.`,
              "2. Call run_diff between a failed run and a completed one of the same command to see what differs.",
              "3. Propose which runs to retry and why; call retry_runs only for those whose failure was transient (interrupted agents, lost machines).",
            ].join("\n"),
          },
        },
      ],
    }),
  );
}
