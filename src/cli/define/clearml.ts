/** The definitions of `expflow clearml ...`; the implementations are in `commands/clearml.ts`. */
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { clearmlSelectionOptions, formatOptions, jsonOption, rankingOptions, tableOptions, verboseOption } from "./options.js";

function declareClearml(program: Command) {
  return program.command("clearml").description("experiments on a ClearML server: connection status, task listing, ranking with gates");
}

type Clearml = ReturnType<typeof declareClearml>;

function declareStatus(clearml: Clearml) {
  return verboseOption(jsonOption(clearml.command("status").description("the server, its API version, and whether the credentials work (exit 4 when not)"))).addHelpText(
    "after",
    `
The server and credentials come from CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and
CLEARML_API_SECRET_KEY, else from clearml.conf (CLEARML_CONFIG_FILE, else ~/clearml.conf).`,
  );
}

function declareCompareScores(clearml: Clearml) {
  const cmd = clearmlSelectionOptions(clearml.command("compare-scores").description("rank the tasks of a ClearML project by a metric and gate them"));
  return tableOptions(formatOptions(verboseOption(rankingOptions(cmd, "tasks")))).addHelpText(
    "after",
    `
Examples:
  expflow clearml compare-scores --project PDEBench --tags task1 --sort-by seg_total --gate pde_mean:lt:18.09
  expflow clearml compare-scores --project PDEBench --sort-by pde_mean --use-thresholds --only-passing --json
  expflow clearml compare-scores --project PDEBench --pareto seg_total:max,train_time_min:min

Needs --sort-by or --pareto; with --pareto the rank (FRONT) is the Pareto front among the
tasks passing every gate (see expflow compare-scores --help).
Only completed tasks (ClearML: completed, published, closed) are ranked unless --status names
other states; the summary counts those left out.
A metric reported under two titles (Score/seg_total and Loss/seg_total) must be named in full.
Exit codes: 0 at least one task passes, 1 none does, 2 usage or input error, 4 ClearML failure.`,
  );
}

function declareTasks(clearml: Clearml) {
  return tableOptions(formatOptions(verboseOption(clearmlSelectionOptions(clearml.command("tasks").description("list the tasks of a ClearML project with their status and standard metrics")))));
}

/** The options of `expflow clearml status`. */
export type ClearmlStatusOptions = OptionsOf<ReturnType<typeof declareStatus>>;
/** The options of `expflow clearml compare-scores`, as parsed. */
export type ClearmlCompareScoresOptions = OptionsOf<ReturnType<typeof declareCompareScores>>;
/** The options of `expflow clearml tasks`, as parsed. */
export type ClearmlTasksOptions = OptionsOf<ReturnType<typeof declareTasks>>;

/** Adds `expflow clearml` (status, compare-scores, tasks) to `program`. */
export function defineClearml(program: Command, ctx: CommandContext, setExit: SetExit): void {
  const clearml = declareClearml(program);
  declareStatus(clearml).action(async (opts) => {
    const { clearmlStatusCommand } = await import("../commands/clearml.js");
    setExit(await clearmlStatusCommand(opts, ctx));
  });
  declareCompareScores(clearml).action(async (opts) => {
    const { clearmlCompareScoresCommand } = await import("../commands/clearml.js");
    setExit(await clearmlCompareScoresCommand(opts, ctx));
  });
  declareTasks(clearml).action(async (opts) => {
    const { clearmlTasksCommand } = await import("../commands/clearml.js");
    setExit(await clearmlTasksCommand(opts, ctx));
  });
}
