/** The definition of `expflow compare-scores`; the implementation is `commands/compare-scores.ts`. */
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { commaList, formatOptions, rankingOptions, registryOption, tableOptions } from "./options.js";

function declareCompareScores(program: Command) {
  const cmd = registryOption(program.command("compare-scores").description("rank experiments of the local registry by a metric and gate them"))
    .option("--project <name>", "only experiments of this project (exact name)")
    .option("--tags <a,b>", "only experiments carrying all of these tags", commaList)
    .option("--status <s1,s2>", "rank the experiments in one of these states (default: completed)", commaList)
    .option("--include-archived", "include archived experiments (left out by default)");
  return tableOptions(formatOptions(rankingOptions(cmd, "experiments"))).addHelpText(
    "after",
    `
Examples:
  expflow compare-scores --sort-by pde_mean --gate pde_mean:lt:18.09 --gate train_time_min:lt:60
  expflow compare-scores --registry examples/experiments.jsonl --tags task1 --sort-by seg_total --use-thresholds --json
  expflow compare-scores --sort-by pde_mean --status completed,running,failed,cancelled
  expflow compare-scores --sort-by pde_mean --use-thresholds --columns rank,name,pde_mean
  expflow compare-scores --pareto pde_mean:min,train_time_min:min --use-thresholds

Needs --sort-by or --pareto. With --pareto, the rank (FRONT) is the Pareto front among the
experiments passing every gate: 1 for those no other beats on every objective; a missing value
is worse than any. Only completed experiments are ranked unless --status names other states;
the summary counts those left out. Exit codes: 0 at least one experiment passes, 1 none does (or none is ranked),
2 usage or input error.
On a terminal the table fits its width (COLUMNS sets one for a pipe): long text
is cut with …, columns that still do not fit are left out and named; --wide
shows everything.`,
  );
}

/** The options of `expflow compare-scores`, as parsed. */
export type CompareScoresOptions = OptionsOf<ReturnType<typeof declareCompareScores>>;

/** Adds `expflow compare-scores` to `program`. */
export function defineCompareScores(program: Command, ctx: CommandContext, setExit: SetExit): void {
  declareCompareScores(program).action(async (opts) => {
    const { compareScoresCommand } = await import("../commands/compare-scores.js");
    setExit(await compareScoresCommand(opts, ctx));
  });
}
