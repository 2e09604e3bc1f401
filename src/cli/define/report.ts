/** The definition of `expflow report`; the implementation is `commands/report.ts`. */
import type { Command } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { commaList, rankingOptions, registryOption, verboseOption } from "./options.js";

/** A whole number from 0 up (`--history 0` reads no history). */
function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got '${value}'.`);
  return Number(value);
}

function declareReport(program: Command) {
  const cmd = registryOption(program.command("report").description("write a self-contained HTML leaderboard: the ranking table, a scatter plot with gate lines, parallel coordinates, step history"))
    .requiredOption("--html <file>", "the HTML file to write (- for standard output)")
    .option("--clearml", "rank the tasks of a ClearML project (--project) instead of the local registry")
    .option("--project <name>", "only experiments of this project (exact name; required with --clearml)")
    .option("--tags <a,b>", "only experiments carrying all of these tags", commaList)
    .option("--any-tag", "--tags means any of them rather than all (with --clearml)")
    .option("--status <s1,s2>", "rank the experiments in one of these states (default: completed)", commaList)
    .option("--include-archived", "include archived experiments (left out by default)")
    .option("--include-subprojects", "include the tasks of the project's subprojects (with --clearml)");
  return verboseOption(rankingOptions(cmd, "experiments"))
    .option("--x <metric>", "the scatter plot's x metric (default: the sort metric)")
    .option("--y <metric>", "the scatter plot's y metric (default: the first gated metric)")
    .option("--axes <m1,m2>", "the parallel-coordinates axes (default: the metrics the ranking names)", commaList)
    .option("--history <n>", "read the step history of the top n rows (default 20, at most 200)", wholeNumber)
    .option("--title <text>", "the page's title")
    .addHelpText(
      "after",
      `
Examples:
  expflow report --html report.html --registry examples/experiments.jsonl --sort-by pde_mean --use-thresholds
  expflow report --html report.html --sort-by pde_mean --gate pde_mean:lt:18.09 --x train_time_min --y pde_mean
  expflow report --html report.html --clearml --project PDEBench --sort-by pde_mean --use-thresholds

The page opens offline in any browser: scripts, styles and data are inside the file.
Every selection and ranking option means what it means for compare-scores.
Exit codes: 0 at least one experiment passes, 1 none does (the report is written either way),
2 usage or input error, 4 storage or ClearML failure (nothing is written).`,
    );
}

/** The options of `expflow report`, as parsed. */
export type ReportOptions = OptionsOf<ReturnType<typeof declareReport>>;

/** Adds `expflow report` to `program`. */
export function defineReport(program: Command, ctx: CommandContext, setExit: SetExit): void {
  declareReport(program).action(async (opts) => {
    const { reportCommand } = await import("../commands/report.js");
    setExit(await reportCommand(opts, ctx));
  });
}
